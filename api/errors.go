package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/oidc"
	"github.com/reliquary/reliquary/storage"
)

// Error codes the API answers with. Each is listed with its status in
// errorTable (or written directly by the one helper, writeError).
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
	// applied within 5 s (DESIGN §9).
	CodeNotCaughtUp = "NOT_CAUGHT_UP"
)

// errorTable maps domain and storage errors (errors.Is) to status and code.
// The first match wins.
var errorTable = []struct {
	err    error
	status int
	code   string
}{
	{library.ErrInvalidVersion, http.StatusBadRequest, CodeInvalidVersion},
	{library.ErrInvalidName, http.StatusBadRequest, CodeInvalidName},
	{library.ErrInvalidInput, http.StatusBadRequest, CodeInvalidInput},
	{library.ErrDigestMismatch, http.StatusBadRequest, CodeDigestMismatch},
	{library.ErrUnauthenticated, http.StatusUnauthorized, CodeUnauthenticated},
	{library.ErrForbidden, http.StatusForbidden, CodeForbidden},
	{library.ErrProductNotFound, http.StatusNotFound, CodeProductNotFound},
	{library.ErrReleaseNotFound, http.StatusNotFound, CodeReleaseNotFound},
	{library.ErrArtifactNotFound, http.StatusNotFound, CodeArtifactNotFound},
	{library.ErrTokenNotFound, http.StatusNotFound, CodeTokenNotFound},
	{library.ErrProductExists, http.StatusConflict, CodeProductExists},
	{library.ErrReleaseExists, http.StatusConflict, CodeReleaseExists},
	{library.ErrArtifactExists, http.StatusConflict, CodeArtifactExists},
	{library.ErrReleaseSealed, http.StatusConflict, CodeReleaseSealed},
	{library.ErrUploadBusy, http.StatusConflict, CodeUploadInProgress},
	{library.ErrInvalidState, http.StatusConflict, CodeInvalidState},
	{library.ErrTypeNotAllowed, http.StatusConflict, CodeTypeNotAllowed},
	{library.ErrEmptyRelease, http.StatusConflict, CodeEmptyRelease},
	{library.ErrTooLarge, http.StatusRequestEntityTooLarge, CodeArtifactTooLarge},
	{library.ErrManifestNotFound, http.StatusNotFound, CodeManifestNotFound},
	{library.ErrIntegrity, http.StatusInternalServerError, CodeIntegrity},
	{library.ErrFourEyes, http.StatusForbidden, CodeFourEyes},
	{library.ErrAlreadyApproved, http.StatusConflict, CodeAlreadyApproved},
	{library.ErrChangeIDRequired, http.StatusBadRequest, CodeChangeIDRequired},
	{library.ErrPrerelease, http.StatusConflict, CodePrerelease},
	{library.ErrReasonRequired, http.StatusBadRequest, CodeReasonRequired},
	{library.ErrNoMatch, http.StatusNotFound, CodeNoMatch},
	{library.ErrBaselineNotFound, http.StatusNotFound, CodeBaselineNotFound},
	{library.ErrBaselineExists, http.StatusConflict, CodeBaselineExists},
	{library.ErrMemberNotReleased, http.StatusConflict, CodeMemberNotReleased},
	{library.ErrEmptyBaseline, http.StatusConflict, CodeEmptyBaseline},
	{library.ErrEnvironmentNotFound, http.StatusNotFound, CodeEnvironmentNotFound},
	{library.ErrNotImplemented, http.StatusNotImplemented, CodeNotImplemented},
	{library.ErrIncompleteBody, http.StatusBadRequest, CodeIncompleteBody},
	{storage.ErrSizeMismatch, http.StatusBadRequest, CodeIncompleteBody},
	{storage.ErrInvalidRange, http.StatusRequestedRangeNotSatisfiable, CodeRangeNotSatisfiable},
	{storage.ErrNoSpace, http.StatusInsufficientStorage, CodeStorageFull},
	{library.ErrIndexFull, http.StatusInsufficientStorage, CodeStorageFull},
	{storage.ErrUnavailable, http.StatusServiceUnavailable, CodeStorageUnavailable},
	{journal.ErrWebhookNotFound, http.StatusNotFound, CodeWebhookNotFound},
	{journal.ErrBroken, http.StatusInternalServerError, CodeJournalBroken},
	{library.ErrReleaseProtected, http.StatusConflict, CodeReleaseProtected},

	{library.ErrInvalidAttestation, http.StatusBadRequest, CodeInvalidAttestation},
	{library.ErrAttestationUnverified, http.StatusBadRequest, CodeAttestationUnverified},
	{library.ErrNoAttestationKeys, http.StatusConflict, CodeNoAttestationKeys},
	{library.ErrSubjectMismatch, http.StatusBadRequest, CodeSubjectMismatch},
	{library.ErrEvidenceMissing, http.StatusConflict, CodeEvidenceMissing},
	{library.ErrAttestationNotFound, http.StatusNotFound, CodeAttestationNotFound},
	{library.ErrTokenExpired, http.StatusUnauthorized, CodeTokenExpired},
	{library.ErrNoTrustedPublisher, http.StatusForbidden, CodeNoTrustedPublisher},
	{library.ErrPublisherNotFound, http.StatusNotFound, CodePublisherNotFound},
	{library.ErrTokenReplayed, http.StatusUnauthorized, CodeOIDCTokenReplayed},
	{oidc.ErrInvalidToken, http.StatusUnauthorized, CodeOIDCTokenInvalid},
	{oidc.ErrUntrustedIssuer, http.StatusUnauthorized, CodeOIDCIssuerUntrusted},
	{oidc.ErrIssuerUnavailable, http.StatusServiceUnavailable, CodeOIDCIssuerUnavailable},
	{storage.ErrNotFound, http.StatusNotFound, CodeArtifactNotFound},
	{journal.ErrTargetForbidden, http.StatusBadRequest, CodeWebhookTargetForbidden},
	{library.ErrNotCaughtUp, http.StatusServiceUnavailable, CodeNotCaughtUp},
}

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

// writeError is the one place an error becomes a response.
func writeError(c *gin.Context, status int, code, msg string, details map[string]any) {
	if bodyTimedOut(c) {
		status, code, details = http.StatusRequestTimeout, CodeRequestTimeout, nil
		msg = "the request body sent nothing for too long (--body-idle-timeout)"
	}
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusRequestEntityTooLarge, http.StatusRequestTimeout, http.StatusTooManyRequests:
		refuseUnreadBody(c)
	}
	switch status {
	case http.StatusServiceUnavailable:
		c.Header("Retry-After", "5")
	case http.StatusTooManyRequests:
		c.Header("Retry-After", "1")
	}
	c.AbortWithStatusJSON(status, ErrorBody{Error: ErrorInfo{Code: code, Message: msg, Details: details}})
}

// fail maps err through errorTable and writes it. Unknown errors are 500s,
// logged with the request ID, never shown to the client.
func fail(c *gin.Context, err error) {
	var details map[string]any
	var de *library.DetailedError
	if errors.As(err, &de) {
		details = de.Details
	}
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			msg := err.Error()
			if de != nil {
				msg = de.Error()
			}
			if e.status >= 500 {
				slog.Warn("request failed", "request_id", requestID(c), "code", e.code, "err", err)
				if e.code == CodeStorageUnavailable {
					msg = "the artifact store is unavailable; retry later"
				}
			}
			writeError(c, e.status, e.code, msg, details)
			return
		}
	}
	if errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil {
		// The client went away; nobody reads the answer.
		c.Abort()
		return
	}
	slog.Error("internal error", "request_id", requestID(c), "method", c.Request.Method, "path", c.FullPath(), "err", err)
	writeError(c, http.StatusInternalServerError, CodeInternal, "internal error; see the server log for request "+requestID(c), nil)
}
