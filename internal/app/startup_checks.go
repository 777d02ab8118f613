package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/internal/transparency"
	"github.com/reliquary/reliquary/storage"
)

// ProbePrefix is the folder of the start-up probe's objects.
const ProbePrefix = storage.ProbePrefix

// ErrStoreOverwrites: the store replaced an existing object on a
// create-only PUT; it cannot be the journal's commit point.
var ErrStoreOverwrites = errors.New("the store does not honour create-only writes (If-None-Match: *)")

// probeCreateOnly checks, before anything is committed, that the store
// refuses to replace an object: it creates probe/<node>-<random>.json,
// creates it again (which must fail with ErrExists), then deletes it. A
// store that overwrites would let two nodes both commit one journal seq: a
// fork. A store that does not answer is not refused here (the node starts
// not ready, as before); the commit path refuses writes while it is down.
func probeCreateOnly(ctx context.Context, store storage.BlobStore, nodeID string, log *slog.Logger) error {
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return err
	}
	key := storage.ProbeKey(nodeID, hex.EncodeToString(r[:]))
	put := func(body string) error {
		_, err := store.Put(ctx, key, bytes.NewReader([]byte(body)), int64(len(body)), storage.PutOptions{ContentType: "application/json"})
		return err
	}
	if err := put(`{"probe":1}`); err != nil {
		if errors.Is(err, storage.ErrUnavailable) {
			log.Warn("cannot probe the store for create-only writes: it does not answer", "err", err)
			return nil
		}
		return fmt.Errorf("store probe: %w", err)
	}
	defer func() { _ = store.Delete(context.WithoutCancel(ctx), key) }()
	err := put(`{"probe":2}`)
	switch {
	case errors.Is(err, storage.ErrExists):
		return nil
	case err == nil:
		return fmt.Errorf("%w: a second create-only PUT of %s replaced the first instead of failing with 412. "+
			"Reliquary commits the journal with conditional writes and cannot run on this store: use AWS S3 "+
			"(conditional writes since August 2024), MinIO RELEASE.2024-08-29 or newer, or another server that "+
			"answers 412 Precondition Failed to If-None-Match: * on an existing key", ErrStoreOverwrites, key)
	case errors.Is(err, storage.ErrUnavailable):
		log.Warn("cannot probe the store for create-only writes: it does not answer", "err", err)
		return nil
	default:
		return fmt.Errorf("store probe: %w", err)
	}
}

// ErrKeyMismatch: this node's signing key is not the library's.
var ErrKeyMismatch = errors.New("this node's signing key is not the one the bucket's journal was signed with")

// checkJournalKey refuses a node whose signing key (or retired keys) did
// not sign the newest checkpoint in the bucket: its signatures would not
// verify against the library's, and every node of a cluster must sign
// with the same key. A bucket without a checkpoint has nothing to compare.
func checkJournalKey(ctx context.Context, store storage.BlobStore, kr *signing.Keyring, keyID string) error {
	var newest string
	err := store.List(ctx, storage.JournalCheckpointPrefix, func(i storage.Info) error {
		newest = max(newest, i.Key)
		return nil
	})
	if errors.Is(err, storage.ErrUnavailable) || newest == "" {
		return nil // checked at the next start; the commit path refuses writes meanwhile
	}
	if err != nil {
		return fmt.Errorf("read the bucket's checkpoints: %w", err)
	}
	rc, _, err := store.Get(ctx, newest, 0, -1)
	if errors.Is(err, storage.ErrUnavailable) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", newest, err)
	}
	note, err := io.ReadAll(io.LimitReader(rc, transparency.MaxCheckpointSize+1))
	rc.Close()
	if err != nil {
		return fmt.Errorf("read %s: %w", newest, err)
	}
	if _, err := transparency.NewVerifier(kr, "").Verify(note); err != nil {
		return fmt.Errorf("%w: %s does not verify with key %s (%v). Start every node of a library with the same "+
			"--signing-key (after a rotation, list the old public key in --retired-keys)", ErrKeyMismatch, newest, keyID, err)
	}
	return nil
}
