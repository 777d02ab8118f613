package library

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/reliquary/reliquary/internal/manifest"
	"github.com/reliquary/reliquary/storage"
)

// ErrManifestNotFound: a draft has no manifest yet.
var ErrManifestNotFound = errors.New("release has no manifest")

// maxManifest bounds how much of a stored manifest is read back.
const maxManifest = 64 << 20

// Seal freezes a draft's artifact set: it writes the canonical, signed
// release manifest to the store and moves the release to candidate. From
// then on no artifact byte, name or digest of the release can change.
func (s *Service) Seal(ctx context.Context, pr Principal, product, version string, comment string) (*Release, error) {
	if err := ValidateProductName(product); err != nil {
		return nil, err
	}
	if _, err := ParseVersion(version); err != nil {
		return nil, err
	}
	if err := checkText("comment", comment, maxText); err != nil {
		return nil, err
	}
	if err := pr.AllowsVersion(version); err != nil {
		return nil, err
	}
	subject := product + "@" + version
	unlock, err := s.locks.lock(ctx, subject+"#seal")
	if err != nil {
		return nil, err
	}
	defer unlock()

	var r *Release
	var arts []Artifact
	err = s.repo.View(func(tx ReadTx) error {
		var err error
		if r, err = tx.Release(product, version); err != nil {
			return err
		}
		arts, err = tx.Artifacts(product, version)
		return err
	})
	if err != nil {
		return nil, err
	}
	if r.State != StateDraft {
		return nil, withDetails(ErrReleaseSealed, fmt.Sprintf("release %s is already sealed (%s)", subject, r.State),
			map[string]any{"product": product, "version": version, "state": r.State})
	}
	if len(arts) == 0 {
		return nil, withDetails(ErrEmptyRelease, fmt.Sprintf("release %s has no artifacts to seal", subject), nil)
	}

	now := s.clock()
	m := manifest.ReleaseManifest{Product: product, Version: version, Type: string(r.Type), ChangeID: r.ChangeID,
		CIIDs: r.CIIDs, SealedBy: pr.Name, SealedAt: now}
	for _, a := range arts {
		m.Artifacts = append(m.Artifacts, manifest.ManifestArtifact{Name: a.Name, SHA256: a.SHA256, Size: a.Size,
			MediaType: a.MediaType, OS: a.OS, Arch: a.Arch})
	}
	body, err := m.Marshal()
	if err != nil {
		return nil, fmt.Errorf("seal %s: manifest: %w", subject, err)
	}
	sum := sha256.Sum256(body)
	sig, err := s.signer.SignDigest(ctx, sum[:])
	if err != nil {
		return nil, fmt.Errorf("seal %s: sign manifest: %w", subject, err)
	}
	mkey, skey := storage.ReleaseManifestKey(product, version), storage.ReleaseManifestSigKey(product, version)
	stillDraft := func(tx ReadTx) error {
		cur, err := tx.Release(product, version)
		if err == nil && cur.State != StateDraft {
			return sealed(cur)
		}
		return err
	}
	if err := s.putFresh(ctx, mkey, body, manifest.ManifestMediaType, stillDraft); err != nil {
		return nil, fmt.Errorf("seal %s: %w", subject, err)
	}
	if err := s.putFresh(ctx, skey, manifest.EncodeSignature(sig), "text/plain", stillDraft); err != nil {
		s.removeObjects(ctx, mkey)
		return nil, fmt.Errorf("seal %s: %w", subject, err)
	}

	err = s.update(ctx, func(tx WriteTx) error {
		cur, err := tx.Release(product, version)
		if err != nil {
			return err
		}
		if cur.State != StateDraft {
			return sealed(cur)
		}
		now2, err := tx.Artifacts(product, version)
		if err != nil {
			return err
		}
		if !slices.EqualFunc(now2, arts, func(a, b Artifact) bool { return a.Name == b.Name && a.SHA256 == b.SHA256 }) {
			return withDetails(ErrInvalidState, fmt.Sprintf("the artifacts of %s changed while sealing; seal again", subject), nil)
		}
		cur.State = StateCandidate
		cur.SealedBy = pr.Name
		cur.SealedAt = &now
		cur.ManifestDigest = "sha256:" + hex.EncodeToString(sum[:])
		cur.History = append(cur.History, Transition{From: StateDraft, To: StateCandidate, Actor: pr.Name, Time: now,
			ChangeID: cur.ChangeID, Comment: comment})
		if err := tx.PutRelease(cur); err != nil {
			return err
		}
		_, err = tx.Record(Event{Time: now, Actor: pr.Name, Type: EvReleaseSealed, Subject: subject,
			Data: map[string]any{"product": product, "version": version, "manifest_digest": cur.ManifestDigest,
				"signature": base64.StdEncoding.EncodeToString(sig), "key_id": s.signer.KeyID(), "artifacts": len(arts)}})
		r = cur
		return err
	})
	if err != nil {
		if !committed(err) {
			s.removeObjects(ctx, mkey, skey)
		}
		return nil, err
	}
	r.Artifacts = arts
	return r, nil
}

// putFresh writes a small object create-only. An object already at the key
// is an orphan of an interrupted seal (the index does not name it, and the
// caller holds the release's seal lock), so it is replaced.
// taken answers the caller's own error when, after catching up, the index
// names what the object belongs to (another node sealed it).
func (s *Service) putFresh(ctx context.Context, key string, body []byte, contentType string, taken func(ReadTx) error) error {
	_, err := s.store.Put(ctx, key, bytes.NewReader(body), int64(len(body)), storage.PutOptions{ContentType: contentType})
	if errors.Is(err, storage.ErrExists) && s.cluster != nil {
		// Another node may have sealed (or be sealing) it: its object is
		// not an orphan once its commit is in. Read the bucket's journal
		// first (a narrow window remains while the other node's commit is
		// in flight).
		if err := s.cluster.SyncToBucketHead(ctx); err != nil {
			return err
		}
		if err := s.repo.View(taken); err != nil {
			return err
		}
	}
	if errors.Is(err, storage.ErrExists) {
		s.log.Warn("replacing orphaned object of an interrupted seal", "key", key)
		if err := s.store.Delete(ctx, key); err != nil {
			return err
		}
		_, err = s.store.Put(ctx, key, bytes.NewReader(body), int64(len(body)), storage.PutOptions{ContentType: contentType})
	}
	return err
}

func (s *Service) removeObjects(ctx context.Context, keys ...string) {
	for _, k := range keys {
		if err := s.store.Delete(context.WithoutCancel(ctx), k); err != nil {
			s.log.Error("could not remove object of a failed seal; fsck --repair will", "key", k, "err", err)
		}
	}
}

// Manifest returns the exact signed manifest bytes of a sealed release and
// their base64 signature, after checking the bytes still have the digest
// the index recorded at sealing.
func (s *Service) Manifest(ctx context.Context, product, version string) (body, sig []byte, err error) {
	r, err := s.Release(ctx, product, version)
	if err != nil {
		return nil, nil, err
	}
	if r.ManifestDigest == "" {
		return nil, nil, withDetails(ErrManifestNotFound, fmt.Sprintf("release %s@%s is a draft: it has no manifest until sealed", product, version), nil)
	}
	body, err = s.readSmall(ctx, storage.ReleaseManifestKey(product, version))
	if err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(body)
	if "sha256:"+hex.EncodeToString(sum[:]) != r.ManifestDigest {
		return nil, nil, fmt.Errorf("manifest of %s@%s in the store does not match the digest the index recorded: %w", product, version, ErrIntegrity)
	}
	sig, err = s.readSmall(ctx, storage.ReleaseManifestSigKey(product, version))
	if err != nil {
		return nil, nil, err
	}
	return body, bytes.TrimSpace(sig), nil
}

func (s *Service) readSmall(ctx context.Context, key string) ([]byte, error) {
	rc, _, err := s.store.Get(ctx, key, 0, -1)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("%s is missing from the store: %w", key, ErrIntegrity)
		}
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, maxManifest))
}
