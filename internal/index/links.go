package index

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/reliquary/reliquary/internal/library"
)

// CMDB links of releases and deployment records: the records and their
// secondary indexes (key encodings in buckets.go). Every query walks one
// index range; none scans every release or every record unless asked for
// all of them.

// entryRef is one secondary index entry.
type entryRef struct {
	bucket, key []byte
}

// syncEntries keeps a record's secondary index entries in step with it:
// entries of the old record the new one lacks are deleted, and every entry
// of the new one is written when missing (so a record indexed before an
// index existed heals on its next put). Only real changes are written, so
// the journal carries no no-op writes.
func (t *tx) syncEntries(old, cur []entryRef) error {
	id := func(e entryRef) string { return string(e.bucket) + "\x00" + string(e.key) }
	keep := make(map[string]bool, len(cur))
	for _, e := range cur {
		keep[id(e)] = true
	}
	for _, e := range old {
		if !keep[id(e)] && t.b(e.bucket).Get(e.key) != nil {
			if err := t.del(e.bucket, e.key); err != nil {
				return err
			}
		}
	}
	for _, e := range cur {
		if t.b(e.bucket).Get(e.key) == nil {
			if err := t.put(e.bucket, e.key, indexEntry); err != nil {
				return err
			}
		}
	}
	return nil
}

// releaseLinks are the CMDB link entries of a release.
func releaseLinks(r *library.Release, vk []byte) []entryRef {
	var out []entryRef
	if r.ChangeID != "" {
		out = append(out, entryRef{bucketIdxChangeID, linkKey(valuePrefix(r.ChangeID), r.Product, vk)})
	}
	// Every change that moved the release (promote, withdraw) links it too.
	for _, h := range r.History {
		if h.ChangeID != "" && h.ChangeID != r.ChangeID {
			out = append(out, entryRef{bucketIdxChangeID, linkKey(valuePrefix(h.ChangeID), r.Product, vk)})
		}
	}
	for _, ci := range r.CIIDs {
		if ci != "" {
			out = append(out, entryRef{bucketIdxCIID, linkKey(valuePrefix(ci), r.Product, vk)})
		}
	}
	for k, v := range r.Labels {
		out = append(out, entryRef{bucketIdxLabel, linkKey(valuePrefix(k, v), r.Product, vk)})
	}
	return out
}

// syncReleaseLinks updates the link entries of a release about to be put.
// A release's change_id, ci_ids and labels are set at creation and never
// change today; the entries are still maintained against the stored record.
func (t *tx) syncReleaseLinks(r *library.Release, vk []byte) error {
	old, err := getJSON[library.Release](t.b(bucketReleases), releaseKey(r.Product, vk))
	if err != nil {
		return err
	}
	var before []entryRef
	if old != nil {
		before = releaseLinks(old, vk)
	}
	return t.syncEntries(before, releaseLinks(r, vk))
}

// lastBelow positions c on the last key before key (nil when none).
func lastBelow(c *bolt.Cursor, key []byte) []byte {
	k, _ := c.Seek(key)
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	return k
}

// ReleasesByLink implements library.ReadTx: the releases of one link value,
// by product and newest first within a product, resuming after q.After.
func (t *tx) ReleasesByLink(q library.LinkQuery) ([]*library.Release, error) {
	var bucket, prefix []byte
	switch q.Kind {
	case library.LinkChangeID:
		bucket, prefix = bucketIdxChangeID, valuePrefix(q.Value)
	case library.LinkCIID:
		bucket, prefix = bucketIdxCIID, valuePrefix(q.Value)
	case library.LinkLabel:
		bucket, prefix = bucketIdxLabel, valuePrefix(q.Key, q.Value)
	case library.LinkSHA256:
		bucket, prefix = bucketIdxSHA256, valuePrefix(q.Value)
	default:
		return nil, fmt.Errorf("index: unknown link kind %q", q.Kind)
	}
	group := func(product string) []byte { return append(clone(prefix), append([]byte(product), sep)...) }
	c := t.b(bucket).Cursor()
	var product string
	var k []byte
	if q.After != nil {
		vk, err := versionKeyOf(q.After.Version)
		if err != nil {
			return nil, err
		}
		product = q.After.Product
		k = lastBelow(c, linkKey(prefix, product, vk))
	} else {
		first, _ := c.Seek(prefix)
		if first == nil || !hasPrefix(first, prefix) {
			return nil, nil
		}
		product = productOfLink(first[len(prefix):])
		k = lastBelow(c, prefixEnd(group(product)))
	}
	var out []*library.Release
	size := 0
	for {
		gp := group(product)
		for ; k != nil && hasPrefix(k, gp); k, _ = c.Prev() {
			vk := k[len(gp):]
			r, err := getJSON[library.Release](t.b(bucketReleases), releaseKey(product, vk))
			if err != nil {
				return nil, err
			}
			if r == nil {
				continue // an entry without its release: never written together, skip
			}
			if q.Scanned != nil {
				*q.Scanned++
			}
			if q.Match != nil && !q.Match(r) {
				continue
			}
			n := len(t.b(bucketReleases).Get(releaseKey(product, vk)))
			if q.MaxBytes > 0 && len(out) > 0 && size+n > q.MaxBytes {
				if q.Truncated != nil {
					*q.Truncated = true
				}
				return out, nil
			}
			size += n
			out = append(out, r)
			if q.Limit > 0 && len(out) >= q.Limit {
				return out, nil
			}
		}
		// The next product of this value: the first key past this group.
		next, _ := c.Seek(prefixEnd(gp))
		if next == nil || !hasPrefix(next, prefix) {
			return out, nil
		}
		product = productOfLink(next[len(prefix):])
		k = lastBelow(c, prefixEnd(group(product)))
	}
}

// productOfLink is the product at the start of a link key's remainder.
func productOfLink(rest []byte) string {
	for i, b := range rest {
		if b == sep {
			return string(rest[:i])
		}
	}
	return string(rest)
}
