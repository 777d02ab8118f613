package api

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// jsonNewline ends every JSON answer rendered by gin (c.JSON, the error
// envelope) with a newline, as `curl` users and line-based tools expect.
// Exact signed bytes (manifests, bundles) are served with c.Data as plain
// "application/json" and are left byte for byte as stored: only gin's
// renderer sets "application/json; charset=utf-8".
//
// Artifact downloads are never touched (their media type is the
// uploader's, and their writer stays gin's own for speed).
func jsonNewline(c *gin.Context) {
	if c.FullPath() == artifactRoute {
		c.Next()
		return
	}
	w := &lastByteWriter{ResponseWriter: c.Writer}
	c.Writer = w
	c.Next()
	c.Writer = w.ResponseWriter
	if w.last == '\n' || w.Size() <= 0 || c.Request.Method == http.MethodHead {
		return
	}
	if ct := w.Header().Get("Content-Type"); strings.HasPrefix(ct, "application/json; charset=utf-8") {
		_, _ = w.ResponseWriter.Write([]byte{'\n'})
	}
}

const artifactRoute = APIPrefix + "/products/:product/releases/:version/artifacts/:name"

// lastByteWriter remembers the last byte written.
type lastByteWriter struct {
	gin.ResponseWriter
	last byte
}

func (w *lastByteWriter) Write(b []byte) (int, error) {
	if len(b) > 0 {
		w.last = b[len(b)-1]
	}
	return w.ResponseWriter.Write(b)
}

func (w *lastByteWriter) WriteString(s string) (int, error) {
	if len(s) > 0 {
		w.last = s[len(s)-1]
	}
	return w.ResponseWriter.WriteString(s)
}
