package library

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// ErrTokenExpired: a token presented after its expires_at.
var ErrTokenExpired = errors.New("token expired")

// Token lifetime bounds.
const (
	MinTokenTTL = time.Second
	MaxTokenTTL = 10 * 365 * 24 * time.Hour
	// ExpiredTokenRetention is how long an expired token is kept (so it
	// answers TOKEN_EXPIRED rather than "unknown") before it is pruned.
	ExpiredTokenRetention = 24 * time.Hour
	// DefaultTokenMaintenance is how often last_used_at is flushed and
	// expired tokens pruned.
	DefaultTokenMaintenance = 30 * time.Second
)

// TTL is a token lifetime: in JSON a Go duration string ("720h", "90m")
// or a number of seconds.
type TTL time.Duration

// UnmarshalJSON accepts "720h" or 2592000.
func (t *TTL) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("ttl %q is not a duration like 720h or 90m", clip(s))
		}
		*t = TTL(d)
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || n < 0 || n > int64(MaxTokenTTL/time.Second) {
		return errors.New("ttl must be a duration like 720h or a whole number of seconds")
	}
	*t = TTL(time.Duration(n) * time.Second)
	return nil
}

// MarshalJSON writes the Go duration string.
func (t TTL) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(t).String()) }

func (t TTL) validate() error {
	if t == 0 {
		return nil
	}
	if d := time.Duration(t); d < MinTokenTTL || d > MaxTokenTTL {
		return withDetails(ErrInvalidInput, fmt.Sprintf("ttl %s must be from %s to %s", d, MinTokenTTL, MaxTokenTTL), map[string]any{"field": "ttl"})
	}
	return nil
}

// AllowsVersion checks the principal's version constraint, if any.
func (p Principal) AllowsVersion(version string) error {
	if p.Versions == "" {
		return nil
	}
	c, err := ParseConstraint(p.Versions)
	if err != nil {
		return withDetails(ErrForbidden, "the token's version constraint is not valid", nil)
	}
	v, err := ParseVersion(version)
	if err != nil {
		return err
	}
	if !c.Check(v) {
		return withDetails(ErrForbidden, fmt.Sprintf("this token may only create and change releases matching %q, not %s", p.Versions, version),
			map[string]any{"versions": p.Versions, "version": version})
	}
	return nil
}

// tokenUsage remembers when tokens were last used, in memory: recording a
// use costs a map write, and the uses are written to the index in one
// batched transaction per flush (FlushTokenUsage), never one per request.
type tokenUsage struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (u *tokenUsage) touch(id string, at time.Time) {
	at = at.Truncate(time.Second)
	u.mu.Lock()
	if u.last == nil {
		u.last = map[string]time.Time{}
	}
	if at.After(u.last[id]) {
		u.last[id] = at
	}
	u.mu.Unlock()
}

// overlay shows uses not yet flushed.
func (u *tokenUsage) overlay(list []*Token) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, t := range list {
		if at, ok := u.last[t.ID]; ok && (t.LastUsedAt == nil || at.After(*t.LastUsedAt)) {
			at := at
			t.LastUsedAt = &at
		}
	}
}

func (u *tokenUsage) take() map[string]time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	m := u.last
	u.last = nil
	return m
}

// giveBack keeps uses a failed flush could not write.
func (u *tokenUsage) giveBack(m map[string]time.Time) {
	for id, at := range m {
		u.touch(id, at)
	}
}

// FlushTokenUsage writes the recorded uses to the tokens' last_used_at in
// one journaled transaction. It returns how many tokens it updated.
func (s *Service) FlushTokenUsage(ctx context.Context) (int, error) {
	uses := s.usage.take()
	if len(uses) == 0 {
		return 0, nil
	}
	n := 0
	err := s.update(ctx, func(tx WriteTx) error {
		n = 0
		var ids []string
		for id, at := range uses {
			t, err := tx.Token(id)
			if errors.Is(err, ErrTokenNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if t.Revoked || (t.LastUsedAt != nil && !at.After(*t.LastUsedAt)) {
				continue
			}
			t.LastUsedAt = &at
			if err := tx.PutToken(t); err != nil {
				return err
			}
			ids = append(ids, id)
			n++
		}
		if n == 0 {
			return nil
		}
		_, err := tx.Record(Event{Time: s.clock(), Actor: "reliquary", Type: EvTokensUsed, Subject: "tokens",
			Data: map[string]any{"tokens": ids}})
		return err
	})
	if err != nil {
		s.usage.giveBack(uses)
		return 0, err
	}
	return n, nil
}

// PruneTokens deletes tokens that expired more than ExpiredTokenRetention
// ago and forgets the ID tokens (jti) whose own expiry has passed, in one
// journaled transaction. It returns how many tokens it deleted.
func (s *Service) PruneTokens(ctx context.Context) (int, error) {
	now := s.clock()
	var pruned []string
	err := s.update(ctx, func(tx WriteTx) error {
		pruned = nil
		ptx, err := publisherTx(tx)
		if err != nil {
			return err
		}
		if err := tx.Tokens(func(t *Token) bool {
			if t.ExpiresAt != nil && now.Sub(*t.ExpiresAt) > ExpiredTokenRetention {
				pruned = append(pruned, t.ID)
			}
			return true
		}); err != nil {
			return err
		}
		var seen []string
		if err := ptx.OIDCSeenKeys(func(key string, expires time.Time) bool {
			if now.After(expires) {
				seen = append(seen, key)
			}
			return true
		}); err != nil {
			return err
		}
		if len(pruned) == 0 && len(seen) == 0 {
			return nil
		}
		for _, id := range pruned {
			if err := ptx.DeleteToken(id); err != nil {
				return err
			}
		}
		for _, k := range seen {
			if err := ptx.DeleteOIDCSeen(k); err != nil {
				return err
			}
		}
		_, err = tx.Record(Event{Time: now, Actor: "reliquary", Type: EvTokensPruned, Subject: "tokens",
			Data: map[string]any{"tokens": nonNil(pruned), "id_tokens_forgotten": len(seen)}})
		return err
	})
	return len(pruned), err
}

// RunTokenMaintenance flushes last_used_at and prunes expired tokens every
// interval until ctx ends, then flushes one last time.
func (s *Service) RunTokenMaintenance(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultTokenMaintenance
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if _, err := s.FlushTokenUsage(context.WithoutCancel(ctx)); err != nil {
				s.log.Warn("flush token usage", "err", err)
			}
			return
		case <-tick.C:
		}
		if _, err := s.FlushTokenUsage(ctx); err != nil {
			s.log.Warn("flush token usage", "err", err)
		}
		if _, err := s.PruneTokens(ctx); err != nil {
			s.log.Warn("prune expired tokens", "err", err)
		}
	}
}
