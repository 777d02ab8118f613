package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/reliquary/reliquary/internal/fsck"
	"github.com/reliquary/reliquary/internal/index"
	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/storage"
)

// errFound is returned (exit 1) when a check found something.
var errFound = errors.New("inconsistencies found")

// storeCmd gives a command the store flags and opens the store.
type storeCmd struct {
	cfg        serveConfig
	configFile string
}

func (s *storeCmd) bind(cmd *cobra.Command) {
	s.cfg.bindStoreFlags(cmd.Flags())
	cmd.Flags().StringVar(&s.configFile, "config", "", "YAML file with the same setting names as the flags")
}

func (s *storeCmd) open(cmd *cobra.Command) (storage.BlobStore, func() error, error) {
	if err := s.cfg.fill(cmd, s.configFile); err != nil {
		return nil, nil, usageError{err}
	}
	if err := s.cfg.validateStore(); err != nil {
		return nil, nil, usageError{err}
	}
	s.cfg.LogFormat, s.cfg.LogLevel = "text", "warn"
	return openStore(cmd.Context(), &s.cfg, newLogger(&s.cfg))
}

func (s *storeCmd) indexPath() string { return filepath.Join(s.cfg.DataDir, "index.db") }

func printJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func newAuditCmd() *cobra.Command {
	audit := &cobra.Command{Use: "audit", Short: "Work with the hash-chained journal"}
	var sc storeCmd
	var indexFile string
	var fromBucket bool
	var sl signedLogFlags // --key, --retired-keys, --deep (cli_statement.go)
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Verify the journal's hash chain offline",
		Long: `Recompute the journal's hash chain from an index file (a copy, a backup, or the data
directory's own index while the server is stopped) or from the bucket mirror, and report the
first broken sequence number. Exit code 0: intact; 1: broken.`,
		Example: `  reliquary audit verify --index backup.db
  reliquary audit verify --from-bucket --storage s3 --s3-endpoint minio:9000 --s3-bucket releases`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rep journal.VerifyReport
			switch {
			case fromBucket:
				store, closeStore, err := sc.open(cmd)
				if err != nil {
					return err
				}
				defer closeStore()
				next, err := sl.mirrorReader(cmd.Context(), store)
				if err != nil {
					return err
				}
				if rep, err = journal.VerifyStream(cmd.Context(), next); err != nil {
					return err
				}
			default:
				if err := sl.indexMode(); err != nil {
					return err
				}
				path := indexFile
				if path == "" {
					if err := sc.cfg.fill(cmd, sc.configFile); err != nil {
						return usageError{err}
					}
					path = sc.indexPath()
				}
				ix, err := index.Open(path, index.Options{ReadOnly: true, Timeout: 2 * time.Second})
				if err != nil {
					return err
				}
				defer ix.Close()
				if rep, err = ix.VerifyJournal(); err != nil {
					return err
				}
				if rep.OK && sl.deep {
					return deepVerify(cmd, ix, rep)
				}
			}
			printJSON(cmd.OutOrStdout(), rep)
			if !rep.OK {
				return fmt.Errorf("journal broken at seq %d: %s", rep.BrokenSeq, rep.Reason)
			}
			return nil
		},
	}
	sc.bind(verify)
	verify.Flags().StringVar(&indexFile, "index", "", "index file to verify (default: <data-dir>/index.db)")
	verify.Flags().BoolVar(&fromBucket, "from-bucket", false, "verify the journal mirror in the store instead of an index")
	sl.bind(verify, true)
	audit.AddCommand(verify)
	return audit
}

func newIndexCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "index", Short: "Maintain the bbolt index"}
	var sc storeCmd
	var fromBucket bool
	var out string
	var sl signedLogFlags // --key, --retired-keys (cli_statement.go)
	rebuild := &cobra.Command{
		Use:   "rebuild --from-bucket",
		Short: "Build a fresh index from the bucket alone",
		Long: `Rebuild the index from the journal mirror in the store (journal/<seq>.json): every event's
hash chain is verified and its index changes replayed. The new index is written to --out
(default <data-dir>/index.db, which must not exist: move the old one away first). Webhooks are
not in the journal (their secrets never leave the index) and must be registered again.`,
		Example: `  mv reliquary-data/index.db reliquary-data/index.db.broken
  reliquary index rebuild --from-bucket --storage s3 --s3-endpoint minio:9000 --s3-bucket releases`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !fromBucket {
				return usageError{errors.New("rebuild needs --from-bucket (the only source there is)")}
			}
			store, closeStore, err := sc.open(cmd)
			if err != nil {
				return err
			}
			defer closeStore()
			if out == "" {
				out = sc.indexPath()
			}
			start := time.Now()
			next, err := sl.mirrorReader(cmd.Context(), store)
			if err != nil {
				return err
			}
			n, err := index.Rebuild(out, next)
			if err != nil {
				return err
			}
			el := time.Since(start)
			fmt.Fprintf(cmd.OutOrStdout(), "rebuilt %s from %d events in %s (%.0f events/s)\n", out, n, el.Round(time.Millisecond), float64(n)/el.Seconds())
			return nil
		},
	}
	sc.bind(rebuild)
	rebuild.Flags().BoolVar(&fromBucket, "from-bucket", false, "read the journal mirror from the store")
	rebuild.Flags().StringVar(&out, "out", "", "where to write the new index (default <data-dir>/index.db)")
	sl.bind(rebuild, false)
	cmd.AddCommand(rebuild)
	return cmd
}

func newFsckCmd() *cobra.Command {
	var sc storeCmd
	var o fsck.Options
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "fsck",
		Short: "Check the index against the store",
		Long: `Check that every object the index names exists with its size (--deep: and its digest),
and that no object under products/ is unnamed (an orphan, e.g. an upload cut by a crash).
--repair removes orphans and partial writes only, never data the index names. Run it with the
server stopped. Exit code 0: nothing found; 1: something was found (repaired or not).`,
		Example: `  reliquary fsck
  reliquary fsck --deep --repair --data-dir /var/lib/reliquary`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, closeStore, err := sc.open(cmd)
			if err != nil {
				return err
			}
			defer closeStore()
			ix, err := index.Open(sc.indexPath(), index.Options{ReadOnly: !o.Repair, Timeout: 2 * time.Second})
			if err != nil {
				return err
			}
			defer ix.Close()
			rep, err := fsck.Run(cmd.Context(), ix, store, o)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				printJSON(w, rep)
			} else {
				for _, f := range rep.Findings {
					state := ""
					if f.Repaired {
						state = " (repaired)"
					}
					fmt.Fprintf(w, "%-16s %s: %s%s\n", f.Kind, f.Key, f.Detail, state)
				}
				fmt.Fprintf(w, "%d objects checked, %d findings\n", rep.Objects, len(rep.Findings))
			}
			if !rep.Clean() {
				return errFound
			}
			return nil
		},
	}
	sc.bind(cmd)
	cmd.Flags().BoolVar(&o.Deep, "deep", false, "re-hash every artifact and manifest")
	cmd.Flags().BoolVar(&o.Repair, "repair", false, "remove orphans and partial writes")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func newBackupCmd() *cobra.Command {
	var url, token string
	cmd := &cobra.Command{
		Use:   "backup <file>",
		Short: "Take a hot, consistent copy of a running server's index",
		Long: `Download a consistent copy of the index (one bbolt read transaction) from a running server
(GET /api/v1/admin/backup, admin token) into <file>, written whole or not at all.`,
		Example: `  RELIQUARY_URL=http://127.0.0.1:8080 RELIQUARY_TOKEN=rlq_... reliquary backup index-$(date +%F).db`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if url == "" {
				url = os.Getenv("RELIQUARY_URL")
			}
			if token == "" {
				token = os.Getenv("RELIQUARY_TOKEN")
			}
			if url == "" {
				url = "http://127.0.0.1:8080"
			}
			return backup(cmd.Context(), strings.TrimRight(url, "/"), token, args[0])
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "server URL (default $RELIQUARY_URL)")
	cmd.Flags().StringVar(&token, "token", "", "admin token (default $RELIQUARY_TOKEN)")
	return cmd
}

func backup(ctx context.Context, url, token, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/v1/admin/backup", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("backup: server answered %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".backup-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, resp.Body); err != nil {
		tmp.Close()
		return fmt.Errorf("backup: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// The copy must open and verify before it replaces anything.
	ix, err := index.Open(tmp.Name(), index.Options{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("backup is not a readable index: %w", err)
	}
	rep, err := ix.VerifyJournal()
	ix.Close()
	if err != nil || !rep.OK {
		return fmt.Errorf("backup journal does not verify: %+v %v", rep, err)
	}
	return os.Rename(tmp.Name(), file)
}
