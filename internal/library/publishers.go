package library

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	glob "github.com/ryanuber/go-glob"
)

// Trusted publishing (DESIGN §11): a CI job proves who it is with its
// platform's OIDC ID token and gets a short-lived token scoped to one
// product. The token's verification (signature, issuer, expiry) happens
// outside the domain (internal/oidc); the library matches the verified
// identity against the product's trusted publishers and mints the token.

// Errors of trusted publishing.
var (
	// ErrNoTrustedPublisher: a valid ID token that no trusted publisher accepts.
	ErrNoTrustedPublisher = errors.New("no trusted publisher matches the ID token")
	// ErrTokenReplayed: an ID token whose jti was already exchanged.
	ErrTokenReplayed = errors.New("the ID token was already exchanged")
	// ErrPublisherNotFound: no such trusted publisher under the product.
	ErrPublisherNotFound = errors.New("trusted publisher not found")
)

// Event types of trusted publishing and token lifetimes.
const (
	EvPublisherCreated = "publisher.created"
	EvPublisherDeleted = "publisher.deleted"
	EvTokensUsed       = "token.used"
	EvTokensPruned     = "token.pruned"
)

// TrustedPublisher lets ID tokens of one issuer, for one audience and with
// matching claims, exchange themselves for a token on one product.
type TrustedPublisher struct {
	ID       string            `json:"id"`
	Product  string            `json:"product"`
	Issuer   string            `json:"issuer"`
	Audience string            `json:"audience"`
	Claims   map[string]string `json:"claims"`
	Role     Role              `json:"role"`
	// Versions, when set, is a SemVer constraint on the releases the
	// minted token may create.
	Versions  string    `json:"versions,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// PublisherInput registers a trusted publisher.
type PublisherInput struct {
	Issuer   string            `json:"issuer"`
	Audience string            `json:"audience"`
	Claims   map[string]string `json:"claims"`
	Role     string            `json:"role"`
	Versions string            `json:"versions"`
}

// Bounds of a trusted publisher.
const (
	maxPublisherClaims = 32
	maxClaimValue      = 512
	maxPublishers      = 100 // per product
)

var claimNameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}$`)

// reservedClaims are checked by the verifier, never matched by a publisher.
var reservedClaims = []string{"iss", "aud", "exp", "nbf", "iat", "jti"}

func (in PublisherInput) validate() (Role, error) {
	u, err := url.Parse(in.Issuer)
	if in.Issuer == "" || len(in.Issuer) > 512 || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return RoleNone, withDetails(ErrInvalidInput, fmt.Sprintf("issuer %q must be an https URL (the iss claim of the ID tokens)", clip(in.Issuer)),
			map[string]any{"field": "issuer"})
	}
	if in.Audience == "" {
		return RoleNone, withDetails(ErrInvalidInput, "audience is required (the aud the CI job requests, e.g. reliquary)", map[string]any{"field": "audience"})
	}
	if err := checkText("audience", in.Audience, 256); err != nil {
		return RoleNone, err
	}
	if len(in.Claims) == 0 {
		return RoleNone, withDetails(ErrInvalidInput,
			"claims must name at least one claim (e.g. repository): without one, every workflow of the issuer could publish", map[string]any{"field": "claims"})
	}
	if len(in.Claims) > maxPublisherClaims {
		return RoleNone, withDetails(ErrInvalidInput, fmt.Sprintf("at most %d claims", maxPublisherClaims), map[string]any{"field": "claims"})
	}
	for k, v := range in.Claims {
		if !claimNameRe.MatchString(k) || slices.Contains(reservedClaims, k) {
			return RoleNone, withDetails(ErrInvalidInput, fmt.Sprintf("claim name %q must match %s and not be one of %s", clip(k), claimNameRe, strings.Join(reservedClaims, ", ")),
				map[string]any{"field": "claims"})
		}
		if v == "" || strings.Trim(v, "*") == "" {
			return RoleNone, withDetails(ErrInvalidInput, fmt.Sprintf("claim %s: the value must not be empty or only *", k), map[string]any{"field": "claims." + k})
		}
		if err := checkText("claims."+k, v, maxClaimValue); err != nil {
			return RoleNone, err
		}
	}
	role, err := ParseRole(in.Role)
	if err != nil {
		return RoleNone, err
	}
	if role != RolePublisher && role != RoleDeployer {
		return RoleNone, withDetails(ErrInvalidInput, fmt.Sprintf("role %q: a trusted publisher is a publisher or a deployer", in.Role), map[string]any{"field": "role"})
	}
	if in.Versions != "" {
		if _, err := ParseConstraint(in.Versions); err != nil {
			return RoleNone, err
		}
	}
	return role, nil
}

// PublisherTx is the part of the index that holds trusted publishers, the
// ID tokens already exchanged and token lifetimes. The index's
// transactions implement it next to ReadTx and WriteTx.
type PublisherTx interface {
	// Publishers walks a product's trusted publishers ("" : every product's).
	Publishers(product string, fn func(*TrustedPublisher) bool) error
	PutPublisher(*TrustedPublisher) error
	DeletePublisher(product, id string) error
	// OIDCSeen reports whether an ID token's replay key was recorded.
	OIDCSeen(key string) (bool, error)
	// PutOIDCSeen remembers a replay key until expires.
	PutOIDCSeen(key string, expires time.Time) error
	// OIDCSeenKeys walks the remembered replay keys.
	OIDCSeenKeys(fn func(key string, expires time.Time) bool) error
	DeleteOIDCSeen(key string) error
	// DeleteToken removes a token and its hash entry for good (pruning).
	DeleteToken(id string) error
}

func publisherTx(tx ReadTx) (PublisherTx, error) {
	ptx, ok := tx.(PublisherTx)
	if !ok {
		return nil, fmt.Errorf("index %T does not store trusted publishers", tx)
	}
	return ptx, nil
}

func newPublisherID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "tp_" + hex.EncodeToString(b[:])
}

// CreatePublisher registers a trusted publisher on a product.
func (s *Service) CreatePublisher(ctx context.Context, pr Principal, product string, in PublisherInput) (*TrustedPublisher, error) {
	if err := ValidateProductName(product); err != nil {
		return nil, err
	}
	role, err := in.validate()
	if err != nil {
		return nil, err
	}
	p := &TrustedPublisher{ID: newPublisherID(), Product: product, Issuer: in.Issuer, Audience: in.Audience, Claims: in.Claims,
		Role: role, Versions: in.Versions, CreatedBy: pr.Name, CreatedAt: s.clock()}
	err = s.update(ctx, func(tx WriteTx) error {
		if _, err := tx.Product(product); err != nil {
			return err
		}
		ptx, err := publisherTx(tx)
		if err != nil {
			return err
		}
		n := 0
		if err := ptx.Publishers(product, func(*TrustedPublisher) bool { n++; return true }); err != nil {
			return err
		}
		if n >= maxPublishers {
			return withDetails(ErrInvalidInput, fmt.Sprintf("product %s already has %d trusted publishers", product, n), map[string]any{"limit": maxPublishers})
		}
		if err := ptx.PutPublisher(p); err != nil {
			return err
		}
		_, err = tx.Record(Event{Time: p.CreatedAt, Actor: pr.Name, Type: EvPublisherCreated, Subject: product, Data: map[string]any{
			"id": p.ID, "product": product, "issuer": p.Issuer, "audience": p.Audience, "claims": p.Claims, "role": p.Role, "versions": p.Versions}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Publishers lists a product's trusted publishers, oldest first.
func (s *Service) Publishers(_ context.Context, product string) ([]*TrustedPublisher, error) {
	out := []*TrustedPublisher{}
	err := s.repo.View(func(tx ReadTx) error {
		if _, err := tx.Product(product); err != nil {
			return err
		}
		ptx, err := publisherTx(tx)
		if err != nil {
			return err
		}
		return ptx.Publishers(product, func(p *TrustedPublisher) bool { out = append(out, p); return true })
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, err
}

// DeletePublisher removes a trusted publisher. Tokens it already minted
// live out their short lifetime.
func (s *Service) DeletePublisher(ctx context.Context, pr Principal, product, id string) error {
	return s.update(ctx, func(tx WriteTx) error {
		if _, err := tx.Product(product); err != nil {
			return err
		}
		ptx, err := publisherTx(tx)
		if err != nil {
			return err
		}
		var found *TrustedPublisher
		if err := ptx.Publishers(product, func(p *TrustedPublisher) bool {
			if p.ID == id {
				found = p
			}
			return found == nil
		}); err != nil {
			return err
		}
		if found == nil {
			return withDetails(ErrPublisherNotFound, fmt.Sprintf("trusted publisher %q not found in product %s", clip(id), product), map[string]any{"id": clip(id)})
		}
		if err := ptx.DeletePublisher(product, id); err != nil {
			return err
		}
		_, err = tx.Record(Event{Time: s.clock(), Actor: pr.Name, Type: EvPublisherDeleted, Subject: product,
			Data: map[string]any{"id": id, "product": product}})
		return err
	})
}

// OIDCIdentity is a verified OIDC ID token: its signature, issuer, expiry
// and times were checked before it reaches the library.
type OIDCIdentity struct {
	Issuer   string
	Subject  string
	Audience []string
	JTI      string
	Expiry   time.Time
	Claims   map[string]any
}

// TokenOIDC records which trusted publisher minted a token and for whom.
type TokenOIDC struct {
	Issuer    string `json:"issuer"`
	Subject   string `json:"subject"`
	Publisher string `json:"publisher"`
}

// DefaultOIDCTokenTTL is the lifetime of a token minted for an ID token.
const DefaultOIDCTokenTTL = 15 * time.Minute

// claimString is a claim's value as a publisher's pattern sees it:
// strings as they are, booleans and numbers in their JSON form; objects,
// arrays and null never match.
func claimString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return "", false
}

// MatchClaims reports whether every claim pattern of the publisher matches
// the identity's claims (exactly, or by * globs), and returns the matched
// claims' values.
func (p *TrustedPublisher) MatchClaims(claims map[string]any) (map[string]string, bool) {
	matched := make(map[string]string, len(p.Claims))
	for name, pattern := range p.Claims {
		got, ok := claimString(claims[name])
		if !ok {
			return nil, false
		}
		if !strings.Contains(pattern, "*") {
			if got != pattern {
				return nil, false
			}
		} else if !glob.Glob(pattern, got) {
			return nil, false
		}
		matched[name] = got
	}
	return matched, true
}

// matches reports whether the publisher accepts the identity.
func (p *TrustedPublisher) matches(id OIDCIdentity) (map[string]string, bool) {
	if p.Issuer != id.Issuer || !slices.Contains(id.Audience, p.Audience) {
		return nil, false
	}
	return p.MatchClaims(id.Claims)
}

// replayKey names an ID token in the replay memory: issuer and jti.
func replayKey(issuer, jti string) string {
	h := sha256.Sum256([]byte(issuer + "\x00" + jti))
	return hex.EncodeToString(h[:])
}

// OIDCExchange is the answer to an exchange: the minted token, its secret
// (shown once) and the publisher that matched.
type OIDCExchange struct {
	Token     *Token
	Secret    string
	Publisher *TrustedPublisher
	Matched   map[string]string
}

// ExchangeOIDC mints a product-scoped token for a verified ID token that a
// trusted publisher accepts. The ID token's jti is remembered until its
// expiry in the same transaction, so it is exchanged at most once. product,
// when set, considers only that product's publishers (a workflow trusted
// by several products chooses); when several publishers match, the one
// with the most claims wins (then the oldest).
func (s *Service) ExchangeOIDC(ctx context.Context, id OIDCIdentity, product string) (*OIDCExchange, error) {
	if id.Issuer == "" || id.Subject == "" || id.JTI == "" {
		return nil, withDetails(ErrInvalidInput, "the ID token needs iss, sub and jti", nil)
	}
	if product != "" {
		if err := ValidateProductName(product); err != nil {
			return nil, err
		}
	}
	now := s.clock()
	ttl := s.oidcTTL
	if ttl <= 0 {
		ttl = DefaultOIDCTokenTTL
	}
	var out *OIDCExchange
	err := s.update(ctx, func(tx WriteTx) error {
		ptx, err := publisherTx(tx)
		if err != nil {
			return err
		}
		key := replayKey(id.Issuer, id.JTI)
		seen, err := ptx.OIDCSeen(key)
		if err != nil {
			return err
		}
		if seen {
			return withDetails(ErrTokenReplayed, "this ID token (its jti) was already exchanged; request a new one", nil)
		}
		var best *TrustedPublisher
		var bestMatched map[string]string
		if err := ptx.Publishers(product, func(p *TrustedPublisher) bool {
			m, ok := p.matches(id)
			if ok && (best == nil || len(p.Claims) > len(best.Claims) ||
				len(p.Claims) == len(best.Claims) && p.CreatedAt.Before(best.CreatedAt)) {
				best, bestMatched = p, m
			}
			return true
		}); err != nil {
			return err
		}
		if best == nil {
			return withDetails(ErrNoTrustedPublisher, "no trusted publisher accepts this ID token (issuer, audience and claims must all match)",
				map[string]any{"issuer": clip(id.Issuer), "subject": clip(id.Subject)})
		}
		if _, err := tx.Product(best.Product); err != nil {
			return err
		}
		secret := NewSecret()
		expires := now.Add(ttl)
		name := "oidc:" + id.Subject
		if len(name) > 200 {
			name = strings.ToValidUTF8(name[:200], "")
		}
		t := &Token{ID: newTokenID(), Name: name, Role: best.Role, Products: []string{best.Product},
			SecretHash: hex.EncodeToString(HashSecret(secret)), CreatedBy: "oidc:" + best.ID, CreatedAt: now,
			ExpiresAt: &expires, Versions: best.Versions, OIDC: &TokenOIDC{Issuer: id.Issuer, Subject: id.Subject, Publisher: best.ID}}
		if err := tx.PutToken(t); err != nil {
			return err
		}
		remember := id.Expiry
		if remember.Before(now) {
			remember = now
		}
		if err := ptx.PutOIDCSeen(key, remember); err != nil {
			return err
		}
		_, err = tx.Record(Event{Time: now, Actor: name, Type: EvTokenCreated, Subject: t.ID, Data: map[string]any{
			"id": t.ID, "name": t.Name, "role": t.Role, "products": t.Products, "expires_at": expires, "versions": t.Versions,
			"oidc": map[string]any{"issuer": id.Issuer, "subject": id.Subject, "publisher": best.ID, "claims": bestMatched}}})
		if err != nil {
			return err
		}
		out = &OIDCExchange{Token: t, Secret: secret, Publisher: best, Matched: bestMatched}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
