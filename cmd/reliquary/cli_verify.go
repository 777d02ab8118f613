package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reliquary/reliquary/api/client"
	"github.com/reliquary/reliquary/api/wire"
	"github.com/reliquary/reliquary/internal/manifest"
	"github.com/reliquary/reliquary/internal/signing"
)

// trustedKeys returns the public keys signatures are checked against: the
// pinned --key file (one or more PEM blocks), else every key the server
// trusts (GET /signing/keys, falling back to /signing/key).
func trustedKeys(ctx context.Context, c *client.Client, keyFile string) ([][]byte, error) {
	var data []byte
	if keyFile != "" {
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, usageError{fmt.Errorf("--key: %w", err)}
		}
		data = b
	} else if keys, err := c.SigningKeys(ctx); err == nil && len(keys) > 0 {
		for _, k := range keys {
			data = append(data, k.PublicKey...)
		}
	} else if data, err = c.SigningKey(ctx); err != nil {
		return nil, fmt.Errorf("fetch the server's signing key: %w", err)
	}
	var out [][]byte
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		out = append(out, pem.EncodeToMemory(b))
	}
	if len(out) == 0 {
		if keyFile != "" {
			return nil, usageError{fmt.Errorf("--key %s holds no PEM public key", keyFile)}
		}
		return nil, errors.New("the server's signing key is not a PEM public key")
	}
	return out, nil
}

// verifyAny checks a base64 signature over a SHA-256 digest against the
// keys; what names the signed thing in the error.
func verifyAny(keys [][]byte, digest []byte, sigText, what string) error {
	sig, err := signing.DecodeSignature([]byte(sigText))
	if err != nil {
		return verifyFailed(what, "%v", err)
	}
	var errs []error
	for _, k := range keys {
		err := signing.VerifyDigestWithPEM(k, digest, sig)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return verifyFailed(what, "no trusted key verifies it (%v)", errors.Join(errs...))
}

// verifiedManifest fetches a release's manifest and its signature, checks
// the signature, parses it strictly and checks it describes r. digest,
// when not empty, is the "sha256:<hex>" the release records.
func verifiedManifest(ctx context.Context, c *client.Client, r ref, keys [][]byte, digest string) (manifest.ReleaseManifest, error) {
	const what = "manifest"
	body, err := c.Manifest(ctx, r.product, r.version)
	if client.HasCode(err, wire.CodeIntegrity) {
		return manifest.ReleaseManifest{}, verifyFailed(what, "the server reports its stored manifest of %s is corrupt: %v", r, err)
	}
	if err != nil {
		return manifest.ReleaseManifest{}, fmt.Errorf("fetch the manifest of %s: %w", r, err)
	}
	sig, err := c.ManifestSignature(ctx, r.product, r.version)
	if err != nil {
		return manifest.ReleaseManifest{}, fmt.Errorf("fetch the manifest signature of %s: %w", r, err)
	}
	sum := sha256.Sum256(body)
	if err := verifyAny(keys, sum[:], sig, "manifest signature"); err != nil {
		return manifest.ReleaseManifest{}, err
	}
	if digest != "" && digest != "sha256:"+hex.EncodeToString(sum[:]) {
		return manifest.ReleaseManifest{}, verifyFailed(what, "its sha256 is %x, the release records %s", sum, digest)
	}
	m, err := manifest.ParseReleaseManifest(body)
	if err != nil {
		return manifest.ReleaseManifest{}, verifyFailed(what, "%v", err)
	}
	if m.Product != r.product || m.Version != r.version {
		return manifest.ReleaseManifest{}, verifyFailed(what, "it describes %s@%s, not %s", m.Product, m.Version, r)
	}
	return m, nil
}

func manifestArtifact(m manifest.ReleaseManifest, name string) (manifest.ManifestArtifact, bool) {
	for _, a := range m.Artifacts {
		if a.Name == name {
			return a, true
		}
	}
	return manifest.ManifestArtifact{}, false
}

// check is one line of verify's report.
type check struct {
	Check   string `json:"check"`
	Subject string `json:"subject"`
	OK      bool   `json:"ok"`
	Detail  string `json:"detail,omitempty"`
}

func newVerifyCmd(o *cliOpts) *cobra.Command {
	var file, artifact, keyFile string
	var st statementFlags // the release statement (cli_statement.go)
	cmd := &cobra.Command{
		Use:   "verify <product>@<version> [--file <path> [--artifact <name>]] [--key <pem>]",
		Short: "Prove a release (or a downloaded file) is exactly what was sealed",
		Long: `Check a sealed release: the manifest's signature, each artifact's SHA-256 against the signed
manifest, and each artifact's own signature. Without --file every artifact is downloaded and
hashed (nothing is written to disk); with --file a local copy is checked instead, as artifact
--artifact (default: the file's base name).

Signatures are checked against the pinned public key --key (PEM), or else the keys the server
publishes (/signing/keys). A failed check exits with code 3 and names what failed.`,
		Example: `  reliquary verify hr@1.2.0
  reliquary verify hr@1.2.0 --file /opt/hr/hr.tar.gz --key reliquary.pub
  reliquary verify hr@1.2.0 --file ./download.bin --artifact hr-linux-amd64.tar.gz -o json`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			r, err := parseRef(a[0], true)
			if err != nil {
				return err
			}
			if artifact != "" && file == "" {
				return usageError{errors.New("--artifact needs --file")}
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			// Said first, whatever the checks below conclude: a withdrawn
			// release's signatures may still verify, but it must not run.
			if rel, err := c.Release(cmd.Context(), r.product, r.version); err == nil && rel.State == client.StateWithdrawn {
				fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: %s is WITHDRAWN%s: its signatures prove origin only, not that it may be installed.\n",
					r, withdrawnReason(rel))
			}
			if err := verifyStatement(cmd, o, c, r, keyFile, &st); err != nil {
				return err
			}
			return runVerify(cmd, o, c, r, file, artifact, keyFile)
		},
	}
	st.bind(cmd, true)
	fl := cmd.Flags()
	fl.StringVar(&file, "file", "", "check this local file instead of downloading the artifacts")
	fl.StringVar(&artifact, "artifact", "", "the artifact --file is a copy of (default: its base name)")
	fl.StringVar(&keyFile, "key", "", "PEM public key to trust (default: the server's keys)")
	return o.bind(cmd)
}

func runVerify(cmd *cobra.Command, o *cliOpts, c *client.Client, r ref, file, artifact, keyFile string) error {
	ctx := cmd.Context()
	keys, err := trustedKeys(ctx, c, keyFile)
	if err != nil {
		return err
	}
	rel, err := c.Release(ctx, r.product, r.version)
	if err != nil {
		return err
	}
	if rel.State == client.StateDraft {
		return fmt.Errorf("%s is a draft: it has no signed manifest until it is sealed", r)
	}
	var checks []check
	var failed []string
	record := func(name, subject string, err error) {
		ch := check{Check: name, Subject: subject, OK: err == nil}
		if err != nil {
			var ve *verificationError
			if !errors.As(err, &ve) {
				ch.Detail = err.Error()
			} else {
				ch.Detail = ve.Err.Error()
			}
			failed = append(failed, name+" of "+subject)
		}
		checks = append(checks, ch)
	}
	m, err := verifiedManifest(ctx, c, r, keys, rel.ManifestDigest)
	if err == nil {
		err = checkBinding(r, m)
	}
	var ve *verificationError
	if err != nil && !errors.As(err, &ve) {
		return err
	}
	record("manifest signature", r.String(), err)
	if err == nil {
		if file != "" {
			name := artifact
			if name == "" {
				name = filepath.Base(file)
			}
			err = verifyOne(ctx, c, r, m, keys, name, file, nil, record)
		} else {
			var total int64
			for _, ma := range m.Artifacts {
				total += ma.Size
			}
			prog := o.newProgress(cmd, "verify "+r.String(), total, len(m.Artifacts))
			for i, ma := range m.Artifacts {
				if err = verifyOne(ctx, c, r, m, keys, ma.Name, "", func(n int64) { prog.set(i, n) }, record); err != nil {
					break
				}
			}
			prog.finish(err == nil)
			for _, ra := range rel.Artifacts {
				if _, ok := manifestArtifact(m, ra.Name); !ok {
					record("listed in manifest", "artifact "+ra.Name, verifyFailed("artifact "+ra.Name, "the release lists it, the signed manifest does not"))
				}
			}
		}
		if err != nil {
			return err
		}
	}
	if emitErr := o.emit(cmd, checks, func(w io.Writer) {
		fmt.Fprintln(w, "CHECK\tSUBJECT\tRESULT")
		for _, ch := range checks {
			res := "ok"
			if !ch.OK {
				res = "FAILED: " + ch.Detail
			}
			fmt.Fprintf(w, "%s\t%s\t%s\n", ch.Check, ch.Subject, res)
		}
	}); emitErr != nil {
		return emitErr
	}
	if len(failed) > 0 {
		return &verificationError{What: strings.Join(failed, "; "), Err: fmt.Errorf("%s is not what was sealed", r)}
	}
	return nil
}

// verifyOne checks one artifact, from file or downloaded, and records the
// digest and signature checks. It returns only errors that are not
// verification failures (a network error, a missing file).
func verifyOne(ctx context.Context, c *client.Client, r ref, m manifest.ReleaseManifest, keys [][]byte, name, file string,
	progress func(int64), record func(string, string, error)) error {
	subject := "artifact " + name
	ma, ok := manifestArtifact(m, name)
	if !ok {
		record("digest", subject, verifyFailed(subject, "not in the signed manifest of %s", r))
		return nil
	}
	h := sha256.New()
	var n int64
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		if n, err = io.Copy(h, f); err != nil {
			return err
		}
	} else {
		cw := &countWriter{w: h, progress: progress}
		if _, err := c.DownloadTo(ctx, r.product, r.version, name, writerAtFunc(cw), 0, nil); err != nil {
			return err
		}
		n = cw.n
	}
	sum := h.Sum(nil)
	var derr error
	if got := hex.EncodeToString(sum); got != ma.SHA256 || n != ma.Size {
		derr = verifyFailed(subject, "sha256 %s (%d bytes), the manifest says %s (%d bytes)", got, n, ma.SHA256, ma.Size)
	}
	record("digest", subject, derr)
	sig, err := c.ArtifactSignature(ctx, r.product, r.version, name)
	if err != nil {
		return err
	}
	record("signature", subject, verifyAny(keys, sum, sig, subject+" signature"))
	return nil
}

// countWriter counts and forwards sequential writes.
type countWriter struct {
	w        io.Writer
	n        int64
	progress func(int64)
}

// writerAtFunc adapts a sequential writer for DownloadTo: writes must
// arrive in order (a resumed download continues at the last byte), else
// the hash would be wrong, so an out-of-order write is refused.
func writerAtFunc(cw *countWriter) io.WriterAt { return seqWriterAt{cw} }

type seqWriterAt struct{ cw *countWriter }

func (s seqWriterAt) WriteAt(p []byte, off int64) (int, error) {
	if off != s.cw.n {
		return 0, fmt.Errorf("out-of-order write at %d, expected %d", off, s.cw.n)
	}
	k, err := s.cw.w.Write(p)
	s.cw.n += int64(k)
	if s.cw.progress != nil {
		s.cw.progress(s.cw.n)
	}
	return k, err
}
