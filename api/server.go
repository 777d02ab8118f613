// Package api is Reliquary's HTTP interface: the gin router built from one
// route table, the error envelope, authentication and authorisation, and
// the request and response types.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/oidc"
	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/internal/transparency"
	"github.com/reliquary/reliquary/storage"
)

// Downloads modes.
const (
	DownloadsProxy    = "proxy"
	DownloadsRedirect = "redirect"
)

// Pinger reports whether a dependency is reachable (readiness).
type Pinger interface{ Ping() error }

// Config wires the HTTP server.
type Config struct {
	Library      *library.Service
	Index        Pinger
	Store        storage.BlobStore
	PublicKeyPEM []byte
	// Journal serves the feed, audit, webhooks and backups.
	Journal JournalIndex
	// Notifier wakes long polls when events commit.
	Notifier *journal.Notifier
	// Bundler makes Sigstore bundles of artifact signatures.
	Bundler Bundler
	// Keyring lists every verification key (current and retired).
	Keyring       *signing.Keyring
	AnonymousRead bool
	Downloads     string        // proxy (default) or redirect
	PresignExpiry time.Duration // default 5 minutes
	// MaxUploadsPerToken bounds the uploads one token streams at once
	// (0: DefaultMaxUploadsPerToken; negative: no limit).
	MaxUploadsPerToken int
	Logger             *slog.Logger
	// OIDC verifies ID tokens for trusted publishing (nil: none trusted).
	OIDC *oidc.Verifier
	// UISessionTTL is how long a web UI session lives unused (default 8h).
	UISessionTTL time.Duration
	// Log is the signed log: checkpoints, proofs and release statements
	// (DESIGN §12); nil answers 501 on those routes.
	Log *transparency.Log
	// JournalCheck, when set, is a readiness check of the journal (a
	// foreign journal in the bucket makes it fail, naming the fix).
	JournalCheck func() error
	// WebhookAllowPrivate accepts webhook URLs on loopback, private and
	// link-local addresses (--webhook-allow-private).
	WebhookAllowPrivate bool
	// BodyIdleTimeout cuts off a request body that sends nothing for this
	// long (--body-idle-timeout; 0: DefaultBodyIdleTimeout; <0: never).
	BodyIdleTimeout time.Duration
	// LinkSecret signs download links (nil: a random one per process).
	LinkSecret []byte
	// ForwardsAuthAgents are User-Agent prefixes of clients that send their
	// Authorization header on to a redirect's other host (nil: Wget/ and
	// aria2/); in redirect mode they are served the bytes directly.
	ForwardsAuthAgents []string
}

// Server holds the handlers' dependencies.
type Server struct {
	lib      *library.Service
	index    Pinger
	store    storage.BlobStore
	pubKey   []byte
	keyring  *signing.Keyring
	bundler  Bundler
	journal  JournalIndex
	notifier *journal.Notifier
	anonRead bool
	redirect bool
	expiry   time.Duration
	log      *slog.Logger
	registry *prometheus.Registry
	metricsH http.Handler
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	bytesIn  prometheus.Counter
	bytesOut prometheus.Counter
	uploads  *uploadLimiter
	oidc     *oidc.Verifier

	uiSessionTTL time.Duration
	tlog         *transparency.Log
	journalCheck func() error

	hookAllowPrivate bool
	bodyIdle         time.Duration
	// Download links and redirect exceptions (links.go, artifacts.go).
	linkSecret    []byte
	forwardsAuthn []string
}

// New builds the server and its metrics.
func New(cfg Config) *Server {
	s := &Server{lib: cfg.Library, index: cfg.Index, store: cfg.Store, pubKey: cfg.PublicKeyPEM, keyring: cfg.Keyring, bundler: cfg.Bundler,
		journal: cfg.Journal, notifier: cfg.Notifier,
		anonRead: cfg.AnonymousRead, redirect: cfg.Downloads == DownloadsRedirect,
		expiry: cfg.PresignExpiry, log: cfg.Logger, uploads: newUploadLimiter(cfg.MaxUploadsPerToken), oidc: cfg.OIDC,
		uiSessionTTL: cfg.UISessionTTL, hookAllowPrivate: cfg.WebhookAllowPrivate, bodyIdle: cfg.BodyIdleTimeout}
	s.tlog = cfg.Log
	s.journalCheck = cfg.JournalCheck
	if s.bodyIdle == 0 {
		s.bodyIdle = DefaultBodyIdleTimeout
	}
	if s.notifier == nil {
		s.notifier = journal.NewNotifier()
	}
	s.linkSecret, s.forwardsAuthn = cfg.LinkSecret, cfg.ForwardsAuthAgents
	if len(s.linkSecret) == 0 {
		s.linkSecret = NewLinkSecret()
	}
	if s.forwardsAuthn == nil {
		s.forwardsAuthn = DefaultForwardsAuthAgents
	}
	if s.expiry == 0 {
		s.expiry = 5 * time.Minute
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.registry = prometheus.NewRegistry()
	s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "reliquary_http_requests_total",
		Help: "HTTP requests by route and status."}, []string{"method", "route", "status"})
	s.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "reliquary_http_request_duration_seconds",
		Help: "HTTP request latency by route.", Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10)}, []string{"method", "route"})
	s.bytesIn = prometheus.NewCounter(prometheus.CounterOpts{Name: "reliquary_artifact_bytes_uploaded_total", Help: "Artifact bytes stored."})
	s.bytesOut = prometheus.NewCounter(prometheus.CounterOpts{Name: "reliquary_artifact_bytes_downloaded_total", Help: "Artifact bytes served."})
	s.registry.MustRegister(s.requests, s.duration, s.bytesIn, s.bytesOut, s.uploads.gauge)
	s.registry.MustRegister(s.retentionMetrics()...)
	s.metricsH = promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
	return s
}

// Registry is the server's Prometheus registry (other parts add metrics).
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// Handler builds the gin engine from the route table.
func (s *Server) Handler() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.UseRawPath = true // an encoded slash stays inside its path segment
	r.UnescapePathValues = true
	r.RemoveExtraSlash = false
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	_ = r.SetTrustedProxies(nil)
	r.Use(s.recovery, s.requestIDAndLog, securityHeaders, s.bodyGuard, normalizeVersionParam, jsonNewline, s.clusterHeaders)
	for _, rt := range s.Routes() {
		r.Handle(rt.Method, rt.Path, s.authorize(rt), rt.Handler)
	}
	s.mountUI(r)
	r.NoRoute(func(c *gin.Context) {
		writeError(c, http.StatusNotFound, CodeNotFound, "no such route: "+c.Request.Method+" "+c.Request.URL.Path, nil)
	})
	r.NoMethod(func(c *gin.Context) {
		writeError(c, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method "+c.Request.Method+" is not allowed here", nil)
	})
	return r
}

func (s *Server) recovery(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			s.log.Error("panic serving request", "request_id", requestID(c), "path", c.FullPath(), "panic", v)
			writeError(c, http.StatusInternalServerError, CodeInternal, "internal error; see the server log for request "+requestID(c), nil)
		}
	}()
	c.Next()
}

var requestIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

const ctxRequestID = "request_id"

func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

// requestIDAndLog tags the request with an ID (the client's, when sane)
// and writes one access log line. Tokens are never logged.
func (s *Server) requestIDAndLog(c *gin.Context) {
	id := c.GetHeader("X-Request-ID")
	if !requestIDRe.MatchString(id) {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	c.Set(ctxRequestID, id)
	c.Header("X-Request-ID", id)
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	elapsed := time.Since(start)
	s.requests.WithLabelValues(c.Request.Method, route, httpStatus(status)).Inc()
	s.duration.WithLabelValues(c.Request.Method, route).Observe(elapsed.Seconds())
	if route == "/healthz" || route == "/readyz" || route == "/metrics" {
		return
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelWarn
	}
	s.log.LogAttrs(c.Request.Context(), level, "http request",
		slog.String("request_id", id), slog.String("method", c.Request.Method), slog.String("route", route),
		slog.String("path", c.Request.URL.Path), slog.Int("status", status), slog.Int("bytes", c.Writer.Size()),
		slog.Duration("duration", elapsed), slog.String("actor", principal(c).Name), slog.String("remote", c.ClientIP()))
}

func httpStatus(code int) string {
	const digits = "0123456789"
	if code < 100 || code > 999 {
		return "000"
	}
	return string([]byte{digits[code/100], digits[code/10%10], digits[code%10]})
}

func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
	if c.Request.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	c.Next()
}

const ctxPrincipal = "principal"

func principal(c *gin.Context) library.Principal {
	if p, ok := c.Get(ctxPrincipal); ok {
		return p.(library.Principal)
	}
	return library.Principal{}
}

// authorize checks the bearer token against the route's permission and,
// for routes under a product, the token's product scope.
func (s *Server) authorize(rt Route) gin.HandlerFunc {
	return func(c *gin.Context) {
		if rt.Perm == library.RoleNone {
			c.Next()
			return
		}
		var pr library.Principal
		auth := c.GetHeader("Authorization")
		switch {
		case auth == "" && c.Query("ticket") != "" && isDownloadRoute(rt):
			p, err := s.ticketPrincipal(c)
			if err != nil {
				c.Header("WWW-Authenticate", `Bearer realm="reliquary", error="invalid_token"`)
				writeError(c, http.StatusUnauthorized, CodeUnauthenticated, err.Error(), nil)
				return
			}
			pr = p
		case auth == "" && s.anonRead && rt.Perm == library.RoleReader:
			pr = library.Anonymous
		case auth == "":
			c.Header("WWW-Authenticate", `Bearer realm="reliquary"`)
			writeError(c, http.StatusUnauthorized, CodeUnauthenticated, "a bearer token is required", nil)
			return
		default:
			secret, ok := strings.CutPrefix(auth, "Bearer ")
			p, err := s.lib.Authenticate(strings.TrimSpace(secret))
			if !ok || err != nil {
				c.Header("WWW-Authenticate", `Bearer realm="reliquary", error="invalid_token"`)
				if ok && errors.Is(err, library.ErrTokenExpired) {
					c.Header("Connection", "close") // the refused body is not read
					fail(c, err)
					return
				}
				writeError(c, http.StatusUnauthorized, CodeUnauthenticated, "the bearer token is not valid", nil)
				return
			}
			pr = p
		}
		c.Set(ctxPrincipal, pr)
		if pr.Role < rt.Perm {
			writeError(c, http.StatusForbidden, CodeForbidden,
				"role "+pr.Role.String()+" may not do this; it needs "+rt.Perm.String(), map[string]any{"required_role": rt.Perm.String()})
			return
		}
		if p := c.Param("product"); p != "" && !pr.CanAccess(p) {
			writeError(c, http.StatusForbidden, CodeForbidden, "this token is not scoped to product "+p, map[string]any{"product": p})
			return
		}
		c.Next()
	}
}

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{"index": "ok", "storage": "ok"}
	ready := true
	// Anonymous callers learn which check failed, never an endpoint or an
	// error text; an unscoped admin sees the details (DESIGN §8).
	details := s.readyzDetails(c)
	if err := s.index.Ping(); err != nil {
		checks["index"] = "failed"
		if details {
			checks["index"] = err.Error()
		}
		ready = false
		s.log.Warn("index not ready", "err", err)
	}
	if err := s.store.Ping(ctx); err != nil {
		checks["storage"] = "failed"
		if details {
			checks["storage"] = err.Error()
		}
		ready = false
		s.log.Warn("storage not ready", "err", err)
	}
	if s.journalCheck != nil {
		checks["journal"] = "ok"
		if err := s.journalCheck(); err != nil {
			checks["journal"] = err.Error()
			ready = false
		}
	}
	if !ready {
		c.Header("Retry-After", "5")
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "checks": checks})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok", "checks": checks})
}

// readyzDetails reports whether the caller presents an unscoped admin token.
func (s *Server) readyzDetails(c *gin.Context) bool {
	secret, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	p, err := s.lib.Authenticate(strings.TrimSpace(secret))
	return err == nil && p.Role >= library.RoleAdmin && len(p.Products) == 0
}

func (s *Server) metrics(c *gin.Context) { s.metricsH.ServeHTTP(c.Writer, c.Request) }

func (s *Server) signingKey(c *gin.Context) {
	c.Data(http.StatusOK, "application/x-pem-file", s.pubKey)
}
