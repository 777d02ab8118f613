package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/api/wire"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/storage"
)

// Error codes the API answers with: package wire's (api/wire), named here
// too for the handlers. Each is listed with its status in errorTable (or
// written directly by the one helper, writeError).
const (
	CodeInvalidInput        = wire.CodeInvalidInput
	CodeInvalidVersion      = wire.CodeInvalidVersion
	CodeInvalidName         = wire.CodeInvalidName
	CodeInvalidDigestHeader = wire.CodeInvalidDigestHeader
	CodeInvalidJSON         = wire.CodeInvalidJSON
	CodeBodyTooLarge        = wire.CodeBodyTooLarge
	CodeIncompleteBody      = wire.CodeIncompleteBody
	CodeDigestMismatch      = wire.CodeDigestMismatch
	CodeUnauthenticated     = wire.CodeUnauthenticated
	CodeForbidden           = wire.CodeForbidden
	CodeNotFound            = wire.CodeNotFound
	CodeMethodNotAllowed    = wire.CodeMethodNotAllowed
	CodeProductNotFound     = wire.CodeProductNotFound
	CodeReleaseNotFound     = wire.CodeReleaseNotFound
	CodeArtifactNotFound    = wire.CodeArtifactNotFound
	CodeTokenNotFound       = wire.CodeTokenNotFound
	CodeProductExists       = wire.CodeProductExists
	CodeReleaseExists       = wire.CodeReleaseExists
	CodeArtifactExists      = wire.CodeArtifactExists
	CodeReleaseSealed       = wire.CodeReleaseSealed
	CodeUploadInProgress    = wire.CodeUploadInProgress
	CodeInvalidState        = wire.CodeInvalidState
	CodeTypeNotAllowed      = wire.CodeTypeNotAllowed
	CodeEmptyRelease        = wire.CodeEmptyRelease
	CodeArtifactTooLarge    = wire.CodeArtifactTooLarge
	CodeRangeNotSatisfiable = wire.CodeRangeNotSatisfiable
	CodeStorageUnavailable  = wire.CodeStorageUnavailable
	CodeStorageFull         = wire.CodeStorageFull
	CodeTooManyUploads      = wire.CodeTooManyUploads
	CodeJournalBroken       = wire.CodeJournalBroken
	CodeManifestNotFound    = wire.CodeManifestNotFound
	CodeIntegrity           = wire.CodeIntegrity
	CodeFourEyes            = wire.CodeFourEyes
	CodeAlreadyApproved     = wire.CodeAlreadyApproved
	CodeChangeIDRequired    = wire.CodeChangeIDRequired
	CodePrerelease          = wire.CodePrerelease
	CodeReasonRequired      = wire.CodeReasonRequired
	CodeNoMatch             = wire.CodeNoMatch
	CodeWebhookNotFound     = wire.CodeWebhookNotFound
	CodeBaselineNotFound    = wire.CodeBaselineNotFound
	CodeBaselineExists      = wire.CodeBaselineExists
	CodeMemberNotReleased   = wire.CodeMemberNotReleased
	CodeEmptyBaseline       = wire.CodeEmptyBaseline
	CodeEnvironmentNotFound = wire.CodeEnvironmentNotFound
	CodeNotImplemented      = wire.CodeNotImplemented
	CodeInternal            = wire.CodeInternal
	CodeReleaseProtected    = wire.CodeReleaseProtected

	CodeInvalidAttestation    = wire.CodeInvalidAttestation
	CodeAttestationUnverified = wire.CodeAttestationUnverified
	CodeNoAttestationKeys     = wire.CodeNoAttestationKeys
	CodeSubjectMismatch       = wire.CodeSubjectMismatch
	CodeEvidenceMissing       = wire.CodeEvidenceMissing
	CodeAttestationNotFound   = wire.CodeAttestationNotFound
	// Trusted publishing and token lifetimes (DESIGN §11).
	CodeTokenExpired          = wire.CodeTokenExpired
	CodeNoTrustedPublisher    = wire.CodeNoTrustedPublisher
	CodePublisherNotFound     = wire.CodePublisherNotFound
	CodeOIDCTokenInvalid      = wire.CodeOIDCTokenInvalid
	CodeOIDCTokenReplayed     = wire.CodeOIDCTokenReplayed
	CodeOIDCIssuerUntrusted   = wire.CodeOIDCIssuerUntrusted
	CodeOIDCIssuerUnavailable = wire.CodeOIDCIssuerUnavailable
	CodeStatementNotFound     = wire.CodeStatementNotFound
	// CodeWebhookTargetForbidden: the webhook URL is (or resolves to) a
	// loopback, private, link-local or unique-local address.
	CodeWebhookTargetForbidden = wire.CodeWebhookTargetForbidden
	// CodeRequestTimeout: the request body stalled for --body-idle-timeout.
	CodeRequestTimeout = wire.CodeRequestTimeout
	// CodeNotCaughtUp: X-Reliquary-Min-Seq names an event this node has not
	// applied within 5 s.
	CodeNotCaughtUp = wire.CodeNotCaughtUp
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
	{library.ErrWebhookNotFound, http.StatusNotFound, CodeWebhookNotFound},
	{library.ErrJournalBroken, http.StatusInternalServerError, CodeJournalBroken},
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
	{library.ErrOIDCTokenInvalid, http.StatusUnauthorized, CodeOIDCTokenInvalid},
	{library.ErrOIDCIssuerUntrusted, http.StatusUnauthorized, CodeOIDCIssuerUntrusted},
	{library.ErrOIDCIssuerUnavailable, http.StatusServiceUnavailable, CodeOIDCIssuerUnavailable},
	{storage.ErrNotFound, http.StatusNotFound, CodeArtifactNotFound},
	{library.ErrWebhookTargetForbidden, http.StatusBadRequest, CodeWebhookTargetForbidden},
	{library.ErrNoStatement, http.StatusNotFound, CodeStatementNotFound},
	{library.ErrNotCaughtUp, http.StatusServiceUnavailable, CodeNotCaughtUp},
}

// ErrorBody is the error envelope: {"error": {"code", "message", "details"}}.
type ErrorBody = wire.ErrorBody

// ErrorInfo is the content of the envelope.
type ErrorInfo = wire.ErrorInfo

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
