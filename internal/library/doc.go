// Package library is Reliquary's domain: it decides, and nothing else.
//
// It speaks in products, releases and their artifacts, release policy,
// approvals, supersession, resolution, rollouts, baselines, deployment
// records, tokens, trusted publishers, evidence and retention. Every method
// of Service takes the acting Principal and either answers or refuses with
// a sentinel error (errors.Is) carrying details; package api maps those to
// HTTP in one table.
//
// It persists through two narrow seams: Repo, a transactional index
// (internal/index implements it on bbolt), where every write transaction
// records its journal event, and storage.BlobStore for bytes. It imports no
// HTTP framework, no bbolt and no S3 client.
//
// It also serves what callers read of the journal and its surroundings, so
// package api needs nothing else: the event feed with its scope filter and
// long-poll wait and the audit log (events.go), webhooks (webhooks.go),
// backups, verification keys and bundles (keys.go), the signed log's
// checkpoints, proofs and statements (log.go), OIDC verification (oidc.go)
// and readiness (ready.go), each behind an interface internal/app wires.
//
// The rules that must hold for every history — supersession, resolution,
// the key order of versions — are pure functions tested against literal
// reference models with random histories.
package library
