package library

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/url"
	"path"
	"time"

	"github.com/reliquary/reliquary/storage"
)

// UploadInput is one artifact upload, streamed from Body.
type UploadInput struct {
	Product, Version, Name string
	OS, Arch               string
	MediaType              string
	// Size is the body's length, or -1 when unknown (chunked).
	Size int64
	// ExpectedSHA256, when set, is the digest the client says it sends.
	ExpectedSHA256 []byte
	Body           io.Reader
}

func (in *UploadInput) validate() error {
	if err := ValidateProductName(in.Product); err != nil {
		return err
	}
	if _, err := ParseVersion(in.Version); err != nil {
		return err
	}
	if err := ValidateArtifactName(in.Name); err != nil {
		return err
	}
	if err := ValidatePlatform("os", in.OS); err != nil {
		return err
	}
	if err := ValidatePlatform("arch", in.Arch); err != nil {
		return err
	}
	// curl and many HTTP clients send a form type by default: it never
	// describes an artifact, so it counts as "not given".
	if mt, _, _ := mime.ParseMediaType(in.MediaType); in.MediaType == "" || mt == "application/x-www-form-urlencoded" {
		in.MediaType = mime.TypeByExtension(path.Ext(in.Name))
	}
	if in.MediaType == "" {
		in.MediaType = "application/octet-stream"
	}
	mt, params, err := mime.ParseMediaType(in.MediaType)
	if err != nil || len(in.MediaType) > 255 {
		return withDetails(ErrInvalidInput, fmt.Sprintf("media type %q is not valid", clip(in.MediaType)), map[string]any{"field": "Content-Type"})
	}
	in.MediaType = mime.FormatMediaType(mt, params)
	if in.ExpectedSHA256 != nil && len(in.ExpectedSHA256) != sha256.Size {
		return withDetails(ErrInvalidInput, "expected digest is not a SHA-256", nil)
	}
	return nil
}

// Upload streams an artifact into a draft release. It returns created=false
// when the same bytes were already there (a safe retry). On any error
// nothing is stored and the index is unchanged.
func (s *Service) Upload(ctx context.Context, pr Principal, in UploadInput) (a *Artifact, created bool, err error) {
	if err := in.validate(); err != nil {
		return nil, false, err
	}
	if err := pr.AllowsVersion(in.Version); err != nil {
		return nil, false, err
	}
	subject := in.Product + "@" + in.Version + "/" + in.Name
	var max int64
	existing, err := s.uploadTarget(in, &max)
	if err != nil {
		return nil, false, err
	}
	if in.Size > max {
		return nil, false, tooLarge(in.Size, max)
	}
	if existing != nil {
		return s.compareExisting(existing, in, max)
	}

	unlock, err := s.locks.lock(ctx, subject)
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	// Another upload of this name may have committed while we waited.
	if existing, err = s.uploadTarget(in, &max); err != nil {
		return nil, false, err
	}
	if existing != nil {
		return s.compareExisting(existing, in, max)
	}

	key := storage.ArtifactKey(in.Product, in.Version, in.Name)
	// The index names no artifact here and we hold the name: an object at
	// the key is an orphan of an interrupted upload, never acknowledged.
	if _, err := s.store.Stat(ctx, key); err == nil {
		s.log.Warn("removing orphaned artifact object before upload", "key", key)
		if err := s.store.Delete(ctx, key); err != nil {
			return nil, false, fmt.Errorf("remove orphan %s: %w", key, err)
		}
	} else if !errors.Is(err, storage.ErrNotFound) {
		return nil, false, fmt.Errorf("upload %s: %w", subject, err)
	}

	h := sha256.New()
	body := &hashLimitReader{r: in.Body, h: h, max: max}
	info, err := s.store.Put(ctx, key, body, in.Size, storage.PutOptions{ContentType: in.MediaType})
	if err != nil {
		if body.over {
			return nil, false, tooLarge(body.n, max)
		}
		if body.err != nil && !errors.Is(body.err, io.EOF) {
			return nil, false, fmt.Errorf("upload %s: %w after %d bytes: %w", subject, ErrIncompleteBody, body.n, body.err)
		}
		return nil, false, fmt.Errorf("upload %s: %w", subject, err)
	}
	cleanup := func() {
		if err := s.store.Delete(context.WithoutCancel(ctx), key); err != nil {
			s.log.Error("could not remove rejected upload; fsck --repair will", "key", key, "err", err)
		}
	}
	sum := h.Sum(nil)
	if in.ExpectedSHA256 != nil && !bytes.Equal(sum, in.ExpectedSHA256) {
		cleanup()
		return nil, false, digestMismatch(in.ExpectedSHA256, sum)
	}
	sig, err := s.signer.SignDigest(ctx, sum)
	if err != nil {
		cleanup()
		return nil, false, fmt.Errorf("sign %s: %w", subject, err)
	}
	a = &Artifact{
		Name: in.Name, Size: info.Size, SHA256: hex.EncodeToString(sum), MediaType: in.MediaType,
		OS: in.OS, Arch: in.Arch, UploadedBy: pr.Name, UploadedAt: s.clock(),
		Signature: base64.StdEncoding.EncodeToString(sig), KeyID: s.signer.KeyID(),
	}
	err = s.update(ctx, func(tx WriteTx) error {
		r, err := tx.Release(in.Product, in.Version)
		if err != nil {
			return err
		}
		if r.State.Sealed() {
			return sealed(r)
		}
		if err := tx.PutArtifact(in.Product, in.Version, a); err != nil {
			return err
		}
		_, err = tx.Record(Event{Time: a.UploadedAt, Actor: pr.Name, Type: EvArtifactUploaded, Subject: subject,
			Data: map[string]any{"product": in.Product, "version": in.Version, "artifact": a}})
		return err
	})
	if err != nil {
		if !committed(err) {
			cleanup()
		}
		return nil, false, err
	}
	return a, true, nil
}

// uploadTarget checks the release accepts the upload and returns the
// artifact already under that name, if any, and the size limit.
func (s *Service) uploadTarget(in UploadInput, max *int64) (*Artifact, error) {
	var existing *Artifact
	err := s.repo.View(func(tx ReadTx) error {
		p, err := tx.Product(in.Product)
		if err != nil {
			return err
		}
		*max = p.Policy.MaxArtifactBytes
		r, err := tx.Release(in.Product, in.Version)
		if err != nil {
			return err
		}
		a, err := tx.Artifact(in.Product, in.Version, in.Name)
		switch {
		case err == nil:
			existing = a
		case !errors.Is(err, ErrArtifactNotFound):
			return err
		}
		if existing == nil && r.State.Sealed() {
			return sealed(r)
		}
		return nil
	})
	return existing, err
}

// compareExisting reads the body to tell a retry (same bytes) from a
// conflicting upload (other bytes).
func (s *Service) compareExisting(existing *Artifact, in UploadInput, max int64) (*Artifact, bool, error) {
	h := sha256.New()
	body := &hashLimitReader{r: in.Body, h: h, max: max}
	n, err := io.Copy(io.Discard, body)
	if err != nil {
		if body.over {
			return nil, false, tooLarge(body.n, max)
		}
		return nil, false, fmt.Errorf("read upload: %w: %w", ErrIncompleteBody, err)
	}
	sum := h.Sum(nil)
	if in.ExpectedSHA256 != nil && !bytes.Equal(sum, in.ExpectedSHA256) {
		return nil, false, digestMismatch(in.ExpectedSHA256, sum)
	}
	if hex.EncodeToString(sum) != existing.SHA256 || n != existing.Size {
		return nil, false, withDetails(ErrArtifactExists,
			fmt.Sprintf("artifact %s of %s@%s exists with other bytes; delete it first (drafts only)", in.Name, in.Product, in.Version),
			map[string]any{"name": in.Name, "sha256": existing.SHA256})
	}
	return existing, false, nil
}

func sealed(r *Release) error {
	return withDetails(ErrReleaseSealed, fmt.Sprintf("release %s@%s is %s: its artifacts can no longer change", r.Product, r.Version, r.State),
		map[string]any{"product": r.Product, "version": r.Version, "state": r.State})
}

func tooLarge(n, max int64) error {
	return withDetails(ErrTooLarge, fmt.Sprintf("artifact exceeds the product's max_artifact_bytes of %d", max),
		map[string]any{"max_artifact_bytes": max, "received_at_least": n})
}

func digestMismatch(want, got []byte) error {
	return withDetails(ErrDigestMismatch, "the uploaded bytes do not match the expected SHA-256; nothing was stored",
		map[string]any{"expected": hex.EncodeToString(want), "actual": hex.EncodeToString(got)})
}

// hashLimitReader hashes what it reads and fails once more than max bytes
// come through.
type hashLimitReader struct {
	r    io.Reader
	h    hash.Hash
	n    int64
	max  int64
	over bool
	err  error // how the client's body ended
}

func (l *hashLimitReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if err != nil {
		l.err = err
	}
	l.n += int64(n)
	if l.n > l.max {
		l.over = true
		return 0, ErrTooLarge
	}
	l.h.Write(p[:n])
	return n, err
}

// DeleteArtifact removes an artifact from a draft release.
func (s *Service) DeleteArtifact(ctx context.Context, pr Principal, product, version, name string) error {
	if err := ValidateProductName(product); err != nil {
		return err
	}
	if _, err := ParseVersion(version); err != nil {
		return err
	}
	if err := ValidateArtifactName(name); err != nil {
		return err
	}
	if err := pr.AllowsVersion(version); err != nil {
		return err
	}
	subject := product + "@" + version + "/" + name
	unlock, err := s.locks.lock(ctx, subject)
	if err != nil {
		return err
	}
	defer unlock()
	err = s.update(ctx, func(tx WriteTx) error {
		r, err := tx.Release(product, version)
		if err != nil {
			return err
		}
		a, err := tx.Artifact(product, version, name)
		if err != nil {
			return err
		}
		if r.State.Sealed() {
			return sealed(r)
		}
		if err := tx.DeleteArtifact(product, version, name); err != nil {
			return err
		}
		_, err = tx.Record(Event{Time: s.clock(), Actor: pr.Name, Type: EvArtifactDeleted, Subject: subject,
			Data: map[string]any{"product": product, "version": version, "name": name, "sha256": a.SHA256}})
		return err
	})
	if err != nil {
		return err
	}
	// The index no longer names the object: if this fails, it is an orphan
	// for fsck --repair, never a visible artifact.
	if err := s.store.Delete(ctx, storage.ArtifactKey(product, version, name)); err != nil {
		s.log.Warn("artifact deleted from the index, object left for fsck", "subject", subject, "err", err)
	}
	return nil
}

// ArtifactRef is an artifact with the release it belongs to.
type ArtifactRef struct {
	Release  *Release
	Artifact *Artifact
}

// Artifact looks up an artifact and its release (no artifact list).
func (s *Service) Artifact(_ context.Context, product, version, name string) (*ArtifactRef, error) {
	if err := ValidateProductName(product); err != nil {
		return nil, err
	}
	if _, err := ParseVersion(version); err != nil {
		return nil, err
	}
	if err := ValidateArtifactName(name); err != nil {
		return nil, err
	}
	var ref ArtifactRef
	err := s.repo.View(func(tx ReadTx) error {
		var err error
		if ref.Release, err = tx.Release(product, version); err != nil {
			return err
		}
		ref.Artifact, err = tx.Artifact(product, version, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &ref, nil
}

// OpenArtifact opens the artifact's bytes from offset (length -1: to the
// end). No index transaction is open while the caller streams.
func (s *Service) OpenArtifact(ctx context.Context, ref *ArtifactRef, offset, length int64) (io.ReadCloser, error) {
	key := storage.ArtifactKey(ref.Release.Product, ref.Release.Version, ref.Artifact.Name)
	rc, _, err := s.store.Get(ctx, key, offset, length)
	if err != nil {
		return nil, openArtifactError(ref, key, err)
	}
	return rc, nil
}

// PresignArtifact returns a short-lived direct URL, or an error wrapping
// storage.ErrUnsupported when the store cannot make one.
func (s *Service) PresignArtifact(ctx context.Context, ref *ArtifactRef, expiry time.Duration) (*url.URL, error) {
	key := storage.ArtifactKey(ref.Release.Product, ref.Release.Version, ref.Artifact.Name)
	return s.store.PresignGet(ctx, key, expiry, ref.Artifact.Name)
}
