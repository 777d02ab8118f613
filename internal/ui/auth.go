package ui

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/reliquary/reliquary/internal/library"
)

// handler is a page or action of a signed-in user.
type handler func(w http.ResponseWriter, r *http.Request, s *session)

// signedIn resolves the session cookie and looks its token up again. A
// GET without a session goes to the sign-in page; a POST without one, or
// without the session's CSRF token, is refused.
func (u *UI) signedIn(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var s session
		ok, had := false, false
		if c, err := r.Cookie(sessionCookie); err == nil {
			s, ok = u.sessions.get(c.Value)
			had = true
		}
		if ok {
			pr, err := u.lib.Authenticate(s.secret)
			if err != nil {
				u.sessions.delete(s.id)
				ok = false
			} else {
				s.pr = pr
			}
		}
		if !ok {
			// The stale cookie stays until the next sign-in replaces it, so
			// the sign-in page can say the session ended.
			if r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, "/feed") && !strings.HasSuffix(r.URL.Path, ".svg") {
				q := url.Values{"next": {r.URL.RequestURI()}}
				if had {
					q.Set("expired", "1")
				}
				http.Redirect(w, r, Prefix+"/login?"+q.Encode(), http.StatusSeeOther)
				return
			}
			u.errorPage(w, r, nil, http.StatusUnauthorized, "UNAUTHENTICATED", "Your session has ended (signed out or expired). Sign in again.")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				u.errorPage(w, r, &s, http.StatusBadRequest, "INVALID_INPUT", "The form could not be read.")
				return
			}
			if !equalSecret(r.PostForm.Get("csrf"), s.csrf) {
				u.errorPage(w, r, &s, http.StatusForbidden, "CSRF_REJECTED", "This form is stale or was not sent from this site; nothing was changed. Reload the page and try again.")
				return
			}
		}
		h(w, r, &s)
	}
}

func (u *UI) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: Prefix + "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: int(maxAge / time.Second)})
}

func (u *UI) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: Prefix + "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: -1})
}

// loginCSRF returns the double-submit value of the sign-in form, setting
// its cookie when there is none yet.
func (u *UI) loginCSRF(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(loginCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	v := randomID()
	u.setCookie(w, r, loginCookie, v, time.Hour)
	return v
}

type loginData struct {
	Ticket  string
	Next    string
	Expired bool
	Error   string
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	d := loginData{Next: safeNext(r.URL.Query().Get("next")), Expired: r.URL.Query().Get("expired") == "1"}
	u.render(w, r, http.StatusOK, "login", view{Title: "Sign in", CSRF: u.loginCSRF(w, r), Data: d})
}

func (u *UI) ticketPage(w http.ResponseWriter, r *http.Request) {
	d := loginData{Ticket: r.PathValue("ticket"), Next: Prefix + "/products"}
	u.render(w, r, http.StatusOK, "login", view{Title: "Sign in", CSRF: u.loginCSRF(w, r), Data: d})
}

// safeNext keeps a post-login redirect inside the UI.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix+"/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return Prefix + "/products"
	}
	return next
}

// login signs in with a token, or with a one-time ticket.
func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		u.errorPage(w, r, nil, http.StatusBadRequest, "INVALID_INPUT", "The form could not be read.")
		return
	}
	c, err := r.Cookie(loginCookie)
	if err != nil || !equalSecret(r.PostForm.Get("csrf"), c.Value) {
		u.errorPage(w, r, nil, http.StatusForbidden, "CSRF_REJECTED", "This sign-in form is stale or was not sent from this site. Reload the page and try again.")
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	fail := func(msg string) {
		d := loginData{Next: next, Error: msg}
		u.render(w, r, http.StatusUnauthorized, "login", view{Title: "Sign in", CSRF: c.Value, Data: d})
	}
	secret := strings.TrimSpace(r.PostForm.Get("token"))
	if t := r.PostForm.Get("ticket"); t != "" {
		s, ok := u.sessions.redeem(t)
		if !ok {
			fail("This sign-in link has been used or has expired. Run `reliquary ui-login` again, or sign in with a token.")
			return
		}
		secret = s
	}
	if secret == "" {
		fail("Enter a token.")
		return
	}
	if _, err := u.lib.Authenticate(secret); err != nil {
		fail("That token is not valid (unknown or revoked).")
		return
	}
	s := u.sessions.create(secret)
	u.setCookie(w, r, sessionCookie, s.id, 0)
	u.clearCookie(w, r, loginCookie)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request, s *session) {
	u.sessions.delete(s.id)
	u.clearCookie(w, r, sessionCookie)
	http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
}

// TicketResponse is the answer of POST /ui/tickets.
type TicketResponse struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// createTicket makes a one-time sign-in link for the bearer token of the
// request (`reliquary ui-login`).
func (u *UI) createTicket(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ok {
		_, err := u.lib.Authenticate(strings.TrimSpace(secret))
		ok = err == nil
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="reliquary"`)
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": "UNAUTHENTICATED", "message": "a valid bearer token is required"}})
		return
	}
	id, exp := u.sessions.newTicket(strings.TrimSpace(secret))
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(TicketResponse{URL: scheme + "://" + r.Host + Prefix + "/login/ticket/" + id, ExpiresAt: exp.UTC()})
}

// allowed reports whether the principal may call the API route (method,
// gin path) for product: the API's role and product scope checks.
func (u *UI) allowed(pr library.Principal, method, path, product string) bool {
	need := library.RoleAdmin
	if u.cfg.Permission != nil {
		need = u.cfg.Permission(method, path)
	}
	return pr.Role >= need && (product == "" || pr.CanAccess(product))
}
