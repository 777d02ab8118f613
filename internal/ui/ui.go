// Package ui is the web UI for release managers (DESIGN.md §10): a few
// server-rendered pages under /ui/ that work without JavaScript, with a
// small script of our own for live event updates. Every page and asset is
// embedded; nothing is loaded from another origin.
//
// The UI holds no rights of its own. A session remembers the token its
// owner signed in with; every request looks the token up again (so a
// revoked token ends its sessions at once) and every action asks the API's
// route table which role it needs, then calls the same library function as
// the API.
package ui

import (
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Prefix is where the UI is served.
const Prefix = "/ui"

// Journal is what the event page needs of the index.
type Journal interface {
	EventsAfter(after uint64, limit int) ([]*journal.Event, error)
	Head() (uint64, string, error)
}

// Config wires the UI.
type Config struct {
	Library *library.Service
	Journal Journal
	// Notifier wakes the live event feed when events commit.
	Notifier *journal.Notifier
	// Permission is the least role the API route (method, gin path) needs:
	// the UI asks the API's route table instead of keeping its own.
	Permission func(method, path string) library.Role
	// Classify turns a library error into the API's status, code and
	// message (the API's one error table).
	Classify func(err error) (status int, code, message string)
	// SessionTTL is how long a session lives without use (default 8h).
	SessionTTL time.Duration
	// Now is the clock (tests); default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// UI is the web UI's handler.
type UI struct {
	cfg      Config
	lib      *library.Service
	sessions *sessionStore
	pages    map[string]*template.Template
	mux      *http.ServeMux
	static   http.Handler
	log      *slog.Logger
}

// New builds the UI.
func New(cfg Config) *UI {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Notifier == nil {
		cfg.Notifier = journal.NewNotifier()
	}
	u := &UI{cfg: cfg, lib: cfg.Library, log: cfg.Logger, sessions: newSessionStore(cfg.SessionTTL, cfg.Now)}
	u.pages = parsePages()
	sub, err := fs.Sub(assets, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	u.static = http.StripPrefix(Prefix+"/static/", http.FileServerFS(sub))
	u.routes()
	return u
}

func (u *UI) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /ui/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+"/products", http.StatusSeeOther)
	})
	m.HandleFunc("GET /ui/static/", u.serveStatic)
	m.HandleFunc("GET /ui/login", u.loginPage)
	m.HandleFunc("POST /ui/login", u.login)
	m.HandleFunc("GET /ui/login/ticket/{ticket}", u.ticketPage)
	m.HandleFunc("POST /ui/tickets", u.createTicket) // bearer token: `reliquary ui-login`
	m.HandleFunc("POST /ui/logout", u.signedIn(u.logout))

	m.HandleFunc("GET /ui/products", u.signedIn(u.productsPage))
	m.HandleFunc("GET /ui/products/{p}", u.signedIn(u.productPage))
	m.HandleFunc("GET /ui/products/{p}/releases/{v}", u.signedIn(u.releasePage))
	m.HandleFunc("POST /ui/products/{p}/releases/{v}/{action}", u.signedIn(u.action))
	m.HandleFunc("GET /ui/approvals", u.signedIn(u.approvalsPage))
	m.HandleFunc("GET /ui/baselines", u.signedIn(u.baselinesPage))
	m.HandleFunc("GET /ui/baselines/{a}/diff/{b}", u.signedIn(u.diffPage))
	m.HandleFunc("GET /ui/environments", u.signedIn(u.environmentPick))
	m.HandleFunc("GET /ui/environments/{env}", u.signedIn(u.environmentPage))
	m.HandleFunc("GET /ui/events", u.signedIn(u.eventsPage))
	m.HandleFunc("GET /ui/events/feed", u.signedIn(u.eventsFeed))
	m.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		u.errorPage(w, r, nil, http.StatusNotFound, "NOT_FOUND", "There is no page at "+r.URL.Path+".")
	})
	u.mux = m
}

// csp allows only this origin: no inline script or style, no frames.
const csp = "default-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// ServeHTTP serves /ui/...
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	if r.URL.Path == Prefix {
		http.Redirect(w, r, Prefix+"/products", http.StatusSeeOther)
		return
	}
	if r.Method == http.MethodPost && !sameOrigin(r) {
		u.errorPage(w, r, nil, http.StatusForbidden, "CSRF_REJECTED", "This form was sent from another site and was refused.")
		return
	}
	u.mux.ServeHTTP(w, r)
}

// sameOrigin rejects a POST whose Origin (or, without it, Referer) names
// another host. Browsers send Origin on every POST; a missing header is
// left to the CSRF token.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return o == ""
	}
	host := strings.TrimPrefix(strings.TrimPrefix(o, "https://"), "http://")
	return host == r.Host
}

func (u *UI) serveStatic(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	u.static.ServeHTTP(w, r)
}
