package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// deleteRelease removes a never-released release (DESIGN §13): a draft for
// publishers, a candidate or approved release for release managers.
func (s *Server) deleteRelease(c *gin.Context) {
	d, err := s.lib.DeleteRelease(c, principal(c), c.Param("product"), c.Param("version"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, wireDeletedRelease(d))
}

// runRetention applies the retention policies now; ?dry_run=true only
// reports what would go and what is kept, with the rule that keeps it.
func (s *Server) runRetention(c *gin.Context) {
	dry, ok := boolQuery(c, "dry_run")
	if !ok {
		return
	}
	rep, err := s.lib.RunRetention(c, principal(c), dry)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, wireRetentionReport(rep))
}

// boolQuery reads an optional true/false query parameter (1/0 too),
// answering 400 for anything else.
func boolQuery(c *gin.Context, name string) (value, ok bool) {
	switch c.Query(name) {
	case "", "false", "0":
		return false, true
	case "true", "1":
		return true, true
	}
	writeError(c, http.StatusBadRequest, CodeInvalidInput, name+" must be true or false", map[string]any{"parameter": name})
	return false, false
}

// retentionMetrics exports the retention runner's totals.
func (s *Server) retentionMetrics() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "reliquary_retention_releases_deleted_total",
			Help: "Releases deleted by retention runs."}, func() float64 { n, _ := s.lib.RetentionTotals(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "reliquary_retention_bytes_freed_total",
			Help: "Artifact bytes freed by retention runs."}, func() float64 { _, b := s.lib.RetentionTotals(); return float64(b) }),
	}
}
