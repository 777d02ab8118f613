package library

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Role is what a token may do; each role has the rights of those before it.
type Role int

// The roles, in order of rights.
const (
	RoleNone Role = iota
	RoleReader
	RoleDeployer
	RolePublisher
	RoleReleaseManager
	RoleAdmin
)

var roleNames = []string{"", "reader", "deployer", "publisher", "release-manager", "admin"}

func (r Role) String() string {
	if r < 0 || int(r) >= len(roleNames) {
		return "unknown"
	}
	return roleNames[r]
}

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	if i := slices.Index(roleNames, s); i > 0 {
		return Role(i), nil
	}
	return RoleNone, withDetails(ErrInvalidInput,
		fmt.Sprintf("role %q is not one of reader, deployer, publisher, release-manager, admin", clip(s)), map[string]any{"role": clip(s)})
}

// MarshalText implements encoding.TextMarshaler.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Role) UnmarshalText(b []byte) error {
	v, err := ParseRole(string(b))
	*r = v
	return err
}

// Token is an API credential. Its secret is shown once at creation and
// stored only as a SHA-256 hash. The token's name identifies who acts: the
// four-eyes rule compares names, so a person's several tokens count as one.
type Token struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Role       Role      `json:"role"`
	Products   []string  `json:"products"`
	SecretHash string    `json:"secret_hash"`
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at"`
	Revoked    bool      `json:"revoked"`
	// Lifetimes (DESIGN §11): nil means the token never expires, or was
	// never used since last_used_at was recorded.
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	// Versions limits the releases the token may create (trusted publishing).
	Versions string `json:"versions,omitempty"`
	// OIDC names the trusted publisher and identity a token was minted for.
	OIDC *TokenOIDC `json:"oidc,omitempty"`
}

// SecretPrefix starts every token secret, so secret scanners can find leaked ones.
const SecretPrefix = "rlq_"

// NewSecret makes a random token secret.
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// HashSecret is how secrets are stored and looked up.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Matches compares a presented secret's hash with the stored one in
// constant time.
func (t *Token) Matches(hash []byte) bool {
	stored, err := hex.DecodeString(t.SecretHash)
	return err == nil && subtle.ConstantTimeCompare(stored, hash) == 1
}

// Principal is who makes a request.
type Principal struct {
	Name     string
	TokenID  string
	Role     Role
	Products []string // empty: every product
	// Versions, when set, is a SemVer constraint on the releases the
	// principal may create or change (tokens minted by trusted publishing).
	Versions string
}

// Anonymous is the principal of an unauthenticated read when anonymous
// reads are on.
var Anonymous = Principal{Name: "anonymous", Role: RoleReader}

// CanAccess reports whether the principal's product scope includes product.
func (p Principal) CanAccess(product string) bool {
	return len(p.Products) == 0 || slices.Contains(p.Products, product)
}

var tokenNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$`)

// TokenInput is a request for a new token.
type TokenInput struct {
	Name     string   `json:"name"`
	Role     string   `json:"role"`
	Products []string `json:"products"`
	// TTL, when set, makes the token expire that long after its creation.
	TTL TTL `json:"ttl"`
}

func (in TokenInput) validate() (Role, []string, error) {
	if !tokenNameRe.MatchString(in.Name) {
		return RoleNone, nil, withDetails(ErrInvalidInput,
			fmt.Sprintf("token name %q must match %s", clip(in.Name), tokenNameRe), map[string]any{"field": "name"})
	}
	role, err := ParseRole(in.Role)
	if err != nil {
		return RoleNone, nil, err
	}
	products := slices.Clone(in.Products)
	for _, p := range products {
		if err := ValidateProductName(p); err != nil {
			return RoleNone, nil, err
		}
	}
	slices.Sort(products)
	return role, slices.Compact(products), nil
}

func newTokenID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "tok_" + strings.ToLower(hex.EncodeToString(b[:]))
}

// CreateToken issues a token; the secret is returned once and never stored.
func (s *Service) CreateToken(ctx context.Context, pr Principal, in TokenInput) (*Token, string, error) {
	role, products, err := in.validate()
	if err != nil {
		return nil, "", err
	}
	secret := NewSecret()
	if err := in.TTL.validate(); err != nil {
		return nil, "", err
	}
	t := &Token{ID: newTokenID(), Name: in.Name, Role: role, Products: products,
		SecretHash: hex.EncodeToString(HashSecret(secret)), CreatedBy: pr.Name, CreatedAt: s.clock()}
	data := map[string]any{"id": t.ID, "name": t.Name, "role": t.Role, "products": t.Products}
	if in.TTL > 0 {
		exp := t.CreatedAt.Add(time.Duration(in.TTL))
		t.ExpiresAt = &exp
		data["expires_at"] = exp
	}
	err = s.update(ctx, func(tx WriteTx) error {
		if err := tx.PutToken(t); err != nil {
			return err
		}
		_, err := tx.Record(Event{Time: t.CreatedAt, Actor: pr.Name, Type: EvTokenCreated, Subject: t.ID,
			Data: data})
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return t, secret, nil
}

// Tokens lists every token that is not revoked, oldest first.
func (s *Service) Tokens(context.Context) ([]*Token, error) {
	var out []*Token
	err := s.repo.View(func(tx ReadTx) error {
		return tx.Tokens(func(t *Token) bool {
			if !t.Revoked {
				out = append(out, t)
			}
			return true
		})
	})
	slices.SortFunc(out, func(a, b *Token) int { return a.CreatedAt.Compare(b.CreatedAt) })
	s.usage.overlay(out)
	return out, err
}

// RevokeToken disables a token for good.
func (s *Service) RevokeToken(ctx context.Context, pr Principal, id string) error {
	return s.update(ctx, func(tx WriteTx) error {
		t, err := tx.Token(id)
		if err != nil {
			return err
		}
		if t.Revoked {
			return withDetails(ErrTokenNotFound, fmt.Sprintf("token %s is already revoked", id), map[string]any{"id": id})
		}
		t.Revoked = true
		if err := tx.PutToken(t); err != nil {
			return err
		}
		_, err = tx.Record(Event{Time: s.clock(), Actor: pr.Name, Type: EvTokenRevoked, Subject: id,
			Data: map[string]any{"id": id, "name": t.Name}})
		return err
	})
}

// Authenticate maps a presented secret to its principal.
func (s *Service) Authenticate(secret string) (Principal, error) {
	if secret == "" || len(secret) > 256 {
		return Principal{}, ErrUnauthenticated
	}
	hash := HashSecret(secret)
	var t *Token
	err := s.repo.View(func(tx ReadTx) error {
		var err error
		t, err = tx.TokenByHash(hash)
		return err
	})
	if err != nil || t.Revoked || !t.Matches(hash) {
		return Principal{}, ErrUnauthenticated
	}
	now := s.clock()
	if t.ExpiresAt != nil && !now.Before(*t.ExpiresAt) {
		return Principal{}, withDetails(ErrTokenExpired, "the token expired at "+t.ExpiresAt.Format(time.RFC3339),
			map[string]any{"expires_at": t.ExpiresAt.Format(time.RFC3339)})
	}
	s.usage.touch(t.ID, now)
	return Principal{Name: t.Name, TokenID: t.ID, Role: t.Role, Products: t.Products, Versions: t.Versions}, nil
}

// BootstrapTokenID names the admin token made from --admin-token or at
// first start.
const BootstrapTokenID = "tok_bootstrap"

// Bootstrap makes sure an admin can log in (DESIGN §8 "Bootstrap
// admin"); it is BootstrapAdmin without the warning.
func (s *Service) Bootstrap(ctx context.Context, secret string) (generated string, err error) {
	b, err := s.BootstrapAdmin(ctx, secret)
	return b.Generated, err
}
