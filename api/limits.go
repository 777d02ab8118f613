package api

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMaxUploadsPerToken is how many uploads one token may stream at
// once when Config.MaxUploadsPerToken is 0.
const DefaultMaxUploadsPerToken = 8

// uploadLimiter counts the uploads in flight per token.
type uploadLimiter struct {
	max      int // <0: unlimited
	mu       sync.Mutex
	inFlight map[string]int
	gauge    prometheus.Gauge
}

func newUploadLimiter(max int) *uploadLimiter {
	if max == 0 {
		max = DefaultMaxUploadsPerToken
	}
	return &uploadLimiter{max: max, inFlight: map[string]int{},
		gauge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "reliquary_uploads_in_flight", Help: "Artifact uploads being streamed."})}
}

func (l *uploadLimiter) acquire(token string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max > 0 && l.inFlight[token] >= l.max {
		return false
	}
	l.inFlight[token]++
	l.gauge.Inc()
	return true
}

func (l *uploadLimiter) release(token string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gauge.Dec()
	if l.inFlight[token]--; l.inFlight[token] <= 0 {
		delete(l.inFlight, token)
	}
}

// limitUploads wraps the upload handler: one token streams at most max
// uploads at once; more answer 429 TOO_MANY_UPLOADS before the body is
// read. It runs after authorize, so the principal is known.
func (s *Server) limitUploads(next gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		key := principal(c).TokenID
		if key == "" {
			key = "anonymous"
		}
		if !s.uploads.acquire(key) {
			c.Header("Connection", "close") // the refused body is not read
			writeError(c, http.StatusTooManyRequests, CodeTooManyUploads,
				"this token already has "+strconv.Itoa(s.uploads.max)+" uploads in progress; retry when one ends",
				map[string]any{"max_uploads_per_token": s.uploads.max})
			return
		}
		defer s.uploads.release(key)
		next(c)
	}
}
