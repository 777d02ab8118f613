package client

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// UploadInput describes one artifact upload.
type UploadInput struct {
	Product, Version, Name string
	// Body is streamed as the request body. It is re-sent on a retry only
	// when it is an io.Seeker (an *os.File is); otherwise one attempt is made.
	Body io.Reader
	// Size is the exact number of bytes Body yields.
	Size int64
	// SHA256 is the hex digest of the bytes, sent ahead as Content-Digest so
	// the server refuses (400 DIGEST_MISMATCH) and keeps nothing of bytes
	// that arrive different. Empty: none is sent.
	SHA256 string
	// OS and Arch mark a platform build; MediaType is the Content-Type
	// (empty: the server guesses from the name).
	OS, Arch, MediaType string
	// Progress, when set, is called with the bytes sent so far in the
	// current attempt (it starts again at 0 on a retry).
	Progress func(sent int64)
}

// Upload streams an artifact into a draft release (publisher). created is
// false when the server already held exactly these bytes (a retry); other
// bytes under the name answer a *Error with Code "ARTIFACT_EXISTS". Besides
// 502/503/504 and connection errors, a seekable upload is retried on 429
// TOO_MANY_UPLOADS (the token's upload slots are full), and on 409
// UPLOAD_IN_PROGRESS after a failed attempt (the server may still be
// letting go of the cut-off one); other 4xx never.
func (c *Client) Upload(ctx context.Context, in UploadInput) (a *Artifact, created bool, err error) {
	if in.Body == nil || in.Size < 0 {
		return nil, false, errors.New("upload: Body and a Size >= 0 are required")
	}
	h := http.Header{}
	if in.SHA256 != "" {
		sum, err := hex.DecodeString(in.SHA256)
		if err != nil || len(sum) != sha256.Size {
			return nil, false, fmt.Errorf("upload %s: SHA256 %q is not 64 hex digits", in.Name, in.SHA256)
		}
		h.Set("Content-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum)+":")
	}
	ct := in.MediaType
	if ct == "" {
		ct = "application/octet-stream"
		if guessed := mimeByName(in.Name); guessed != "" {
			ct = guessed
		}
	}
	h.Set("Content-Type", ct)
	q := url.Values{}
	if in.OS != "" {
		q.Set("os", in.OS)
	}
	if in.Arch != "" {
		q.Set("arch", in.Arch)
	}
	seeker, retryable := in.Body.(io.Seeker)
	var start int64
	if retryable {
		if start, err = seeker.Seek(0, io.SeekCurrent); err != nil {
			retryable = false
		}
	}
	first := true
	r := &request{method: http.MethodPut, path: artifactPath(in.Product, in.Version, in.Name), query: q, header: h,
		retryable: retryable, retryCodes: []string{"TOO_MANY_UPLOADS"}, retryCodesAfterFailure: []string{"UPLOAD_IN_PROGRESS"}, ok: []int{http.StatusOK, http.StatusCreated},
		body: func() (io.Reader, int64, error) {
			if !first {
				if _, err := seeker.Seek(start, io.SeekStart); err != nil {
					return nil, 0, err
				}
			}
			first = false
			if in.Progress != nil {
				in.Progress(0)
			}
			// The wrapper hides Close: the transport must not close a file
			// that a retry reads again.
			return &countingReader{r: io.LimitReader(in.Body, in.Size), progress: in.Progress}, in.Size, nil
		}}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, false, fmt.Errorf("upload %s: %w", in.Name, err)
	}
	defer resp.Body.Close()
	var out Artifact
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, false, fmt.Errorf("upload %s: decode answer: %w", in.Name, err)
	}
	return &out, resp.StatusCode == http.StatusCreated, nil
}

// UploadFile uploads the file at path: Name defaults to its base name,
// Size is its size, SHA256 is computed first when empty. The file is
// re-read from the start on a retry.
func (c *Client) UploadFile(ctx context.Context, in UploadInput, path string) (*Artifact, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	if in.Name == "" {
		in.Name = filepath.Base(path)
	}
	if in.SHA256 == "" {
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return nil, false, fmt.Errorf("hash %s: %w", path, err)
		}
		in.SHA256 = hex.EncodeToString(h.Sum(nil))
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, false, err
		}
	}
	in.Body, in.Size = f, st.Size()
	return c.Upload(ctx, in)
}

type countingReader struct {
	r        io.Reader
	n        int64
	progress func(int64)
}

func (cr *countingReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	cr.n += int64(n)
	if n > 0 && cr.progress != nil {
		cr.progress(cr.n)
	}
	return n, err
}

func mimeByName(name string) string {
	switch {
	case strings.HasSuffix(name, ".tar.gz"), strings.HasSuffix(name, ".tgz"):
		return "application/gzip"
	case strings.HasSuffix(name, ".zip"):
		return "application/zip"
	case strings.HasSuffix(name, ".json"):
		return "application/json"
	}
	return ""
}

// DeleteArtifact deletes an artifact of a draft (publisher).
func (c *Client) DeleteArtifact(ctx context.Context, product, version, name string) error {
	return c.doJSON(ctx, &request{method: http.MethodDelete, path: artifactPath(product, version, name)}, nil)
}

// Download is an artifact download in progress: Body holds the bytes from
// Offset on. The caller closes Body.
type Download struct {
	Body io.ReadCloser
	// Status is 200 (the whole artifact) or 206 (from Offset).
	Status int
	Offset int64
	// Size is the whole artifact's size, -1 when the server did not say.
	Size int64
	// SHA256 is the artifact's hex digest as the server declares it
	// (ETag / Repr-Digest): what it should be, not proof of what arrives.
	SHA256 string
	// Warning is the server's Warning header, set for withdrawn and
	// superseded releases.
	Warning string
}

// Download starts a download of an artifact from offset (0: the whole).
// ifRange, when not empty, is the ETag the range is valid for; a server
// whose artifact changed answers the whole (Status 200, Offset 0).
func (c *Client) Download(ctx context.Context, product, version, name string, offset int64, ifRange string) (*Download, error) {
	h := http.Header{"Accept": {"*/*"}}
	if offset > 0 {
		h.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
		if ifRange != "" {
			h.Set("If-Range", ifRange)
		}
	}
	resp, err := c.do(ctx, &request{method: http.MethodGet, path: artifactPath(product, version, name), header: h,
		retryable: true, ok: []int{http.StatusOK, http.StatusPartialContent}})
	if err != nil {
		return nil, err
	}
	d := &Download{Body: resp.Body, Status: resp.StatusCode, Size: -1, Warning: resp.Header.Get("Warning"),
		SHA256: strings.Trim(resp.Header.Get("ETag"), `"`)}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		var first, last, size int64
		if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-%d/%d", &first, &last, &size); err != nil || first != offset {
			resp.Body.Close()
			return nil, fmt.Errorf("download %s: bad Content-Range %q for offset %d", name, resp.Header.Get("Content-Range"), offset)
		}
		d.Offset, d.Size = first, size
	default:
		d.Size = resp.ContentLength
	}
	return d, nil
}

// HeadArtifact returns an artifact's size, digest and warning without its
// bytes (Body is empty).
func (c *Client) HeadArtifact(ctx context.Context, product, version, name string) (*Download, error) {
	resp, err := c.do(ctx, &request{method: http.MethodHead, path: artifactPath(product, version, name), retryable: true,
		header: http.Header{"Accept": {"*/*"}}})
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return &Download{Body: http.NoBody, Status: resp.StatusCode, Size: resp.ContentLength,
		SHA256: strings.Trim(resp.Header.Get("ETag"), `"`), Warning: resp.Header.Get("Warning")}, nil
}

// DownloadTo writes an artifact into w from offset on (the bytes before
// offset are taken to be there already: resume a partial file by passing
// its length). A connection that breaks mid-way is resumed with Range from
// the last byte written, up to the client's retry count in a row without
// progress. progress, when set, is called with the bytes present and the
// total. It returns the artifact's size. It does not check the digest:
// hash what w holds and compare it with the signed manifest.
func (c *Client) DownloadTo(ctx context.Context, product, version, name string, w io.WriterAt, offset int64, progress func(done, total int64)) (int64, error) {
	pos, etag, failures := offset, "", 0
	buf := make([]byte, 256<<10)
	for {
		if pos > 0 && etag == "" { // resuming a partial file: is anything missing?
			if d, err := c.HeadArtifact(ctx, product, version, name); err == nil && d.Size >= 0 {
				if d.SHA256 != "" {
					etag = `"` + d.SHA256 + `"`
				}
				if pos == d.Size {
					return pos, nil // already complete
				}
				if pos > d.Size {
					pos = 0 // longer than the artifact: start again
				}
			}
		}
		d, err := c.Download(ctx, product, version, name, pos, etag)
		if err != nil {
			return pos, fmt.Errorf("download %s: %w", name, err)
		}
		if etag == "" && d.SHA256 != "" {
			etag = `"` + d.SHA256 + `"`
		}
		pos = d.Offset
		total := d.Size
		got, rerr := copyAt(w, d.Body, pos, buf, func(n int64) {
			if progress != nil {
				progress(pos+n, total)
			}
		})
		d.Body.Close()
		pos += got
		if rerr == nil && total >= 0 && pos < total {
			rerr = io.ErrUnexpectedEOF
		}
		if rerr == nil {
			return pos, nil
		}
		var werr *writeError
		if errors.As(rerr, &werr) || ctx.Err() != nil {
			return pos, fmt.Errorf("download %s: %w", name, rerr)
		}
		if got > 0 {
			failures = 0
		}
		failures++
		if failures > c.retries {
			return pos, fmt.Errorf("download %s: interrupted at byte %d: %w", name, pos, rerr)
		}
		if err := c.wait(ctx, failures-1, ""); err != nil {
			return pos, fmt.Errorf("download %s: %w", name, errors.Join(rerr, err))
		}
	}
}

type writeError struct{ err error }

func (e *writeError) Error() string { return "write: " + e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// copyAt copies r into w at off and returns the bytes written.
func copyAt(w io.WriterAt, r io.Reader, off int64, buf []byte, progress func(int64)) (int64, error) {
	var n int64
	for {
		k, err := r.Read(buf)
		if k > 0 {
			if _, werr := w.WriteAt(buf[:k], off+n); werr != nil {
				return n, &writeError{werr}
			}
			n += int64(k)
			progress(n)
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
