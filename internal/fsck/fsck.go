// Package fsck checks the index against the blob store: every object the
// index names must exist with its size (and, deep, its digest), and every
// object under the library's folders must be named by the index. Orphans —
// objects no index record names, such as an upload cut by a crash before
// its commit — are the only thing it ever removes.
package fsck

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/storage"
)

// Kinds of findings.
const (
	Missing        = "missing"         // the index names an object the store lacks
	SizeMismatch   = "size_mismatch"   // the object's size differs from the index
	DigestMismatch = "digest_mismatch" // the object's bytes hash to another digest (--deep)
	Orphan         = "orphan"          // an object no index record names
	PartialWrite   = "partial_write"   // a temporary file or incomplete multipart upload
)

// Finding is one inconsistency.
type Finding struct {
	Kind     string `json:"kind"`
	Key      string `json:"key"`
	Detail   string `json:"detail,omitempty"`
	Repaired bool   `json:"repaired,omitempty"`
}

// Report is the outcome of a check.
type Report struct {
	Objects  int       `json:"objects_checked"`
	Findings []Finding `json:"findings"`
}

// Clean reports whether nothing was found.
func (r *Report) Clean() bool { return len(r.Findings) == 0 }

// Options choose the depth and whether to repair.
type Options struct {
	// Deep re-hashes every artifact and manifest.
	Deep bool
	// Repair removes orphans and partial writes; never data the index names.
	Repair bool
}

// LeftoverRemover is implemented by stores that can clear partial writes.
type LeftoverRemover interface {
	Leftovers(ctx context.Context) ([]string, error)
	RemoveLeftovers(ctx context.Context) error
}

// expected is an object the index names, with what it must be.
type expected struct {
	size   int64  // -1: unknown
	sha256 string // "" for "sha256:" prefixed digests in digestOf
}

// Run checks repo against store. It must not run while a server writes to
// the same store (an upload in flight looks like an orphan): stop the
// server, or run it on a copy.
func Run(ctx context.Context, repo library.Repo, store storage.BlobStore, o Options) (*Report, error) {
	want, err := named(repo)
	if err != nil {
		return nil, err
	}
	rep := &Report{Findings: []Finding{}}
	for key, e := range want {
		rep.Objects++
		info, err := store.Stat(ctx, key)
		if errors.Is(err, storage.ErrNotFound) {
			rep.Findings = append(rep.Findings, Finding{Kind: Missing, Key: key, Detail: "named by the index, absent from the store"})
			continue
		}
		if err != nil {
			return nil, err
		}
		if e.size >= 0 && info.Size != e.size {
			rep.Findings = append(rep.Findings, Finding{Kind: SizeMismatch, Key: key, Detail: fmt.Sprintf("index says %d bytes, store has %d", e.size, info.Size)})
			continue
		}
		if o.Deep && e.sha256 != "" {
			got, err := hashObject(ctx, store, key)
			if err != nil {
				return nil, err
			}
			if got != e.sha256 {
				rep.Findings = append(rep.Findings, Finding{Kind: DigestMismatch, Key: key, Detail: fmt.Sprintf("index says sha256 %s, bytes hash to %s", e.sha256, got)})
			}
		}
	}
	for _, prefix := range orphanPrefixes {
		err := store.List(ctx, prefix, func(i storage.Info) error {
			if _, ok := want[i.Key]; ok {
				return nil
			}
			f := Finding{Kind: Orphan, Key: i.Key, Detail: fmt.Sprintf("%d bytes no index record names", i.Size)}
			if o.Repair {
				if err := store.Delete(ctx, i.Key); err != nil {
					return err
				}
				f.Repaired = true
			}
			rep.Findings = append(rep.Findings, f)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if lr, ok := store.(LeftoverRemover); ok {
		left, err := lr.Leftovers(ctx)
		if err != nil {
			return nil, err
		}
		if len(left) > 0 && o.Repair {
			if err := lr.RemoveLeftovers(ctx); err != nil {
				return nil, err
			}
		}
		for _, k := range left {
			rep.Findings = append(rep.Findings, Finding{Kind: PartialWrite, Key: k, Detail: "an interrupted write", Repaired: o.Repair})
		}
	}
	return rep, nil
}

// named lists every object the index names.
func named(repo library.Repo) (map[string]expected, error) {
	want := map[string]expected{}
	err := repo.View(func(tx library.ReadTx) error {
		var products []string
		if err := tx.Products(func(p *library.Product) bool { products = append(products, p.Name); return true }); err != nil {
			return err
		}
		for _, p := range products {
			rels, err := tx.Releases(p, library.ReleaseQuery{})
			if err != nil {
				return err
			}
			for _, r := range rels {
				arts, err := tx.Artifacts(p, r.Version)
				if err != nil {
					return err
				}
				for _, a := range arts {
					want[storage.ArtifactKey(p, r.Version, a.Name)] = expected{size: a.Size, sha256: a.SHA256}
				}
				if r.ManifestDigest != "" {
					want[storage.ReleaseManifestKey(p, r.Version)] = expected{size: -1, sha256: strings.TrimPrefix(r.ManifestDigest, "sha256:")}
					want[storage.ReleaseManifestSigKey(p, r.Version)] = expected{size: -1}
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := addAttestations(repo, want); err != nil {
		return nil, err
	}
	return want, addBaselines(repo, want)
}

func hashObject(ctx context.Context, store storage.BlobStore, key string) (string, error) {
	rc, _, err := store.Get(ctx, key, 0, -1)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
