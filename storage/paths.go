package storage

import "fmt"

// Every object key Reliquary writes is built here, so the bucket stays
// self-describing and browsable without the service:
//
//	products/<p>/product.json
//	products/<p>/releases/<v>/artifacts/<name>
//	products/<p>/releases/<v>/manifest.json
//	products/<p>/releases/<v>/manifest.json.sig
//	products/<p>/releases/<v>/attestations/<sha256>.json   (in-toto attestations, raw as uploaded)
//	baselines/<name>/manifest.json
//	baselines/<name>/manifest.json.sig
//	journal/<20-digit seq>.json                         (the journal's commit objects, DESIGN §9)
//	probe/<node>-<random>.json                          (the start-up create-only probe, deleted at once)
//	journal/segments/<20-digit first>-<20-digit last>.jsonl  (the same events, 1,000 a file)
//
// Product slugs, versions, artifact and baseline names are validated by the
// domain before they reach these functions; the results are still checked by
// ValidateKey in every backend.

// ProductKey is the product's descriptor.
func ProductKey(product string) string {
	return "products/" + product + "/product.json"
}

// ReleasePrefix is the folder of one release.
func ReleasePrefix(product, version string) string {
	return "products/" + product + "/releases/" + version + "/"
}

// ArtifactKey holds the bytes of one artifact.
func ArtifactKey(product, version, name string) string {
	return ReleasePrefix(product, version) + "artifacts/" + name
}

// ReleaseManifestKey holds a sealed release's canonical manifest.
func ReleaseManifestKey(product, version string) string {
	return ReleasePrefix(product, version) + "manifest.json"
}

// ReleaseManifestSigKey holds the base64 signature of the release manifest.
func ReleaseManifestSigKey(product, version string) string {
	return ReleaseManifestKey(product, version) + ".sig"
}

// AttestationKey holds an attestation file of a release exactly as it was
// uploaded, named by the hex SHA-256 of those bytes.
func AttestationKey(product, version, sha256Hex string) string {
	return ReleasePrefix(product, version) + "attestations/" + sha256Hex + ".json"
}

// BaselineManifestKey holds a baseline's canonical manifest.
func BaselineManifestKey(name string) string {
	return "baselines/" + name + "/manifest.json"
}

// BaselineManifestSigKey holds the base64 signature of a baseline manifest.
func BaselineManifestSigKey(name string) string {
	return BaselineManifestKey(name) + ".sig"
}

// JournalPrefix is the folder of the journal mirror.
const JournalPrefix = "journal/"

// JournalKey holds the event with sequence number seq.
func JournalKey(seq uint64) string {
	return fmt.Sprintf("%s%020d.json", JournalPrefix, seq)
}

// JournalSegmentPrefix is the folder of journal segments: runs of mirrored
// events in one object each (one JSON event a line), so a rebuild reads a
// few large objects instead of one small object per event.
const JournalSegmentPrefix = JournalPrefix + "segments/"

// JournalSegmentKey holds the events first..last.
func JournalSegmentKey(first, last uint64) string {
	return fmt.Sprintf("%s%020d-%020d.jsonl", JournalSegmentPrefix, first, last)
}

// JournalCheckpointPrefix is the folder of the signed log's checkpoints
// (DESIGN §12), one signed note per mirrored tree size.
const JournalCheckpointPrefix = JournalPrefix + "checkpoints/"

// JournalCheckpointKey holds the signed checkpoint of the tree of size
// leaves (events 1..size).
func JournalCheckpointKey(size uint64) string {
	return fmt.Sprintf("%s%020d.txt", JournalCheckpointPrefix, size)
}

// ProbePrefix is the folder of the start-up probe (DESIGN §9).
const ProbePrefix = "probe/"

// ProbeKey is one start-up probe object of node.
func ProbeKey(node, random string) string {
	return ProbePrefix + node + "-" + random + ".json"
}
