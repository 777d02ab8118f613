package index

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/reliquary/reliquary/internal/library"
)

var _ library.PublisherTx = (*tx)(nil)

func publisherKey(product, id string) []byte {
	return append(productPrefix(product), id...)
}

// Publishers implements library.PublisherTx.
func (t *tx) Publishers(product string, fn func(*library.TrustedPublisher) bool) error {
	var prefix []byte
	if product != "" {
		prefix = productPrefix(product)
	}
	c := t.b(bucketPublishers).Cursor()
	for k, v := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, v = c.Next() {
		var p library.TrustedPublisher
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("index publisher %q: %w", k, err)
		}
		if !fn(&p) {
			return nil
		}
	}
	return nil
}

// PutPublisher implements library.PublisherTx.
func (t *tx) PutPublisher(p *library.TrustedPublisher) error {
	return t.putJSON(bucketPublishers, publisherKey(p.Product, p.ID), p)
}

// DeletePublisher implements library.PublisherTx.
func (t *tx) DeletePublisher(product, id string) error {
	return t.del(bucketPublishers, publisherKey(product, id))
}

type seenEntry struct {
	ExpiresAt time.Time `json:"expires_at"`
}

// OIDCSeen implements library.PublisherTx.
func (t *tx) OIDCSeen(key string) (bool, error) {
	return t.b(bucketOIDCSeen).Get([]byte(key)) != nil, nil
}

// PutOIDCSeen implements library.PublisherTx.
func (t *tx) PutOIDCSeen(key string, expires time.Time) error {
	return t.putJSON(bucketOIDCSeen, []byte(key), seenEntry{ExpiresAt: expires.UTC()})
}

// OIDCSeenKeys implements library.PublisherTx.
func (t *tx) OIDCSeenKeys(fn func(string, time.Time) bool) error {
	c := t.b(bucketOIDCSeen).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var e seenEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("index oidc_seen %q: %w", k, err)
		}
		if !fn(string(k), e.ExpiresAt) {
			return nil
		}
	}
	return nil
}

// DeleteOIDCSeen implements library.PublisherTx.
func (t *tx) DeleteOIDCSeen(key string) error {
	return t.del(bucketOIDCSeen, []byte(key))
}

// DeleteToken implements library.PublisherTx: the token and its hash entry.
func (t *tx) DeleteToken(id string) error {
	tok, err := t.Token(id)
	if err != nil {
		return err
	}
	if h, err := hex.DecodeString(tok.SecretHash); err == nil {
		if err := t.del(bucketTokenHashes, h); err != nil {
			return err
		}
	}
	return t.del(bucketTokens, []byte(id))
}
