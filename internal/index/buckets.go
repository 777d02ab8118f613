package index

import (
	"encoding/binary"
	"strings"
)

// Every bbolt bucket and key encoding of the index is defined in this file.
//
//	meta          "schema_version" → uint64 BE
//	              "journal_head"   → seq uint64 BE ‖ hash (hex)
//	products      <product>                          → Product JSON
//	releases      <product> 0x00 <semver key>        → Release JSON (no artifacts)
//	artifacts     <product> 0x00 <semver key> 0x00 <name> → Artifact JSON
//	tokens        <token id>                         → Token JSON
//	token_hashes  sha256(secret)                     → token id (JSON string)
//	journal       seq uint64 BE                      → Event JSON
//
// Product slugs and artifact names never contain 0x00, and the semver key
// (semverkey.go) sorts in SemVer precedence, so a product's releases are
// one contiguous key range walked newest first with a reverse cursor.
var (
	bucketMeta        = []byte("meta")
	bucketProducts    = []byte("products")
	bucketReleases    = []byte("releases")
	bucketArtifacts   = []byte("artifacts")
	bucketTokens      = []byte("tokens")
	bucketTokenHashes = []byte("token_hashes")
	bucketJournal     = []byte("journal")

	allBuckets = [][]byte{bucketMeta, bucketProducts, bucketReleases, bucketArtifacts,
		bucketTokens, bucketTokenHashes, bucketJournal}

	// unjournaledBuckets are written outside the journal's changes: the
	// journal itself, the meta bucket and operational state.
	unjournaledBuckets = [][]byte{bucketMeta, bucketJournal}

	keySchemaVersion = []byte("schema_version")
	keyJournalHead   = []byte("journal_head")
)

const sep = 0x00

// productPrefix is the start of every release key of a product.
func productPrefix(product string) []byte {
	return append([]byte(product), sep)
}

// releaseKey is a release's key: product, 0x00, SemVer key.
func releaseKey(product string, vkey []byte) []byte {
	return append(productPrefix(product), vkey...)
}

// artifactPrefix is the start of every artifact key of a release.
func artifactPrefix(product string, vkey []byte) []byte {
	return append(releaseKey(product, vkey), sep)
}

// artifactKey is one artifact's key.
func artifactKey(product string, vkey []byte, name string) []byte {
	return append(artifactPrefix(product, vkey), name...)
}

// seqKey encodes a journal sequence number big-endian so keys sort by seq.
func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, seq)
}

func seqFromKey(k []byte) uint64 { return binary.BigEndian.Uint64(k) }

// encodeHead stores the journal head.
func encodeHead(seq uint64, hash string) []byte {
	return append(seqKey(seq), hash...)
}

func decodeHead(b []byte) (uint64, string) {
	if len(b) < 8 {
		return 0, ""
	}
	return seqFromKey(b[:8]), string(b[8:])
}

// hasPrefix is bytes.HasPrefix for keys.
func hasPrefix(k, prefix []byte) bool {
	return len(k) >= len(prefix) && strings.HasPrefix(string(k), string(prefix))
}
