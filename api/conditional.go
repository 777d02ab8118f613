package api

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// DefaultForwardsAuthAgents are the User-Agent prefixes of clients that send
// their Authorization header on to a redirect's other host (wget, aria2c). A
// store refuses a presigned URL that also carries a header, so in redirect
// mode these clients are served the bytes directly instead.
var DefaultForwardsAuthAgents = []string{"Wget/", "aria2/"}

// forwardsAuth reports whether the request comes from a client that would
// send its Authorization header to a presigned URL.
func (s *Server) forwardsAuth(r *http.Request) bool {
	ua := r.UserAgent()
	for _, p := range s.forwardsAuthn {
		if len(ua) >= len(p) && strings.EqualFold(ua[:len(p)], p) {
			return true
		}
	}
	return false
}

// notModified evaluates If-None-Match and, only when that is absent,
// If-Modified-Since (RFC 9110 §13.2.2) for a GET or HEAD of a representation
// with this ETag and modification time.
func notModified(r *http.Request, etag string, modified time.Time) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		return etagMatches(inm, etag)
	}
	ims := r.Header.Get("If-Modified-Since")
	if ims == "" || modified.IsZero() || len(ims) > 64 {
		return false
	}
	t, err := http.ParseTime(ims)
	if err != nil {
		return false // an invalid date is ignored (RFC 9110 §13.1.3)
	}
	return !modified.Truncate(time.Second).After(t)
}

// serveBytesWithETag answers GET and HEAD of a small immutable document
// with a strong ETag (its SHA-256) and If-None-Match.
func serveBytesWithETag(c *gin.Context, contentType string, body []byte) {
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	c.Header("ETag", etag)
	if notModified(c.Request, etag, time.Time{}) {
		c.Status(http.StatusNotModified)
		return
	}
	if c.Request.Method == http.MethodHead {
		c.Header("Content-Type", contentType)
		c.Header("Content-Length", strconv.Itoa(len(body)))
		c.Status(http.StatusOK)
		return
	}
	c.Data(http.StatusOK, contentType, body)
}
