package wire

import (
	"time"
)

// ArtifactLink is a download URL that needs no Authorization header.
type ArtifactLink struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}
