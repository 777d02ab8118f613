package ui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"

	"github.com/reliquary/reliquary/internal/library"
)

// Cookie names. Both are HttpOnly and SameSite=Strict, Secure under TLS.
const (
	sessionCookie = "reliquary_session"
	// loginCookie carries the double-submit CSRF value of the sign-in
	// form, before any session exists.
	loginCookie = "reliquary_login"
)

const (
	maxSessions = 10000
	ticketTTL   = 2 * time.Minute
	maxTickets  = 1000
)

// session is one signed-in browser. It keeps the token's secret so each
// request authenticates again: a revoked token ends its sessions.
type session struct {
	id      string
	secret  string
	csrf    string
	expires time.Time
	flash   *flash

	pr library.Principal // looked up again for each request
}

// flash is the outcome of an action, shown once on the next page
// (post-redirect-get).
type flash struct {
	OK      bool
	Code    string
	Message string
}

// ticket is a one-time sign-in link made by `reliquary ui-login`.
type ticket struct {
	secret  string
	expires time.Time
}

type sessionStore struct {
	mu       sync.Mutex
	ttl      time.Duration
	now      func() time.Time
	sessions map[string]*session
	tickets  map[string]ticket
}

func newSessionStore(ttl time.Duration, now func() time.Time) *sessionStore {
	return &sessionStore{ttl: ttl, now: now, sessions: map[string]*session{}, tickets: map[string]ticket{}}
}

func randomID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create starts a session for a token secret.
func (st *sessionStore) create(secret string) *session {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	if len(st.sessions) >= maxSessions {
		st.purgeLocked(now)
		for id := range st.sessions { // still full: drop any one
			if len(st.sessions) < maxSessions {
				break
			}
			delete(st.sessions, id)
		}
	}
	s := &session{id: randomID(), secret: secret, csrf: randomID(), expires: now.Add(st.ttl)}
	st.sessions[s.id] = s
	return s
}

func (st *sessionStore) purgeLocked(now time.Time) {
	for id, s := range st.sessions {
		if !now.Before(s.expires) {
			delete(st.sessions, id)
		}
	}
	for id, t := range st.tickets {
		if !now.Before(t.expires) {
			delete(st.tickets, id)
		}
	}
}

// get returns a live session and extends it (sliding expiry); an expired
// one is removed.
func (st *sessionStore) get(id string) (session, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.sessions[id]
	if !ok {
		return session{}, false
	}
	now := st.now()
	if !now.Before(s.expires) {
		delete(st.sessions, id)
		return session{}, false
	}
	s.expires = now.Add(st.ttl)
	return *s, true
}

// takeFlash returns and clears the session's flash.
func (st *sessionStore) takeFlash(id string) *flash {
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.sessions[id]
	if !ok {
		return nil
	}
	f := s.flash
	s.flash = nil
	return f
}

func (st *sessionStore) setFlash(id string, f *flash) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if s, ok := st.sessions[id]; ok {
		s.flash = f
	}
}

func (st *sessionStore) delete(id string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.sessions, id)
}

// newTicket makes a single-use sign-in ticket for a token secret.
func (st *sessionStore) newTicket(secret string) (string, time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	if len(st.tickets) >= maxTickets {
		st.purgeLocked(now)
	}
	id := randomID()
	exp := now.Add(ticketTTL)
	if len(st.tickets) < maxTickets {
		st.tickets[id] = ticket{secret: secret, expires: exp}
	}
	return id, exp
}

// redeem consumes a ticket: it works once, before it expires.
func (st *sessionStore) redeem(id string) (string, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	t, ok := st.tickets[id]
	if !ok {
		return "", false
	}
	delete(st.tickets, id)
	if !st.now().Before(t.expires) {
		return "", false
	}
	return t.secret, true
}

func equalSecret(a, b string) bool {
	return a != "" && len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
