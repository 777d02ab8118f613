package wire

// Error codes of the error envelope ({"error": {"code", ...}}). The server
// gives each its HTTP status (package api's error table); a client tests
// them (client.HasCode) instead of spelling the strings.
const (
	CodeInvalidInput        = "INVALID_INPUT"
	CodeInvalidVersion      = "INVALID_VERSION"
	CodeInvalidName         = "INVALID_NAME"
	CodeInvalidDigestHeader = "INVALID_DIGEST_HEADER"
	CodeInvalidJSON         = "INVALID_JSON"
	CodeBodyTooLarge        = "BODY_TOO_LARGE"
	CodeIncompleteBody      = "INCOMPLETE_BODY"
	CodeDigestMismatch      = "DIGEST_MISMATCH"
	CodeUnauthenticated     = "UNAUTHENTICATED"
	CodeForbidden           = "FORBIDDEN"
	CodeNotFound            = "NOT_FOUND"
	CodeMethodNotAllowed    = "METHOD_NOT_ALLOWED"
	CodeProductNotFound     = "PRODUCT_NOT_FOUND"
	CodeReleaseNotFound     = "RELEASE_NOT_FOUND"
	CodeArtifactNotFound    = "ARTIFACT_NOT_FOUND"
	CodeTokenNotFound       = "TOKEN_NOT_FOUND"
	CodeProductExists       = "PRODUCT_EXISTS"
	CodeReleaseExists       = "RELEASE_EXISTS"
	CodeArtifactExists      = "ARTIFACT_EXISTS"
	CodeReleaseSealed       = "RELEASE_SEALED"
	CodeUploadInProgress    = "UPLOAD_IN_PROGRESS"
	CodeInvalidState        = "INVALID_STATE"
	CodeTypeNotAllowed      = "TYPE_NOT_ALLOWED"
	CodeEmptyRelease        = "EMPTY_RELEASE"
	CodeArtifactTooLarge    = "ARTIFACT_TOO_LARGE"
	CodeRangeNotSatisfiable = "RANGE_NOT_SATISFIABLE"
	CodeStorageUnavailable  = "STORAGE_UNAVAILABLE"
	CodeStorageFull         = "STORAGE_FULL"
	CodeTooManyUploads      = "TOO_MANY_UPLOADS"
	CodeJournalBroken       = "JOURNAL_BROKEN"
	CodeManifestNotFound    = "MANIFEST_NOT_FOUND"
	CodeIntegrity           = "INTEGRITY_ERROR"
	CodeFourEyes            = "FOUR_EYES"
	CodeAlreadyApproved     = "ALREADY_APPROVED"
	CodeChangeIDRequired    = "CHANGE_ID_REQUIRED"
	CodePrerelease          = "PRERELEASE_NOT_RELEASABLE"
	CodeReasonRequired      = "REASON_REQUIRED"
	CodeNoMatch             = "NO_MATCH"
	CodeWebhookNotFound     = "WEBHOOK_NOT_FOUND"
	CodeBaselineNotFound    = "BASELINE_NOT_FOUND"
	CodeBaselineExists      = "BASELINE_EXISTS"
	CodeMemberNotReleased   = "MEMBER_NOT_RELEASED"
	CodeEmptyBaseline       = "EMPTY_BASELINE"
	CodeEnvironmentNotFound = "ENVIRONMENT_NOT_FOUND"
	CodeNotImplemented      = "NOT_IMPLEMENTED"
	CodeInternal            = "INTERNAL"
	CodeReleaseProtected    = "RELEASE_PROTECTED"

	CodeInvalidAttestation    = "INVALID_ATTESTATION"
	CodeAttestationUnverified = "ATTESTATION_UNVERIFIED"
	CodeNoAttestationKeys     = "NO_ATTESTATION_KEYS"
	CodeSubjectMismatch       = "SUBJECT_MISMATCH"
	CodeEvidenceMissing       = "EVIDENCE_MISSING"
	CodeAttestationNotFound   = "ATTESTATION_NOT_FOUND"
	// Trusted publishing and token lifetimes (DESIGN §11).
	CodeTokenExpired          = "TOKEN_EXPIRED"
	CodeNoTrustedPublisher    = "NO_TRUSTED_PUBLISHER"
	CodePublisherNotFound     = "PUBLISHER_NOT_FOUND"
	CodeOIDCTokenInvalid      = "OIDC_TOKEN_INVALID"
	CodeOIDCTokenReplayed     = "OIDC_TOKEN_REPLAYED"
	CodeOIDCIssuerUntrusted   = "OIDC_ISSUER_NOT_TRUSTED"
	CodeOIDCIssuerUnavailable = "OIDC_ISSUER_UNAVAILABLE"
	CodeStatementNotFound     = "STATEMENT_NOT_FOUND"
	// CodeWebhookTargetForbidden: the webhook URL is (or resolves to) a
	// loopback, private, link-local or unique-local address.
	CodeWebhookTargetForbidden = "WEBHOOK_TARGET_FORBIDDEN"
	// CodeRequestTimeout: the request body stalled for --body-idle-timeout.
	CodeRequestTimeout = "REQUEST_TIMEOUT"
	// CodeNotCaughtUp: X-Reliquary-Min-Seq names an event this node has not
	// applied within 5 s; retry (Retry-After) or ask another node.
	CodeNotCaughtUp = "NOT_CAUGHT_UP"
)

// ErrorBody is the error envelope: {"error": {"code", "message", "details"}}.
type ErrorBody struct {
	Error ErrorInfo `json:"error"`
}

// ErrorInfo is the content of the envelope.
type ErrorInfo struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}
