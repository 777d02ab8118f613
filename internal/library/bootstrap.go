package library

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// MinAdminSecret is the shortest --admin-token accepted (DESIGN §8).
const MinAdminSecret = 24

// EvAdminReset is the event of `reliquary token reset-admin`.
const EvAdminReset = "token.admin_reset"

// Bootstrapped is what BootstrapAdmin did.
type Bootstrapped struct {
	// Generated is a new admin secret to print once: no token existed and
	// none was given.
	Generated string
	// Created is true when the bootstrap admin token was created.
	Created bool
	// Ignored, when not empty, says why the given secret was not used.
	Ignored string
}

// BootstrapAdmin creates the first admin of an index that never had a
// token: with the given secret, or a generated one when secret is "". Once
// any token exists (revoked ones count) the secret is never used again: a
// revoked bootstrap admin stays revoked, and a different secret never
// replaces the first. Then the result says why it was ignored, unless the
// secret is the live bootstrap admin's own (a plain restart).
func (s *Service) BootstrapAdmin(ctx context.Context, secret string) (Bootstrapped, error) {
	var out Bootstrapped
	if secret != "" && len(secret) < MinAdminSecret {
		return out, withDetails(ErrInvalidInput, fmt.Sprintf("the admin token must be at least %d characters", MinAdminSecret), nil)
	}
	err := s.update(ctx, func(tx WriteTx) error {
		any := false
		if err := tx.Tokens(func(*Token) bool { any = true; return false }); err != nil {
			return err
		}
		if any {
			if secret == "" {
				return nil
			}
			existing, err := tx.Token(BootstrapTokenID)
			if err != nil && !errors.Is(err, ErrTokenNotFound) {
				return err
			}
			hash := hex.EncodeToString(HashSecret(secret))
			switch {
			case existing != nil && existing.SecretHash == hash && !existing.Revoked:
			case existing != nil && existing.SecretHash == hash:
				out.Ignored = "--admin-token is ignored: that bootstrap admin was revoked and stays revoked; run `reliquary token reset-admin` with the server stopped to recover admin access"
			default:
				out.Ignored = "--admin-token is ignored: the index already has tokens and the bootstrap admin is created only once; run `reliquary token reset-admin` with the server stopped to recover admin access"
			}
			return nil
		}
		if secret == "" {
			out.Generated = NewSecret()
			secret = out.Generated
		}
		out.Created = true
		return putBootstrapAdmin(tx, secret, "bootstrap", EvTokenCreated, s.clock())
	})
	return out, err
}

// ResetAdmin is the offline recovery path (`reliquary token reset-admin`,
// server stopped): the bootstrap admin token gets a new secret, unscoped,
// role admin and not revoked, journaled as token.admin_reset. The new
// secret is returned to be printed once.
func (s *Service) ResetAdmin(ctx context.Context, actor string) (string, error) {
	secret := NewSecret()
	err := s.update(ctx, func(tx WriteTx) error {
		return putBootstrapAdmin(tx, secret, actor, EvAdminReset, s.clock())
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

func putBootstrapAdmin(tx WriteTx, secret, actor, eventType string, now time.Time) error {
	t := &Token{ID: BootstrapTokenID, Name: "admin", Role: RoleAdmin, Products: []string{},
		SecretHash: hex.EncodeToString(HashSecret(secret)), CreatedBy: actor, CreatedAt: now}
	if err := tx.PutToken(t); err != nil {
		return err
	}
	_, err := tx.Record(Event{Time: now, Actor: actor, Type: eventType, Subject: t.ID,
		Data: map[string]any{"id": t.ID, "name": t.Name, "role": t.Role, "products": t.Products}})
	return err
}
