package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/reliquary/reliquary/api/client"
	"github.com/reliquary/reliquary/api/wire"
	"github.com/reliquary/reliquary/internal/index"
	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/manifest"
	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/internal/transparency"
	"github.com/reliquary/reliquary/storage"
)

// Release statements and the signed log on the installer's side (DESIGN
// §12): get and verify require a signed statement that the release was
// released (or approved, with --min-state approved), whose event is in a
// checkpoint signed by a trusted key; --log-state remembers the last
// checkpoint seen and refuses a log that forked or rolled back.

// statementFlags are the flags get and verify share.
type statementFlags struct {
	minState string
	logState string
}

func (s *statementFlags) bind(cmd *cobra.Command, withMinState bool) {
	if withMinState {
		cmd.Flags().StringVar(&s.minState, "min-state", "", "least mature state accepted: released (default) or approved")
	}
	cmd.Flags().StringVar(&s.logState, "log-state", "", "file remembering the last signed checkpoint seen: a log inconsistent with it (fork, rollback) is refused")
}

// trustedKeyring is the keyring of the trusted PEM keys.
func trustedKeyring(keys [][]byte) (*signing.Keyring, error) {
	kr, err := signing.NewKeyring(nil, keys...)
	if err != nil {
		return nil, verifyFailed("trusted keys", "%v", err)
	}
	return kr, nil
}

// requireStatement fetches and verifies the release's latest statement: its
// signature, its event's inclusion in a signed checkpoint, that it is about
// r and the verified manifest m, and that its state is released (or
// approved when minState is approved).
func requireStatement(ctx context.Context, c *client.Client, r ref, keys [][]byte, m manifest.ReleaseManifest, minState, logState string) (*transparency.Verified, error) {
	const what = "release statement"
	kr, err := trustedKeyring(keys)
	if err != nil {
		return nil, err
	}
	env, err := c.ReleaseStatement(ctx, r.product, r.version)
	if client.HasCode(err, wire.CodeStatementNotFound) {
		return nil, verifyFailed(what, "%s has no signed release statement: it was never approved", r)
	}
	if err != nil {
		return nil, fmt.Errorf("fetch the release statement of %s: %w", r, err)
	}
	cps := transparency.NewVerifier(kr, "")
	v, err := transparency.VerifyStatement(ctx, env, kr, cps)
	if err != nil {
		return nil, verifyFailed(what, "%v", err)
	}
	if v.Predicate.Product != r.product || v.Predicate.Version != r.version {
		return nil, verifyFailed(what, "it is about %s@%s, not %s", v.Predicate.Product, v.Predicate.Version, r)
	}
	body, err := m.Marshal()
	if err != nil {
		return nil, verifyFailed(what, "%v", err)
	}
	if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != v.ManifestDigest {
		return nil, verifyFailed(what, "it names manifest sha256 %s, the signed manifest is %x", v.ManifestDigest, sum)
	}
	switch v.Predicate.State {
	case client.StateReleased:
	case client.StateApproved:
		if minState != client.StateApproved {
			return nil, verifyFailed(what, "%s is only approved (seq %d), not released: pass --min-state approved to accept it", r, v.Predicate.Seq)
		}
	case client.StateWithdrawn:
		if minState != client.StateWithdrawn { // get --allow-withdrawn, for forensics only
			return nil, verifyFailed(what, "%s is withdrawn (seq %d, change %q): refused", r, v.Predicate.Seq, v.Predicate.ChangeID)
		}
	default:
		return nil, verifyFailed(what, "%s is %s (seq %d, change %q): refused", r, v.Predicate.State, v.Predicate.Seq, v.Predicate.ChangeID)
	}
	if logState != "" {
		if err := checkLogState(ctx, c, cps, v.Checkpoint, logState); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// checkLogState checks the server's latest checkpoint against the one
// remembered in path and against seen (a statement's), then remembers the
// latest. Every pair must be consistent: the older tree a prefix of the
// newer, proved by a consistency proof.
func checkLogState(ctx context.Context, c *client.Client, cps *transparency.Verifier, seen transparency.Checkpoint, path string) error {
	const what = "signed log"
	note, err := c.LogCheckpoint(ctx)
	if err != nil {
		return fmt.Errorf("fetch the log's checkpoint: %w", err)
	}
	latest, err := cps.Verify(note)
	if err != nil {
		return verifyFailed(what, "the server's checkpoint: %v", err)
	}
	check := func(old transparency.Checkpoint, label string) error {
		if old.Origin != latest.Origin {
			return verifyFailed(what, "%s is of log %q, the server's of %q", label, old.Origin, latest.Origin)
		}
		if old.Size > latest.Size {
			return verifyFailed(what, "rollback: %s has %d events, the server's log only %d", label, old.Size, latest.Size)
		}
		hashes, err := c.ConsistencyProof(ctx, old.Size, latest.Size)
		if err != nil {
			return fmt.Errorf("fetch a consistency proof %d → %d: %w", old.Size, latest.Size, err)
		}
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, old.Size, latest.Size, hashes, old.Hash, latest.Hash); err != nil {
			return verifyFailed(what, "fork: %s (%d events) is not a prefix of the server's log (%d events): %v", label, old.Size, latest.Size, err)
		}
		return nil
	}
	if seen.Note != nil {
		if err := check(seen, "the statement's checkpoint"); err != nil {
			return err
		}
	}
	stored, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("--log-state: %w", err)
	default:
		old, err := cps.Verify(stored)
		if err != nil {
			return verifyFailed(what, "--log-state %s: %v", path, err)
		}
		if err := check(old, "the checkpoint remembered in "+path); err != nil {
			return err
		}
	}
	return writeFileAtomic(path, latest.Note)
}

// writeFileAtomic replaces path with data (temp file, fsync, rename).
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// readKeyFiles reads the PEM key files of --key and --retired-keys.
func readKeyFiles(key string, retired []string) ([][]byte, error) {
	var out [][]byte
	for _, f := range append([]string{key}, retired...) {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, usageError{err}
		}
		out = append(out, b)
	}
	return out, nil
}

// verifiedBucketReader reads the journal mirror of a store through the
// signed log's checks: every checkpoint in journal/checkpoints/ must be
// signed by one of keys, and every event must match them.
func verifiedBucketReader(ctx context.Context, store storage.BlobStore, keys [][]byte) (func() (*journal.Event, error), int, error) {
	kr, err := signing.NewKeyring(nil, keys...)
	if err != nil {
		return nil, 0, usageError{fmt.Errorf("--key: %w", err)}
	}
	cps, err := transparency.BucketCheckpoints(ctx, store, transparency.NewVerifier(kr, ""))
	if err != nil {
		return nil, 0, err
	}
	next, err := journal.ReadMirror(ctx, store)
	if err != nil {
		return nil, 0, err
	}
	return transparency.VerifyingReader(next, cps), len(cps), nil
}

func newLogCmd(o *cliOpts) *cobra.Command {
	cmd := &cobra.Command{Use: "log", Short: "Check the library's signed log (checkpoints and proofs)"}
	var sc storeCmd
	var fromBucket bool
	var keyFile, logState string
	var retired []string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Verify the signed log from a server or from the bucket",
		Long: `From a server (default): fetch the latest checkpoint, check its signature against --key (or
the server's keys), and with --log-state check that it is consistent with the checkpoint seen
last (a consistency proof from the server), then remember it.

With --from-bucket: read every checkpoint in journal/checkpoints/ and every event of the journal
mirror from the store, check each checkpoint's signature against --key (and --retired-keys) and
the events against them: forged, edited, reordered or missing events are reported with the first
bad seq. Exit code 0: intact; 1: broken; 3: a signature failed.`,
		Example: `  reliquary log verify --key reliquary.pub --log-state ~/.reliquary-log
  reliquary log verify --from-bucket --key reliquary.pub --storage s3 --s3-endpoint minio:9000 --s3-bucket releases`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if fromBucket {
				if keyFile == "" {
					return usageError{errors.New("--from-bucket needs --key (the public key the checkpoints must be signed with)")}
				}
				keys, err := readKeyFiles(keyFile, retired)
				if err != nil {
					return err
				}
				store, closeStore, err := sc.open(cmd)
				if err != nil {
					return err
				}
				defer closeStore()
				next, n, err := verifiedBucketReader(ctx, store, keys)
				if err != nil {
					return err
				}
				rep, err := journal.VerifyStream(ctx, next)
				if err != nil {
					return err
				}
				printJSON(cmd.OutOrStdout(), struct {
					journal.VerifyReport
					Checkpoints int `json:"checkpoints"`
				}{rep, n})
				if !rep.OK {
					return fmt.Errorf("journal broken at seq %d: %s", rep.BrokenSeq, rep.Reason)
				}
				return nil
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			keys, err := trustedKeys(ctx, c, keyFile)
			if err != nil {
				return err
			}
			kr, err := trustedKeyring(keys)
			if err != nil {
				return err
			}
			cps := transparency.NewVerifier(kr, "")
			note, err := c.LogCheckpoint(ctx)
			if err != nil {
				return err
			}
			cp, err := cps.Verify(note)
			if err != nil {
				return verifyFailed("checkpoint", "%v", err)
			}
			if logState != "" {
				if err := checkLogState(ctx, c, cps, cp, logState); err != nil {
					return err
				}
			}
			out := struct {
				OK     bool   `json:"ok"`
				Origin string `json:"origin"`
				Size   uint64 `json:"size"`
				Root   string `json:"root_hash"`
				KeyID  string `json:"key_id"`
			}{true, cp.Origin, cp.Size, hex.EncodeToString(cp.Hash), cp.KeyID}
			return o.emit(cmd, out, func(w io.Writer) {
				fmt.Fprintf(w, "checkpoint of %s verified: %d events, root %x, signed by key %s\n", cp.Origin, cp.Size, cp.Hash, cp.KeyID)
			})
		},
	}
	sc.bind(verify)
	verify.Flags().BoolVar(&fromBucket, "from-bucket", false, "verify the checkpoints and journal mirror in the store")
	verify.Flags().StringVar(&keyFile, "key", "", "PEM public key the checkpoints must be signed with")
	verify.Flags().StringSliceVar(&retired, "retired-keys", nil, "PEM public keys of rotated-out signing keys (comma-separated files)")
	verify.Flags().StringVar(&logState, "log-state", "", "file remembering the last checkpoint seen (server mode)")
	cmd.AddCommand(verify)
	return o.bind(cmd)
}

// verifyStatement is verify's statement check, before its other checks:
// the release must have a statement saying released (or approved with
// --min-state approved) about the manifest whose signature verifies.
func verifyStatement(cmd *cobra.Command, o *cliOpts, c *client.Client, r ref, keyFile string, st *statementFlags) error {
	if st.minState != "" && st.minState != client.StateReleased && st.minState != client.StateApproved {
		return usageError{fmt.Errorf("--min-state %q: use released or approved", st.minState)}
	}
	ctx := cmd.Context()
	keys, err := trustedKeys(ctx, c, keyFile)
	if err != nil {
		return err
	}
	m, err := verifiedManifest(ctx, c, r, keys, "")
	if err != nil {
		return err
	}
	v, err := requireStatement(ctx, c, r, keys, m, st.minState, st.logState)
	if err != nil {
		return err
	}
	o.info(cmd, "release statement verified: %s is %s (seq %d in a checkpoint of %d events signed by key %s)",
		r, v.Predicate.State, v.Predicate.Seq, v.Checkpoint.Size, v.KeyID)
	return nil
}

// signedLogFlags are the verified-recovery flags of audit verify and index
// rebuild.
type signedLogFlags struct {
	key     string
	retired []string
	deep    bool
}

func (s *signedLogFlags) bind(cmd *cobra.Command, withDeep bool) {
	cmd.Flags().StringVar(&s.key, "key", "", "with --from-bucket: PEM public key every checkpoint in journal/checkpoints/ must be signed with; each event is checked against them")
	cmd.Flags().StringSliceVar(&s.retired, "retired-keys", nil, "with --key: PEM public keys of rotated-out signing keys (comma-separated files)")
	if withDeep {
		cmd.Flags().BoolVar(&s.deep, "deep", false, "also replay the journal into a scratch index and compare it with the index (finds edits made to index.db directly)")
	}
}

// mirrorReader reads the store's journal mirror: through the signed log's
// checks when --key is set.
func (s *signedLogFlags) mirrorReader(ctx context.Context, store storage.BlobStore) (func() (*journal.Event, error), error) {
	if s.deep {
		return nil, usageError{errors.New("--deep replays an index's journal and compares it with the index: use it without --from-bucket")}
	}
	if s.key == "" {
		if len(s.retired) > 0 {
			return nil, usageError{errors.New("--retired-keys needs --key")}
		}
		return journal.ReadMirror(ctx, store)
	}
	keys, err := readKeyFiles(s.key, s.retired)
	if err != nil {
		return nil, err
	}
	next, _, err := verifiedBucketReader(ctx, store, keys)
	return next, err
}

// deepVerify replays the index's journal into a scratch index and compares.
func deepVerify(cmd *cobra.Command, ix *index.Index, rep journal.VerifyReport) error {
	deep, err := ix.VerifyDeep("")
	if err != nil {
		return err
	}
	printJSON(cmd.OutOrStdout(), struct {
		journal.VerifyReport
		Deep index.DeepReport `json:"deep"`
	}{rep, deep})
	if !deep.OK {
		if deep.Bucket != "" {
			return fmt.Errorf("the index differs from its journal's replay: bucket %s key %s: %s", deep.Bucket, deep.Key, deep.Reason)
		}
		return fmt.Errorf("the journal does not replay: %s", deep.Reason)
	}
	return nil
}

// indexMode refuses the bucket-only flags when an index file is verified.
func (s *signedLogFlags) indexMode() error {
	if s.key != "" || len(s.retired) > 0 {
		return usageError{errors.New("--key and --retired-keys check the bucket's signed checkpoints: use them with --from-bucket")}
	}
	return nil
}
