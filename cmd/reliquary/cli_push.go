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
	"sync"

	"github.com/spf13/cobra"

	"github.com/reliquary/reliquary/api/client"
	"github.com/reliquary/reliquary/api/wire"
	"github.com/reliquary/reliquary/internal/library"
)

type pushFlags struct {
	os, arch, changeID, notes, mediaType string
	ciIDs, labels                        []string
	seal                                 bool
	parallel                             int
}

// pushFile is one file to push.
type pushFile struct {
	path, name, sha256 string
	size               int64
}

// pushResult is one uploaded artifact in the output.
type pushResult struct {
	client.Artifact
	// Status is "created", "unchanged" (the same bytes were there already).
	Status string `json:"status"`
}

func newPushCmd(o *cliOpts) *cobra.Command {
	var f pushFlags
	cmd := &cobra.Command{
		Use:   "push <product>@<version> <files...>",
		Short: "Upload files as the artifacts of a release (CI)",
		Long: `Upload files as the artifacts of a release, creating the draft release when it does not exist
yet (an existing draft is added to). Files are hashed first and their SHA-256 is sent ahead of the
bytes, so the server refuses and keeps nothing of a corrupted upload; uploads run in parallel and
are retried on transient failures (a retried upload of the same bytes is idempotent). A file
already in the draft with the same bytes is skipped. With --seal the release is sealed afterwards:
its artifact set is frozen and its signed manifest written.

Artifact names are the files' base names. --os and --arch mark every file as a build for that
platform.

The version is strict SemVer; a "v" prefix as CI tags carry (hr@v1.2.0) is accepted and dropped.
The ITIL release type follows from the version: X.0.0 is a major release, X.Y.0 a minor one, and
any X.Y.Z with Z > 0 an emergency fix: a patch version is always an emergency release (a
product's policy may refuse a type: 409 TYPE_NOT_ALLOWED), and once released it supersedes the
earlier fixes of its X.Y. Labels are key=value (or key:value).`,
		Example: `  reliquary push hr@1.2.0 dist/hr.tar.gz --change-id CHG-1042 --seal
  reliquary push hr@$CI_COMMIT_TAG dist/hr.tar.gz    # v1.2.0 is stored as 1.2.0
  reliquary push hr@1.2.0 dist/hr-linux-amd64.tar.gz --os linux --arch amd64
  reliquary push hr@1.2.0 a.zip b.zip --label branch=main --ci-id CI-HR -o json`,
		Args: args(cobra.MinimumNArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			r, err := parseRef(a[0], true)
			if err != nil {
				return err
			}
			return runPush(cmd, o, &f, r, a[1:])
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.os, "os", "", "operating system of the builds (e.g. linux)")
	fl.StringVar(&f.arch, "arch", "", "architecture of the builds (e.g. amd64)")
	fl.StringVar(&f.changeID, "change-id", "", "change (RFC) that authorises the release, when it is created")
	fl.StringSliceVar(&f.ciIDs, "ci-id", nil, "configuration item the release implements (repeatable)")
	fl.StringArrayVar(&f.labels, "label", nil, "label key=value (or key:value) of a new release (repeatable)")
	fl.StringVar(&f.notes, "notes", "", "release notes of a new release")
	fl.StringVar(&f.mediaType, "media-type", "", "Content-Type of the files (default: guessed by the server)")
	fl.BoolVar(&f.seal, "seal", false, "seal the release after the upload")
	fl.IntVar(&f.parallel, "parallel", 4, "uploads at a time")
	return o.bind(cmd)
}

func runPush(cmd *cobra.Command, o *cliOpts, f *pushFlags, r ref, paths []string) error {
	labels := map[string]string{}
	for _, l := range f.labels {
		k, v, ok := library.CutLabel(l)
		if !ok || k == "" {
			return usageError{fmt.Errorf("--label %q: expected key=value (or key:value)", l)}
		}
		labels[k] = v
	}
	if f.parallel < 1 {
		return usageError{errors.New("--parallel must be at least 1")}
	}
	files, err := statFiles(paths)
	if err != nil {
		return err
	}
	c, err := o.client()
	if err != nil {
		return err
	}
	if c, err = o.oidcFallback(cmd, c, r.product); err != nil { // trusted publishing (cli_login.go)
		return err
	}
	ctx := cmd.Context()

	if err := hashFiles(files, f.parallel); err != nil {
		return err
	}
	rel, err := c.CreateRelease(ctx, r.product, client.ReleaseInput{Version: r.version, ChangeID: f.changeID,
		CIIDs: f.ciIDs, Labels: labels, Notes: f.notes})
	switch {
	case err == nil:
		o.info(cmd, "created draft release %s", r)
	case client.HasCode(err, wire.CodeReleaseExists):
		if rel, err = c.Release(ctx, r.product, r.version); err != nil {
			return err
		}
		o.info(cmd, "release %s exists (%s)", r, rel.State)
	default:
		return fmt.Errorf("create release %s: %w", r, err)
	}

	have := map[string]client.Artifact{}
	for _, a := range rel.Artifacts {
		have[a.Name] = a
	}
	var results []pushResult
	var todo []pushFile
	for _, pf := range files {
		if a, ok := have[pf.name]; ok && a.SHA256 == pf.sha256 {
			results = append(results, pushResult{Artifact: a, Status: "unchanged"})
			continue
		}
		if rel.State != client.StateDraft {
			return fmt.Errorf("%s is %s: its artifacts are frozen, and %s is not among them with these bytes", r, rel.State, pf.name)
		}
		todo = append(todo, pf)
	}
	uploaded, err := uploadAll(cmd, o, c, r, f, todo)
	results = append(results, uploaded...)
	if err != nil {
		return err
	}
	if f.seal && rel.State == client.StateDraft {
		if rel, err = c.Seal(ctx, r.product, r.version, ""); err != nil {
			return fmt.Errorf("seal %s: %w", r, err)
		}
		o.info(cmd, "sealed %s (manifest %s)", r, rel.ManifestDigest)
	}
	if !f.seal {
		if rel, err = c.Release(ctx, r.product, r.version); err != nil {
			return err
		}
	}
	out := struct {
		Release   *client.Release `json:"release"`
		Artifacts []pushResult    `json:"artifacts"`
	}{rel, results}
	return o.emit(cmd, out, func(w io.Writer) {
		fmt.Fprintln(w, "ARTIFACT\tSIZE\tSHA256\tOS/ARCH\tSTATUS")
		for _, p := range results {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s/%s\t%s\n", p.Name, humanBytes(p.Size), short(p.SHA256), dash(p.OS), dash(p.Arch), p.Status)
		}
		fmt.Fprintf(w, "\n%s@%s is %s\n", rel.Product, rel.Version, rel.State)
	})
}

// statFiles checks the files exist and their names are distinct.
func statFiles(paths []string) ([]pushFile, error) {
	seen := map[string]string{}
	var files []pushFile
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.Mode().IsRegular() {
			return nil, usageError{fmt.Errorf("%s is not a regular file", p)}
		}
		name := filepath.Base(p)
		if prev, ok := seen[name]; ok {
			return nil, usageError{fmt.Errorf("%s and %s would both be artifact %q", prev, p, name)}
		}
		seen[name] = p
		files = append(files, pushFile{path: p, name: name, size: st.Size()})
	}
	return files, nil
}

// hashFiles computes every file's SHA-256, n at a time.
func hashFiles(files []pushFile, n int) error {
	return forEach(len(files), n, func(i int) error {
		fh, err := os.Open(files[i].path)
		if err != nil {
			return err
		}
		defer fh.Close()
		h := sha256.New()
		if _, err := io.Copy(h, fh); err != nil {
			return fmt.Errorf("hash %s: %w", files[i].path, err)
		}
		files[i].sha256 = hex.EncodeToString(h.Sum(nil))
		return nil
	})
}

func uploadAll(cmd *cobra.Command, o *cliOpts, c *client.Client, r ref, f *pushFlags, files []pushFile) ([]pushResult, error) {
	if len(files) == 0 {
		return nil, nil
	}
	var total int64
	for _, pf := range files {
		total += pf.size
	}
	prog := o.newProgress(cmd, fmt.Sprintf("push %s (%d files)", r, len(files)), total, len(files))
	results := make([]*pushResult, len(files))
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	err := forEach(len(files), f.parallel, func(i int) error {
		pf := files[i]
		a, created, err := c.UploadFile(ctx, client.UploadInput{Product: r.product, Version: r.version, Name: pf.name,
			SHA256: pf.sha256, OS: f.os, Arch: f.arch, MediaType: f.mediaType,
			Progress: func(n int64) { prog.set(i, n) }}, pf.path)
		if err != nil {
			cancel() // one failure stops the others: the command fails anyway
			return err
		}
		if a.SHA256 != pf.sha256 {
			return verifyFailed("artifact "+pf.name+" digest", "server stored sha256 %s, the file has %s", a.SHA256, pf.sha256)
		}
		status := "unchanged"
		if created {
			status = "created"
		}
		results[i] = &pushResult{Artifact: *a, Status: status}
		return nil
	})
	prog.finish(err == nil)
	var out []pushResult
	for _, p := range results {
		if p != nil {
			out = append(out, *p)
		}
	}
	return out, err
}

// forEach runs fn(0..n-1), at most par at a time, and joins the errors
// (context cancellations caused by an earlier failure are left out).
func forEach(n, par int, fn func(i int) error) error {
	sem := make(chan struct{}, par)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = fn(i)
		})
	}
	wg.Wait()
	var first []error
	for _, e := range errs {
		if e != nil && (len(first) == 0 || !errors.Is(e, context.Canceled)) {
			first = append(first, e)
		}
	}
	return errors.Join(first...)
}
