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
//	webhooks      <hook id>                          → Webhook JSON (with its secret: never journaled)
//	webhook_state <hook id>                          → delivered-up-to seq uint64 BE
//	webhook_log   <hook id> 0x00 seq BE ‖ attempt BE → Delivery JSON (the newest kept)
//	meta          "mirror_cursor"  → seq uint64 BE of the last event mirrored to the bucket
//	              "segment_cursor" → seq uint64 BE of the last event in a journal segment
//
// Baselines, CMDB links and deployment records (links.go, deployments.go, baselines.go);
// secondary index entries hold the JSON value {} and are kept in step with
// their record by the put that writes it:
//
//	baselines          <name>                                          → Baseline JSON
//	idx_change_id      <change_id> 0x00 <product> 0x00 <semver key>    → {}
//	idx_ci_id          <ci_id> 0x00 <product> 0x00 <semver key>        → {}
//	idx_label          <key> 0x00 <value> 0x00 <product> 0x00 <semver key> → {}
//	deployments        id uint64 BE (1, 2, … in order recorded)        → Deployment JSON
//	idx_deploy_product <product> 0x00 id BE                            → {}
//	idx_deploy_release <product> 0x00 <semver key> 0x00 id BE          → {}
//	idx_deploy_env     <environment> 0x00 id BE                        → {}
//	idx_deploy_target  <target> 0x00 id BE                             → {}
//	environments       <environment> 0x00 <product> 0x00 <target>      → EnvironmentSlot JSON
//
// change_ids, ci_ids, label keys and values, environments and targets
// never contain 0x00 or 0x01 (the domain refuses control characters), so
// "<value> 0x00" is the exact prefix of one value's entries and
// "<value> 0x01" the first key past them. The semver key is prefix-free.
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
	bucketWebhooks    = []byte("webhooks")
	bucketHookState   = []byte("webhook_state")
	bucketHookLog     = []byte("webhook_log")

	allBuckets = [][]byte{bucketMeta, bucketProducts, bucketReleases, bucketArtifacts,
		bucketTokens, bucketTokenHashes, bucketJournal, bucketWebhooks, bucketHookState, bucketHookLog,
		bucketBaselines, bucketIdxChangeID, bucketIdxCIID, bucketIdxLabel, bucketDeployments,
		bucketIdxDeployProduct, bucketIdxDeployRelease, bucketIdxDeployEnv, bucketIdxDeployTarget, bucketEnvironments,
		bucketPublishers, bucketOIDCSeen, bucketLogNodes, bucketStatementSeq, bucketStatements,
		bucketRolloutPilots, bucketRolloutCounts, bucketIdxSHA256}

	// unjournaledBuckets are written outside the journal's changes: the
	// journal itself, the meta bucket and operational state.
	unjournaledBuckets = [][]byte{bucketMeta, bucketJournal, bucketWebhooks, bucketHookState, bucketHookLog,
		bucketLogNodes, bucketStatementSeq, bucketStatements}

	keySchemaVersion = []byte("schema_version")
	keyJournalHead   = []byte("journal_head")
	keyMirrorCursor  = []byte("mirror_cursor")
	keySegmentCursor = []byte("segment_cursor")
)

// Buckets of baselines, CMDB links and deployment records.
var (
	bucketBaselines        = []byte("baselines")
	bucketIdxChangeID      = []byte("idx_change_id")
	bucketIdxCIID          = []byte("idx_ci_id")
	bucketIdxLabel         = []byte("idx_label")
	bucketDeployments      = []byte("deployments")
	bucketIdxDeployProduct = []byte("idx_deploy_product")
	bucketIdxDeployRelease = []byte("idx_deploy_release")
	bucketIdxDeployEnv     = []byte("idx_deploy_env")
	bucketIdxDeployTarget  = []byte("idx_deploy_target")
	bucketEnvironments     = []byte("environments")

	// indexEntry is the value of every secondary index entry.
	indexEntry = []byte("{}")
)

const sep = 0x00

// valuePrefix is the start of every key of one indexed value (or of
// several values joined by 0x00): each part followed by 0x00.
func valuePrefix(parts ...string) []byte {
	var k []byte
	for _, p := range parts {
		k = append(append(k, p...), sep)
	}
	return k
}

// prefixEnd is the first key after every key starting with prefix, which
// ends in 0x00.
func prefixEnd(prefix []byte) []byte {
	end := clone(prefix)
	end[len(end)-1] = sep + 1
	return end
}

// linkKey is a CMDB link entry: the value's prefix, product, 0x00, SemVer key.
func linkKey(prefix []byte, product string, vkey []byte) []byte {
	return append(append(clone(prefix), product...), append([]byte{sep}, vkey...)...)
}

// deployIndexKey is a deployment index entry: the value's prefix, then the id.
func deployIndexKey(prefix []byte, id uint64) []byte {
	return append(clone(prefix), seqKey(id)...)
}

// deployReleasePrefix is the start of the deployment entries of one release.
func deployReleasePrefix(product string, vkey []byte) []byte {
	return append(append(productPrefix(product), vkey...), sep)
}

// environmentKey is one slot of an environment.
func environmentKey(env, product, target string) []byte {
	return append(valuePrefix(env, product), target...)
}

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

// Buckets of release evidence (attestations.go). Predicate types never
// contain 0x00 or 0x01 (evidence.ValidatePredicateType refuses control
// characters), so "<type> 0x00" is the exact prefix of one type's entries:
//
//	attestations          <product> 0x00 <semver key> 0x00 <digest>                  → Attestation JSON
//	idx_attestation_type  <product> 0x00 <semver key> 0x00 <predicate type> 0x00 <digest> → {}
var (
	bucketAttestations       = []byte("attestations")
	bucketIdxAttestationType = []byte("idx_attestation_type")
)

func init() {
	allBuckets = append(allBuckets, bucketAttestations, bucketIdxAttestationType)
}

// attestationPrefix is the start of every attestation key of a release.
func attestationPrefix(product string, vkey []byte) []byte {
	return append(releaseKey(product, vkey), sep)
}

// attestationKey is one attestation's key.
func attestationKey(product string, vkey []byte, digest string) []byte {
	return append(attestationPrefix(product, vkey), digest...)
}

// attestationTypePrefix is the start of one predicate type's entries of a
// release.
func attestationTypePrefix(product string, vkey []byte, predicateType string) []byte {
	return append(append(attestationPrefix(product, vkey), predicateType...), sep)
}

// hasPrefix is bytes.HasPrefix for keys.
func hasPrefix(k, prefix []byte) bool {
	return len(k) >= len(prefix) && strings.HasPrefix(string(k), string(prefix))
}

// The pilots of rollouts (rollout.go), kept out of the release record so
// that resolve, which decodes every release it walks past, never decodes a
// list of up to 1,000 pilots; a pilot is one Get:
//
//	rollout_pilots <product> 0x00 <semver key> 0x00 <target> → {}
//	rollout_counts <product> 0x00 <semver key>               → RolloutCounts JSON
//
// rollout_counts holds a release's running count of deployment records by
// status, so the halt check of every deployment record is one read.
var (
	bucketRolloutPilots = []byte("rollout_pilots")
	bucketRolloutCounts = []byte("rollout_counts")
)

// rolloutPilotPrefix is the start of the pilot entries of one release.
func rolloutPilotPrefix(product string, vkey []byte) []byte {
	return append(releaseKey(product, vkey), sep)
}

// Buckets of trusted publishing (publishers.go), both journaled:
//
//	publishers  <product> 0x00 <publisher id>   → TrustedPublisher JSON
//	oidc_seen   hex(sha256(issuer 0x00 jti))    → {"expires_at": time} (replay memory)
var (
	bucketPublishers = []byte("publishers")
	bucketOIDCSeen   = []byte("oidc_seen")
)

// The signed log (DESIGN §12, log.go): the journal's RFC 6962 Merkle tree
// and the release statements. All are derived from the journal's events
// (never from their changes), so they are unjournaled; Record and Rebuild
// keep them in step with the journal.
//
//	log_nodes     level (1 byte) ‖ index uint64 BE                 → 32-byte node hash
//	statement_seq <product> 0x00 <semver key>                      → seq uint64 BE of the release's latest statement event
//	statements    <product> 0x00 <semver key>                      → seq uint64 BE ‖ DSSE envelope JSON (cache)
//	meta          "log_size"  → uint64 BE: leaves in the tree (= journal head once caught up)
var (
	bucketLogNodes     = []byte("log_nodes")
	bucketStatementSeq = []byte("statement_seq")
	bucketStatements   = []byte("statements")

	keyLogSize = []byte("log_size")
)

// The artifact digest index (digests.go): which releases contain a file.
//
//	idx_sha256  <sha256 hex> 0x00 <product> 0x00 <semver key> → {}
var bucketIdxSHA256 = []byte("idx_sha256")

// The bucket's journal as the commit point (commit.go, DESIGN §9).
//
//	meta  "journal_committed" → uint64 BE: every event up to it is in the
//	      bucket's journal, ending on a commit object's last event (absent
//	      in an index written before: the mirror cursor says it)
var keyJournalCommitted = []byte("journal_committed")
