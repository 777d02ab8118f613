package api

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/api/wire"
	"github.com/reliquary/reliquary/internal/library"
)

// Download links (DESIGN §15): a URL on this server for one artifact that
// needs no Authorization header, for clients that cannot send one or that
// forward it where they should not (`wget "$(reliquary url …)"`). The URL is
// the artifact's own download path with a ticket in the query:
//
//	ticket = base64url(claims JSON) "." base64url(HMAC-SHA256(secret, "reliquary-link-v1." + claims part))
//
// The claims name the product, version and artifact, the token that made
// the link and the expiry. A ticket is refused after its expiry, for any
// other artifact, and once the token that made it is revoked.

// Link lifetimes.
const (
	DefaultLinkTTL = 15 * time.Minute
	MaxLinkTTL     = 7 * 24 * time.Hour
	// maxTicketLen bounds what is parsed from the query.
	maxTicketLen = 2048
	ticketDomain = "reliquary-link-v1."
)

// ArtifactLink is the answer of GET …/artifacts/{name}/link.
type ArtifactLink = wire.ArtifactLink

type ticketClaims struct {
	Product  string `json:"p"`
	Version  string `json:"v"`
	Artifact string `json:"a"`
	TokenID  string `json:"t,omitempty"`
	Expires  int64  `json:"e"` // Unix seconds
}

// NewLinkSecret makes a random secret for signing download links.
func NewLinkSecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

func (s *Server) ticketMAC(claims string) []byte {
	m := hmac.New(sha256.New, s.linkSecret)
	m.Write([]byte(ticketDomain))
	m.Write([]byte(claims))
	return m.Sum(nil)
}

func (s *Server) signTicket(cl ticketClaims) string {
	b, _ := json.Marshal(cl)
	claims := base64.RawURLEncoding.EncodeToString(b)
	return claims + "." + base64.RawURLEncoding.EncodeToString(s.ticketMAC(claims))
}

// errTicket is why a ticket is refused; its text is shown to the client.
var errTicket = errors.New("download link refused")

// ParseTicket checks a ticket's form and signature and returns its claims;
// it does not check expiry, artifact or token.
func (s *Server) parseTicket(t string) (ticketClaims, error) {
	var cl ticketClaims
	if len(t) > maxTicketLen {
		return cl, fmt.Errorf("%w: the ticket is too long", errTicket)
	}
	claims, sig, ok := strings.Cut(t, ".")
	if !ok {
		return cl, fmt.Errorf("%w: the ticket is malformed", errTicket)
	}
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(mac, s.ticketMAC(claims)) {
		return cl, fmt.Errorf("%w: the ticket's signature is not valid", errTicket)
	}
	raw, err := base64.RawURLEncoding.DecodeString(claims)
	if err != nil || json.Unmarshal(raw, &cl) != nil {
		return cl, fmt.Errorf("%w: the ticket is malformed", errTicket)
	}
	return cl, nil
}

// isDownloadRoute reports whether a route serves artifact bytes, the only
// routes a ticket opens.
func isDownloadRoute(rt Route) bool {
	return (rt.Method == http.MethodGet || rt.Method == http.MethodHead) &&
		rt.Path == APIPrefix+"/products/:product/releases/:version/artifacts/:name"
}

// ticketPrincipal authenticates a download by its ?ticket=: the principal
// is the (still valid) token that made the link.
func (s *Server) ticketPrincipal(c *gin.Context) (library.Principal, error) {
	cl, err := s.parseTicket(c.Query("ticket"))
	if err != nil {
		return library.Principal{}, err
	}
	if time.Now().Unix() >= cl.Expires {
		return library.Principal{}, fmt.Errorf("%w: the link expired at %s", errTicket, time.Unix(cl.Expires, 0).UTC().Format(time.RFC3339))
	}
	if cl.Product != c.Param("product") || cl.Artifact != c.Param("name") ||
		(cl.Version != c.Param("version") && cl.Version != library.NormalizeVersionInput(c.Param("version"))) {
		return library.Principal{}, fmt.Errorf("%w: the link is for another artifact", errTicket)
	}
	if cl.TokenID == "" {
		if s.anonRead {
			return library.Anonymous, nil
		}
		return library.Principal{}, fmt.Errorf("%w: anonymous reads are off", errTicket)
	}
	pr, err := s.lib.PrincipalOf(cl.TokenID)
	if err != nil {
		return library.Principal{}, fmt.Errorf("%w: the token that made the link is revoked", errTicket)
	}
	return pr, nil
}

// artifactLink serves GET …/artifacts/{name}/link?ttl=15m.
func (s *Server) artifactLink(c *gin.Context) {
	ttl := DefaultLinkTTL
	if v := c.Query("ttl"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || len(v) > 32 || d < time.Second || d > MaxLinkTTL {
			writeError(c, http.StatusBadRequest, CodeInvalidInput,
				fmt.Sprintf("ttl %q must be a duration from 1s to %s, e.g. 15m or 24h", clipText(v), MaxLinkTTL),
				map[string]any{"field": "ttl"})
			return
		}
		ttl = d
	}
	ref, err := s.lib.Artifact(c, c.Param("product"), c.Param("version"), c.Param("name"))
	if err != nil {
		fail(c, err)
		return
	}
	exp := time.Now().Add(ttl).Truncate(time.Second)
	pr := principal(c)
	ticket := s.signTicket(ticketClaims{Product: ref.Release.Product, Version: ref.Release.Version,
		Artifact: ref.Artifact.Name, TokenID: pr.TokenID, Expires: exp.Unix()})
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: c.Request.Host,
		Path:     APIPrefix + "/products/" + ref.Release.Product + "/releases/" + ref.Release.Version + "/artifacts/" + ref.Artifact.Name,
		RawQuery: url.Values{"ticket": {ticket}}.Encode()}
	u.RawPath = APIPrefix + "/products/" + url.PathEscape(ref.Release.Product) + "/releases/" + url.PathEscape(ref.Release.Version) +
		"/artifacts/" + url.PathEscape(ref.Artifact.Name)
	c.JSON(http.StatusOK, ArtifactLink{URL: u.String(), ExpiresAt: exp.UTC()})
}

// clipText shortens client text quoted back in a message.
func clipText(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
