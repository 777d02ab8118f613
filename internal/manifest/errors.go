package manifest

import "errors"

// Sentinel errors, matched with errors.Is.
var (
	// ErrNotCanonical means a document parsed correctly but its bytes are not
	// the canonical serialisation of its content.
	ErrNotCanonical = errors.New("manifest: document is not canonical JSON")

	// ErrInvalidManifest means a manifest is structurally wrong: unknown
	// fields, unsupported schema version, missing or duplicate entries.
	ErrInvalidManifest = errors.New("manifest: invalid manifest")
)
