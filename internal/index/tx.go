package index

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	bolt "go.etcd.io/bbolt"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
)

// tx implements library.ReadTx and library.WriteTx on one bbolt transaction.
type tx struct {
	btx     *bolt.Tx
	events  []*journal.Event
	pending []Change // writes not yet attached to an event
}

func (t *tx) b(name []byte) *bolt.Bucket { return t.btx.Bucket(name) }

func notFound(err error, msg string) error {
	return &library.DetailedError{Err: err, Msg: msg}
}

func (t *tx) Product(name string) (*library.Product, error) {
	p, err := getJSON[library.Product](t.b(bucketProducts), []byte(name))
	if err == nil && p == nil {
		err = notFound(library.ErrProductNotFound, fmt.Sprintf("product %q not found", name))
	}
	return p, err
}

func (t *tx) Products(fn func(*library.Product) bool) error {
	c := t.b(bucketProducts).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var p library.Product
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("index product %q: %w", k, err)
		}
		if !fn(&p) {
			return nil
		}
	}
	return nil
}

func (t *tx) Release(product, version string) (*library.Release, error) {
	vk, err := versionKeyOf(version)
	if err != nil {
		return nil, err
	}
	r, err := getJSON[library.Release](t.b(bucketReleases), releaseKey(product, vk))
	if err == nil && r == nil {
		if _, perr := t.Product(product); perr != nil {
			return nil, perr
		}
		err = notFound(library.ErrReleaseNotFound, fmt.Sprintf("release %s@%s not found", product, version))
	}
	return r, err
}

func (t *tx) Releases(product string, q library.ReleaseQuery) ([]*library.Release, error) {
	prefix := productPrefix(product)
	c := t.b(bucketReleases).Cursor()
	var k, v []byte
	if q.Before != "" {
		vk, err := versionKeyOf(q.Before)
		if err != nil {
			return nil, err
		}
		k, _ = c.Seek(releaseKey(product, vk))
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev() // Seek lands on the cursor version or past it: step below
		}
	} else {
		// The first key after the product's range, then one back.
		end := append([]byte(product), sep+1)
		k, _ = c.Seek(end)
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
	}
	var stop []byte
	if q.AtLeast != "" {
		vk, err := versionKeyOf(q.AtLeast)
		if err != nil {
			return nil, err
		}
		stop = releaseKey(product, vk)
	}
	var out []*library.Release
	size := 0
	for ; k != nil && hasPrefix(k, prefix); k, v = c.Prev() {
		if stop != nil && bytes.Compare(k, stop) < 0 {
			break
		}
		var r library.Release
		if err := json.Unmarshal(v, &r); err != nil {
			return nil, fmt.Errorf("index release %q: %w", k, err)
		}
		if q.Scanned != nil {
			*q.Scanned++
		}
		if q.Match != nil && !q.Match(&r) {
			continue
		}
		if q.MaxBytes > 0 && len(out) > 0 && size+len(v) > q.MaxBytes {
			if q.Truncated != nil {
				*q.Truncated = true
			}
			break
		}
		size += len(v)
		out = append(out, &r)
		if q.Limit > 0 && len(out) >= q.Limit {
			break
		}
	}
	return out, nil
}

func (t *tx) Artifacts(product, version string) ([]library.Artifact, error) {
	vk, err := versionKeyOf(version)
	if err != nil {
		return nil, err
	}
	prefix := artifactPrefix(product, vk)
	out := []library.Artifact{}
	c := t.b(bucketArtifacts).Cursor()
	for k, v := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, v = c.Next() {
		var a library.Artifact
		if err := json.Unmarshal(v, &a); err != nil {
			return nil, fmt.Errorf("index artifact %q: %w", k, err)
		}
		out = append(out, a)
	}
	return out, nil
}

func (t *tx) Artifact(product, version, name string) (*library.Artifact, error) {
	vk, err := versionKeyOf(version)
	if err != nil {
		return nil, err
	}
	a, err := getJSON[library.Artifact](t.b(bucketArtifacts), artifactKey(product, vk, name))
	if err == nil && a == nil {
		err = notFound(library.ErrArtifactNotFound, fmt.Sprintf("artifact %s not found in %s@%s", name, product, version))
	}
	return a, err
}

func (t *tx) Token(id string) (*library.Token, error) {
	tok, err := getJSON[library.Token](t.b(bucketTokens), []byte(id))
	if err == nil && tok == nil {
		err = notFound(library.ErrTokenNotFound, fmt.Sprintf("token %q not found", id))
	}
	return tok, err
}

func (t *tx) TokenByHash(hash []byte) (*library.Token, error) {
	raw := t.b(bucketTokenHashes).Get(hash)
	var id string
	if raw == nil || json.Unmarshal(raw, &id) != nil {
		return nil, library.ErrTokenNotFound
	}
	return t.Token(id)
}

func (t *tx) Tokens(fn func(*library.Token) bool) error {
	c := t.b(bucketTokens).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var tok library.Token
		if err := json.Unmarshal(v, &tok); err != nil {
			return fmt.Errorf("index token %q: %w", k, err)
		}
		if !fn(&tok) {
			return nil
		}
	}
	return nil
}

func (t *tx) Events(after uint64, limit int) ([]*journal.Event, error) {
	var out []*journal.Event
	if after == math.MaxUint64 { // nothing can follow; after+1 would wrap to 0
		return nil, nil
	}
	c := t.b(bucketJournal).Cursor()
	for k, v := c.Seek(seqKey(after + 1)); k != nil; k, v = c.Next() {
		e, err := journal.Decode(v)
		if err != nil {
			return out, fmt.Errorf("journal seq %d: %w", seqFromKey(k), err)
		}
		out = append(out, e)
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out, nil
}

func (t *tx) Head() (uint64, string, error) {
	seq, hash := decodeHead(t.b(bucketMeta).Get(keyJournalHead))
	if hash == "" {
		hash = journal.ZeroHash
	}
	return seq, hash, nil
}

func (t *tx) PutProduct(p *library.Product) error {
	return t.putJSON(bucketProducts, []byte(p.Name), p)
}

func (t *tx) PutRelease(r *library.Release) error {
	vk, err := versionKeyOf(r.Version)
	if err != nil {
		return err
	}
	// CMDB link entries (change_id, ci_ids, labels) follow the record (links.go).
	if err := t.syncReleaseLinks(r, vk); err != nil {
		return err
	}
	stored := *r
	stored.Artifacts = nil // artifacts live in their own bucket
	return t.putJSON(bucketReleases, releaseKey(r.Product, vk), &stored)
}

func (t *tx) PutArtifact(product, version string, a *library.Artifact) error {
	vk, err := versionKeyOf(version)
	if err != nil {
		return err
	}
	if err := t.putDigestLink(product, vk, a); err != nil { // digests.go
		return err
	}
	return t.putJSON(bucketArtifacts, artifactKey(product, vk, a.Name), a)
}

func (t *tx) DeleteArtifact(product, version, name string) error {
	vk, err := versionKeyOf(version)
	if err != nil {
		return err
	}
	if err := t.dropDigestLink(product, vk, name); err != nil { // digests.go
		return err
	}
	return t.del(bucketArtifacts, artifactKey(product, vk, name))
}

func (t *tx) PutToken(tok *library.Token) error {
	if old, _ := getJSON[library.Token](t.b(bucketTokens), []byte(tok.ID)); old != nil && old.SecretHash != tok.SecretHash {
		if h, err := hex.DecodeString(old.SecretHash); err == nil {
			if err := t.del(bucketTokenHashes, h); err != nil {
				return err
			}
		}
	}
	h, err := hex.DecodeString(tok.SecretHash)
	if err != nil {
		return fmt.Errorf("token %s: secret hash is not hex: %w", tok.ID, err)
	}
	if err := t.put(bucketTokenHashes, h, []byte(strconv.Quote(tok.ID))); err != nil {
		return err
	}
	return t.putJSON(bucketTokens, []byte(tok.ID), tok)
}

// Record appends the event to the journal in this transaction.
func (t *tx) Record(ev library.Event) (*journal.Event, error) {
	data, err := eventData(ev.Data, t.pending)
	if err != nil {
		return nil, fmt.Errorf("event %s data: %w", ev.Type, err)
	}
	t.pending = nil
	seq, prev, err := t.Head()
	if err != nil {
		return nil, err
	}
	e := &journal.Event{Time: ev.Time, Actor: ev.Actor, Type: ev.Type, Subject: ev.Subject, Data: data}
	if err := e.Seal(seq, prev); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	if err := t.b(bucketJournal).Put(seqKey(e.Seq), raw); err != nil {
		return nil, err
	}
	if err := t.b(bucketMeta).Put(keyJournalHead, encodeHead(e.Seq, e.Hash)); err != nil {
		return nil, err
	}
	if err := logAppend(t.btx, e); err != nil { // the signed log (log.go)
		return nil, err
	}
	t.events = append(t.events, e)
	return e, nil
}

// eventData is the event's data object with the transaction's changes
// attached under "changes" and the index schema they are expressed in
// under "changes_schema" (replay reads both, schema.go).
func eventData(data any, changes []Change) (json.RawMessage, error) {
	obj := map[string]any{}
	if data != nil {
		raw, err := json.Marshal(data)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			return nil, fmt.Errorf("event data must be a JSON object: %w", err)
		}
	}
	if len(changes) > 0 {
		obj["changes"] = changes
		obj["changes_schema"] = schemaVersion
	}
	return json.Marshal(obj)
}
