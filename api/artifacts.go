package api

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/storage"
)

func (s *Server) uploadArtifact(c *gin.Context) {
	expected, err := ParseExpectedDigest(c.GetHeader("Content-Digest"), c.GetHeader("X-Checksum-Sha256"))
	if err != nil {
		writeError(c, http.StatusBadRequest, CodeInvalidDigestHeader, err.Error(), nil)
		return
	}
	a, created, err := s.lib.Upload(c, principal(c), library.UploadInput{
		Product: c.Param("product"), Version: c.Param("version"), Name: c.Param("name"),
		OS: c.Query("os"), Arch: c.Query("arch"), MediaType: c.GetHeader("Content-Type"),
		Size: c.Request.ContentLength, ExpectedSHA256: expected, Body: c.Request.Body,
	})
	if err != nil {
		if errors.Is(err, library.ErrTooLarge) || errors.Is(err, library.ErrDigestMismatch) || errors.Is(err, library.ErrArtifactExists) {
			c.Header("Connection", "close") // don't read the rest of a refused body
		}
		fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		s.bytesIn.Add(float64(a.Size))
	}
	c.Header("Location", c.Request.URL.Path)
	c.Header("ETag", `"`+a.SHA256+`"`)
	c.JSON(status, wireArtifact(a))
}

func (s *Server) deleteArtifact(c *gin.Context) {
	err := s.lib.DeleteArtifact(c, principal(c), c.Param("product"), c.Param("version"), c.Param("name"))
	if err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// downloadArtifact serves GET and HEAD: the whole artifact or one range,
// proxied from the store, or a redirect to a presigned URL.
func (s *Server) downloadArtifact(c *gin.Context) {
	ref, err := s.lib.Artifact(c, c.Param("product"), c.Param("version"), c.Param("name"))
	if err != nil {
		fail(c, err)
		return
	}
	a, r := ref.Artifact, ref.Release
	etag := `"` + a.SHA256 + `"`
	sum, _ := hex.DecodeString(a.SHA256)
	digest := "sha-256=:" + base64.StdEncoding.EncodeToString(sum) + ":"
	h := c.Writer.Header()
	h.Set("ETag", etag)
	h.Set("Accept-Ranges", "bytes")
	h.Set("Repr-Digest", digest)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Name}))
	h.Set("Cache-Control", "private, max-age=0, must-revalidate")
	h.Set("Last-Modified", a.UploadedAt.UTC().Format(http.TimeFormat))
	releaseWarnings(h, r)

	// Conditional requests are answered before any redirect (DESIGN §15).
	if notModified(c.Request, etag, a.UploadedAt) {
		c.Status(http.StatusNotModified)
		return
	}
	if c.Request.Method == http.MethodGet && (s.redirect || c.Query("redirect") == "1" || c.Query("redirect") == "true") &&
		!s.forwardsAuth(c.Request) {
		u, err := s.lib.PresignArtifact(c, ref, s.expiry)
		switch {
		case err == nil:
			c.Redirect(http.StatusTemporaryRedirect, u.String())
			return
		case !errors.Is(err, storage.ErrUnsupported):
			fail(c, err)
			return
		} // the filesystem store cannot presign: serve the bytes directly
	}

	status, off, length := http.StatusOK, int64(0), a.Size
	if rh := c.GetHeader("Range"); rh != "" && (c.GetHeader("If-Range") == "" || c.GetHeader("If-Range") == etag) {
		br, err := ParseRange(rh, a.Size)
		switch {
		case err == nil:
			status, off, length = http.StatusPartialContent, br.Offset, br.Length
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+length-1, a.Size))
		case errors.Is(err, errRangeUnsatisfiable):
			h.Set("Content-Range", fmt.Sprintf("bytes */%d", a.Size))
			writeError(c, http.StatusRequestedRangeNotSatisfiable, CodeRangeNotSatisfiable,
				fmt.Sprintf("range %q lies outside the %d bytes of %s", rh, a.Size, a.Name), map[string]any{"size": a.Size})
			return
		}
	}
	if status == http.StatusOK {
		h.Set("Content-Digest", digest)
	}
	h.Set("Content-Type", a.MediaType)
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	if c.Request.Method == http.MethodHead {
		c.Status(status)
		return
	}
	var body io.ReadCloser = http.NoBody
	if length > 0 {
		// The request's own context, not the pooled gin.Context: the store's
		// HTTP transport may still look at it after the handler returns.
		body, err = s.lib.OpenArtifact(c.Request.Context(), ref, off, length)
		if err != nil {
			// The answer becomes an error envelope: drop what described
			// the artifact.
			for _, k := range []string{"Content-Length", "Content-Digest", "Content-Type", "Content-Disposition",
				"ETag", "Repr-Digest", "Accept-Ranges", "Last-Modified", "Content-Range"} {
				h.Del(k)
			}
			fail(c, err)
			return
		}
	}
	defer body.Close()
	c.Status(status)
	n, err := s.copyBody(c, body, length)
	s.bytesOut.Add(float64(n))
	if err != nil || n != length {
		// The status is sent: all that is left is to cut the connection so
		// the client sees a short body, never a complete-looking wrong one.
		s.log.Warn("download interrupted", "request_id", requestID(c), "artifact", a.Name, "sent", n, "of", length, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// releaseWarnings marks downloads of releases installers should move off.
func releaseWarnings(h http.Header, r *library.Release) {
	switch {
	case r.State == library.StateWithdrawn && r.Withdrawn != nil:
		h.Set("Warning", `299 reliquary "release `+r.Version+` withdrawn: `+warnText(r.Withdrawn.Reason)+`"`)
		h.Set("Deprecation", "true")
	case r.State == library.StateWithdrawn:
		h.Set("Warning", `299 reliquary "release `+r.Version+` withdrawn"`)
		h.Set("Deprecation", "true")
	case r.SupersededBy != "":
		h.Set("Warning", `299 reliquary "release `+r.Version+` is superseded by `+r.SupersededBy+`"`)
		h.Set("Deprecation", "true")
		h.Set("Link", "<"+APIPrefix+"/products/"+r.Product+"/releases/"+r.SupersededBy+`>; rel="successor-version"`)
	}
}

func (s *Server) artifactSignature(c *gin.Context) {
	ref, err := s.lib.Artifact(c, c.Param("product"), c.Param("version"), c.Param("name"))
	if err != nil {
		fail(c, err)
		return
	}
	if ref.Artifact.KeyID != "" {
		c.Header("X-Signing-Key-Id", ref.Artifact.KeyID)
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(ref.Artifact.Signature))
}

// warnText makes free text safe inside a quoted header value.
func warnText(s string) string {
	out := make([]rune, 0, min(len(s), 200))
	for _, r := range s {
		if len(out) == 200 {
			break
		}
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' || r > 0x7e {
			r = ' '
		}
		out = append(out, r)
	}
	return string(out)
}

// etagMatches applies If-None-Match's weak comparison (RFC 9110 §13.1.2):
// "*", or any listed tag, with or without W/, equal to ours.
func etagMatches(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
