package library

import "errors"

// Domain errors. Callers test them with errors.Is; only package api turns
// them into HTTP statuses and error codes (one table there).
var (
	ErrInvalidInput   = errors.New("invalid input")
	ErrInvalidVersion = errors.New("invalid version")
	ErrInvalidName    = errors.New("invalid name")

	ErrProductNotFound  = errors.New("product not found")
	ErrProductExists    = errors.New("product already exists")
	ErrReleaseNotFound  = errors.New("release not found")
	ErrReleaseExists    = errors.New("release already exists")
	ErrArtifactNotFound = errors.New("artifact not found")
	ErrArtifactExists   = errors.New("artifact already exists with other bytes")
	ErrTokenNotFound    = errors.New("token not found")

	ErrReleaseSealed   = errors.New("release is sealed")
	ErrDigestMismatch  = errors.New("digest mismatch")
	ErrIncompleteBody  = errors.New("the request body ended early")
	ErrTooLarge        = errors.New("artifact larger than the product allows")
	ErrUploadBusy      = errors.New("another upload of this artifact is in progress")
	ErrEmptyRelease    = errors.New("release has no artifacts")
	ErrInvalidState    = errors.New("transition not allowed from this state")
	ErrTypeNotAllowed  = errors.New("release type not allowed by policy")
	ErrNotImplemented  = errors.New("not implemented in this build")
	ErrForbidden       = errors.New("forbidden")
	ErrIntegrity       = errors.New("stored data does not match the index")
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrIndexFull: the index volume has no room for a commit; nothing was
	// written (the index's backend maps its out-of-space errors to it).
	ErrIndexFull = errors.New("index volume full")
)

// DetailedError carries machine-readable details next to a domain error.
type DetailedError struct {
	Err     error
	Msg     string
	Details map[string]any
}

func (e *DetailedError) Error() string {
	if e.Msg == "" {
		return e.Err.Error()
	}
	return e.Msg
}

func (e *DetailedError) Unwrap() error { return e.Err }

// withDetails wraps err with a message and details.
func withDetails(err error, msg string, details map[string]any) error {
	return &DetailedError{Err: err, Msg: msg, Details: details}
}
