package ui

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/reliquary/reliquary/internal/library"
)

// view is what every page template gets.
type view struct {
	Title string
	Nav   string // the active navigation entry
	User  *library.Principal
	CSRF  string
	Flash *flash
	Data  any
}

var funcs = template.FuncMap{
	"when": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return ""
			}
			return v.UTC().Format("2006-01-02 15:04:05Z")
		case *time.Time:
			if v == nil || v.IsZero() {
				return ""
			}
			return v.UTC().Format("2006-01-02 15:04:05Z")
		}
		return ""
	},
	"size": humanSize,
	"short": func(s string) string {
		if len(s) > 16 {
			return s[:16] + "…"
		}
		return s
	},
	"pathq":  url.PathEscape,
	"query":  url.QueryEscape,
	"join":   strings.Join,
	"window": func() int { return window },
}

func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// parsePages parses layout.html with each page template into its own set.
func parsePages() map[string]*template.Template {
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html"))
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		if path.Base(n) == "layout.html" {
			continue
		}
		t := template.Must(template.Must(base.Clone()).ParseFS(assets, n))
		out[strings.TrimSuffix(path.Base(n), ".html")] = t
	}
	return out
}

// render writes a page. It renders into a buffer first so that a template
// error becomes a clean 500 rather than half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	t, ok := u.pages[name]
	if !ok {
		panic("ui: no template " + name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		u.log.Error("render page", "page", name, "path", r.URL.Path, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// page renders a signed-in page with the session's CSRF token and flash.
func (u *UI) page(w http.ResponseWriter, r *http.Request, s *session, name, nav, title string, data any) {
	v := view{Title: title, Nav: nav, User: &s.pr, CSRF: s.csrf, Flash: u.sessions.takeFlash(s.id), Data: data}
	u.render(w, r, http.StatusOK, name, v)
}

type errorData struct {
	Status  int
	Code    string
	Message string
}

// errorPage shows a refusal as a readable page with the API's code.
func (u *UI) errorPage(w http.ResponseWriter, r *http.Request, s *session, status int, code, msg string) {
	v := view{Title: http.StatusText(status), Data: errorData{Status: status, Code: code, Message: msg}}
	if s != nil {
		v.User, v.CSRF = &s.pr, s.csrf
	}
	u.render(w, r, status, "error", v)
}

// fail shows a library error as the API would classify it.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	status, code, msg := u.classify(err)
	if status >= 500 {
		u.log.Warn("ui request failed", "path", r.URL.Path, "code", code, "err", err)
	}
	u.errorPage(w, r, s, status, code, msg)
}

func (u *UI) classify(err error) (int, string, string) {
	if u.cfg.Classify != nil {
		return u.cfg.Classify(err)
	}
	return http.StatusInternalServerError, "INTERNAL", "internal error"
}

func (u *UI) forbidden(w http.ResponseWriter, r *http.Request, s *session, what string) {
	u.errorPage(w, r, s, http.StatusForbidden, "FORBIDDEN", "Your token ("+s.pr.Name+", role "+s.pr.Role.String()+") may not "+what+".")
}
