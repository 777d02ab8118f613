package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/reliquary/reliquary/api/client"
)

type getFlags struct {
	os, arch, dir, keyFile, minState string
	current                          bool
	logState                         string // the signed log (cli_statement.go)
	target, environment              string // rollouts (cli_rollout.go)
	allowWithdrawn                   bool   // forensics (cli_get_skip.go)
}

// installed is one file get put in place.
type installed struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// PartSuffix ends the name of a download in progress in the target
// directory: .<name>.part, resumed by the next get.
const PartSuffix = ".part"

// partName is the part file's name inside the target directory.
func partName(name string) string { return "." + name + PartSuffix }

func newGetCmd(o *cliOpts) *cobra.Command {
	var f getFlags
	cmd := &cobra.Command{
		Use:   "get <product>[@<constraint>] [-d dir]",
		Short: "Resolve, download and verify a release's artifacts (installers)",
		Long: `Resolve the highest released version matching the constraint (SemVer: ^1, ~1.2, >=1.2 <2, an exact
version; none: any) with builds for the platform, download its artifacts into the directory and
verify them: the manifest's signature, each artifact's SHA-256 against the signed manifest, and
each artifact's signature, against the pinned public key --key (PEM) or else the server's keys.

Files are downloaded as .<name>.part in the directory and renamed into place only once every one
of them has verified. An interrupted download is resumed with Range, by the command itself and by
the next get. On any verification failure get exits with code 3 and leaves nothing behind.

--os and --arch default to this machine's platform; artifacts without a platform always match;
"any" matches every platform.`,
		Example: `  reliquary get hr@^1 -d /opt/hr
  reliquary get hr@1.2.3 --os linux --arch arm64 -d ./dist --key /etc/reliquary/key.pub
  reliquary get hr@'>=2.0.0-0' --min-state approved -d ./pilot     # pilots take approved releases
  reliquary get hr -o json`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			r, err := parseRef(a[0], false)
			if err != nil {
				return err
			}
			if f.minState != "" && f.minState != client.StateReleased && f.minState != client.StateApproved {
				return usageError{fmt.Errorf("--min-state %q: use released or approved", f.minState)}
			}
			return runGet(cmd, o, &f, r)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.os, "os", runtime.GOOS, `operating system of the builds to fetch ("any": every)`)
	fl.StringVar(&f.arch, "arch", runtime.GOARCH, `architecture of the builds to fetch ("any": every)`)
	fl.StringVarP(&f.dir, "dir", "d", ".", "directory to install the files into (created when missing)")
	fl.StringVar(&f.keyFile, "key", "", "PEM public key to trust (default: the server's keys)")
	fl.StringVar(&f.minState, "min-state", "", "least mature state accepted: released (default) or approved")
	fl.BoolVar(&f.current, "current", false, "only a current release (skip superseded maintenance versions)")
	fl.StringVar(&f.logState, "log-state", "", "file remembering the last signed checkpoint seen: a log inconsistent with it (fork, rollback) is refused")
	fl.StringVar(&f.target, "target", defaultTarget(), `this installer's target for rollouts (default: /etc/machine-id, else the host name; "" for none)`)
	fl.StringVar(&f.environment, "environment", "", "environment this installer deploys to (rollouts to it apply)")
	fl.BoolVar(&f.allowWithdrawn, "allow-withdrawn", false, "forensics: fetch a withdrawn release, by exact version only, with a warning")
	return o.bind(cmd)
}

func anyPlatform(s string) string {
	if s == "any" {
		return ""
	}
	return s
}

func runGet(cmd *cobra.Command, o *cliOpts, f *getFlags, r ref) error {
	c, err := o.client()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	res, err := resolveForGet(cmd, c, f, r) // cli_get_skip.go: --allow-withdrawn
	if err != nil {
		return err
	}
	rel := res.Release
	exact := ref{product: rel.Product, version: rel.Version}
	names := make([]string, len(res.Artifacts))
	for i, a := range res.Artifacts {
		names[i] = a.Name
	}
	if err := checkArtifactNames(names); err != nil {
		return err
	}
	if len(res.Artifacts) == 0 {
		return fmt.Errorf("%s has no artifacts for %s/%s", exact, dash(f.os), dash(f.arch))
	}
	o.info(cmd, "resolved %s to %s (%s)", r, exact.version, rel.State)
	if res.Required {
		o.info(cmd, "note: %s is required: its rollout deadline has passed", exact)
	}
	if rel.SupersededBy != "" {
		o.info(cmd, "note: %s is superseded by %s", exact, rel.SupersededBy)
	}
	keys, err := trustedKeys(ctx, c, f.keyFile)
	if err != nil {
		return err
	}
	m, err := verifiedManifest(ctx, c, exact, keys, rel.ManifestDigest)
	if err != nil {
		return err
	}
	if err := checkBinding(r, m); err != nil {
		return err
	}
	minState := f.minState
	if f.allowWithdrawn && rel.State == client.StateWithdrawn {
		minState = client.StateWithdrawn // a signed statement that it was withdrawn
	}
	if _, err := requireStatement(ctx, c, exact, keys, m, minState, f.logState); err != nil {
		return err
	}
	for _, a := range res.Artifacts {
		ma, ok := manifestArtifact(m, a.Name)
		if !ok {
			return verifyFailed("artifact "+a.Name, "not in the signed manifest of %s", exact)
		}
		if ma.SHA256 != a.SHA256 || ma.Size != a.Size {
			return verifyFailed("artifact "+a.Name, "the server lists sha256 %s (%d bytes), the signed manifest %s (%d bytes)", a.SHA256, a.Size, ma.SHA256, ma.Size)
		}
	}
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		return err
	}
	// Every file is written through a root at -d: no name can reach out.
	root, err := os.OpenRoot(f.dir)
	if err != nil {
		return err
	}
	defer root.Close()

	// Download every artifact into its part file, then verify all.
	var total int64
	for _, a := range res.Artifacts {
		total += a.Size
	}
	prog := o.newProgress(cmd, "get "+exact.String(), total, len(res.Artifacts))
	parts := make([]string, len(res.Artifacts))
	have := make([]bool, len(res.Artifacts))    // already installed with the right digest
	resumed := make([]bool, len(res.Artifacts)) // a previous run's part file was resumed
	removeParts := func() {
		for _, p := range parts {
			if p != "" {
				root.Remove(p)
			}
		}
	}
	for i, a := range res.Artifacts {
		if have[i] = installedAlready(root, a.Name, a.Size, a.SHA256); have[i] {
			o.info(cmd, "%s is already in %s with the right digest: not downloaded", a.Name, f.dir)
			prog.set(i, a.Size)
			continue
		}
		parts[i] = partName(a.Name)
		resumed[i] = partStarted(root, parts[i])
		if err := downloadPart(cmd, c, exact, root, a.Name, a.Size, parts[i], func(n int64) { prog.set(i, n) }); err != nil {
			prog.finish(false)
			var ve *verificationError
			if errors.As(err, &ve) {
				removeParts()
			} else {
				o.info(cmd, "partial downloads are kept in %s as .<name>%s: run get again to resume", f.dir, PartSuffix)
			}
			return err
		}
	}
	prog.finish(true)
	var files []installed
	for i, a := range res.Artifacts {
		src := parts[i]
		if have[i] {
			src = a.Name
		}
		sum, err := fileSHA256(root, src)
		if err != nil {
			removeParts()
			return err
		}
		if hex.EncodeToString(sum) != a.SHA256 && resumed[i] {
			// A resumed .part that fails: its old bytes were not a prefix of
			// this artifact. Download it whole once more.
			o.info(cmd, "%s: the resumed partial download does not verify; downloading it again", a.Name)
			if sum, err = restartPart(cmd, c, exact, root, a.Name, a.Size, parts[i]); err != nil {
				removeParts()
				return err
			}
		}
		if hex.EncodeToString(sum) != a.SHA256 {
			removeParts()
			return verifyFailed("artifact "+a.Name+" digest", "downloaded sha256 %x, the signed manifest says %s", sum, a.SHA256)
		}
		sig, err := c.ArtifactSignature(ctx, exact.product, exact.version, a.Name)
		if err != nil {
			removeParts()
			return err
		}
		if err := verifyAny(keys, sum, sig, "artifact "+a.Name+" signature"); err != nil {
			removeParts()
			return err
		}
		files = append(files, installed{Name: a.Name, Path: filepath.Join(f.dir, a.Name), Size: a.Size, SHA256: a.SHA256})
	}
	// Everything verified: move into place.
	for i := range files {
		if have[i] {
			continue
		}
		if err := root.Rename(parts[i], files[i].Name); err != nil {
			removeParts()
			return err
		}
		parts[i] = ""
	}
	out := struct {
		Product        string      `json:"product"`
		Version        string      `json:"version"`
		State          string      `json:"state"`
		SupersededBy   string      `json:"superseded_by,omitempty"`
		ManifestDigest string      `json:"manifest_digest"`
		Verified       bool        `json:"verified"`
		Files          []installed `json:"files"`
	}{rel.Product, rel.Version, rel.State, rel.SupersededBy, rel.ManifestDigest, true, files}
	return o.emit(cmd, out, func(w io.Writer) {
		fmt.Fprintf(w, "installed %s@%s (%s), verified\n", rel.Product, rel.Version, rel.State)
		fmt.Fprintln(w, "FILE\tSIZE\tSHA256")
		for _, fi := range files {
			fmt.Fprintf(w, "%s\t%s\t%s\n", fi.Path, humanBytes(fi.Size), fi.SHA256)
		}
	})
}

// downloadPart downloads an artifact into the part file at path, resuming
// after the bytes a previous run left there.
func downloadPart(cmd *cobra.Command, c *client.Client, r ref, root *os.Root, name string, size int64, path string, progress func(int64)) error {
	fh, err := root.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return err
	}
	offset := st.Size()
	if offset > size { // not a prefix of this artifact: start again
		if err := fh.Truncate(0); err != nil {
			return err
		}
		offset = 0
	}
	n, err := c.DownloadTo(cmd.Context(), r.product, r.version, name, fh, offset, func(done, _ int64) { progress(done) })
	if err != nil {
		return err
	}
	if n != size {
		return verifyFailed("artifact "+name+" size", "downloaded %d bytes, the signed manifest says %d", n, size)
	}
	if err := fh.Truncate(n); err != nil {
		return err
	}
	return fh.Sync()
}

func fileSHA256(root *os.Root, path string) ([]byte, error) {
	fh, err := root.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}
