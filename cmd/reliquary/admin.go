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
	audit := &cobra.Command{Use: "audit", Short: "Work with the hash-chained journal",
		Example: `  reliquary audit verify                       # the data directory's index (server stopped)
  reliquary audit verify --index backup.db -o table
  reliquary audit verify --from-bucket --storage s3 --s3-endpoint minio:9000 --s3-bucket releases
  reliquary events --follow                     # the journal of a running server, as a feed`}
	var sc storeCmd
	var indexFile string
	var fromBucket bool
	var sl signedLogFlags // --key, --retired-keys, --deep (cli_statement.go)
	var vo adminOutput
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
			if err := vo.check(); err != nil {
				return err
			}
			switch {
			case vo.json():
				printJSON(cmd.OutOrStdout(), rep)
			case !vo.quiet && rep.OK:
				fmt.Fprintf(cmd.OutOrStdout(), "journal intact: %d events, head %d %s\n", rep.Events, rep.HeadSeq, rep.HeadHash)
			}
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
	vo.bind(verify, "json")
	audit.AddCommand(verify)
	return audit
}

func newIndexCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "index", Short: "Maintain the bbolt index",
		Example: `  reliquary backup index-$(date +%F).db          # a hot copy from a running server
  mv reliquary-data/index.db reliquary-data/index.db.broken
  reliquary index rebuild --from-bucket --storage s3 --s3-endpoint minio:9000 --s3-bucket releases
  reliquary index rebuild --from-bucket --out /tmp/check.db -o json`}
	var sc storeCmd
	var fromBucket bool
	var out string
	var sl signedLogFlags // --key, --retired-keys (cli_statement.go)
	var ro adminOutput
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
			if err := ro.check(); err != nil {
				return err
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
			switch {
			case ro.json():
				printJSON(cmd.OutOrStdout(), map[string]any{"index": out, "events": n, "seconds": el.Seconds()})
			case !ro.quiet:
				fmt.Fprintf(cmd.OutOrStdout(), "rebuilt %s from %d events in %s (%.0f events/s)\n", out, n, el.Round(time.Millisecond), float64(n)/el.Seconds())
			}
			return nil
		},
	}
	sc.bind(rebuild)
	rebuild.Flags().BoolVar(&fromBucket, "from-bucket", false, "read the journal mirror from the store")
	rebuild.Flags().StringVar(&out, "out", "", "where to write the new index (default <data-dir>/index.db)")
	sl.bind(rebuild, false)
	ro.bind(rebuild, "table")
	cmd.AddCommand(rebuild)
	return cmd
}

func newFsckCmd() *cobra.Command {
	var sc storeCmd
	var o fsck.Options
	var asJSON bool
	var fo adminOutput
	cmd := &cobra.Command{
		Use:   "fsck",
		Short: "Check the index against the store",
		Long: `Check that every object the index names exists with its size (--deep: and its digest),
and that no object under products/ is unnamed (an orphan, e.g. an upload cut by a crash).
--repair first applies the changes the bucket's journal holds beyond the index (committed
before a crash, not yet applied), then removes orphans and partial writes only, never data the
index names. Run it with the server stopped. Exit code 0: nothing found; 1: something was found (repaired or not).`,
		Example: `  reliquary fsck
  reliquary fsck --deep --repair --data-dir /var/lib/reliquary
  reliquary fsck -o json | jq '.findings[]'
  reliquary fsck -q && echo consistent`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := fo.check(); err != nil {
				return err
			}
			asJSON = asJSON || fo.json()
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
			if o.Repair {
				// The bucket's journal is the commit point (DESIGN §9): a
				// change committed there but not yet applied (a crash in
				// between) names its objects; apply it first, or they
				// would look like orphans.
				if _, err := journal.CatchUp(cmd.Context(), store, ix); err != nil {
					return fmt.Errorf("fsck --repair: catch up from the bucket's journal first: %w", err)
				}
			}
			rep, err := fsck.Run(cmd.Context(), ix, store, o)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				printJSON(w, rep)
			} else if !fo.quiet {
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
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON (same as -o json)")
	fo.bind(cmd, "table")
	return cmd
}

func newBackupCmd() *cobra.Command {
	var url, token string
	var bo adminOutput
	cmd := &cobra.Command{
		Use:   "backup <file>",
		Short: "Take a hot, consistent copy of a running server's index",
		Long: `Download a consistent copy of the index (one bbolt read transaction) from a running server
(GET /api/v1/admin/backup, admin token) into <file>, written whole or not at all.`,
		Example: `  RELIQUARY_URL=http://127.0.0.1:8080 RELIQUARY_TOKEN=rlq_... reliquary backup index-$(date +%F).db
  reliquary backup index.db -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bo.check(); err != nil {
				return err
			}
			if url == "" {
				url = os.Getenv("RELIQUARY_URL")
			}
			if token == "" {
				token = os.Getenv("RELIQUARY_TOKEN")
			}
			if url == "" {
				url = "http://127.0.0.1:8080"
			}
			sum, err := backup(cmd.Context(), strings.TrimRight(url, "/"), token, args[0])
			if err != nil {
				return err
			}
			switch {
			case bo.json():
				printJSON(cmd.OutOrStdout(), sum)
			case !bo.quiet:
				fmt.Fprintf(cmd.OutOrStdout(), "backed up %d bytes to %s: %d events, head %d, journal intact\n", sum.Bytes, sum.File, sum.Events, sum.HeadSeq)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "server URL (default $RELIQUARY_URL)")
	cmd.Flags().StringVar(&token, "token", "", "admin token (default $RELIQUARY_TOKEN)")
	bo.bind(cmd, "table")
	return cmd
}

// backupSummary is what `reliquary backup` reports.
type backupSummary struct {
	File     string `json:"file"`
	Bytes    int64  `json:"bytes"`
	Events   uint64 `json:"events"`
	HeadSeq  uint64 `json:"head_seq"`
	HeadHash string `json:"head_hash"`
}

// adminOutput is -o and -q of the offline tools, as the client commands
// have them.
type adminOutput struct {
	output string
	quiet  bool
}

func (a *adminOutput) bind(cmd *cobra.Command, def string) {
	cmd.Flags().StringVarP(&a.output, "output", "o", def, "output format: table (for people) or json (for machines)")
	cmd.Flags().BoolVarP(&a.quiet, "quiet", "q", false, "print nothing but errors (the exit code tells)")
}

func (a *adminOutput) check() error {
	if a.output != "table" && a.output != "json" {
		return usageError{fmt.Errorf("--output %q: use table or json", a.output)}
	}
	return nil
}

func (a *adminOutput) json() bool { return a.output == "json" }

func backup(ctx context.Context, url, token, file string) (*backupSummary, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/v1/admin/backup", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("backup: server answered %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".backup-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, resp.Body)
	if err != nil {
		tmp.Close()
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	// The copy must open and verify before it replaces anything.
	ix, err := index.Open(tmp.Name(), index.Options{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("backup is not a readable index: %w", err)
	}
	rep, err := ix.VerifyJournal()
	ix.Close()
	if err != nil || !rep.OK {
		return nil, fmt.Errorf("backup journal does not verify: %+v %v", rep, err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return nil, err
	}
	return &backupSummary{File: file, Bytes: n, Events: rep.Events, HeadSeq: rep.HeadSeq, HeadHash: rep.HeadHash}, nil
}
