package wire

import (
	"time"
)

// PublisherInput registers a trusted publisher (DESIGN §11).
type PublisherInput struct {
	Issuer   string            `json:"issuer"`
	Audience string            `json:"audience"`
	Claims   map[string]string `json:"claims"`
	Role     string            `json:"role"`
	Versions string            `json:"versions,omitempty"`
}

// Publisher is a product's trusted publisher.
type Publisher struct {
	ID        string            `json:"id"`
	Product   string            `json:"product"`
	Issuer    string            `json:"issuer"`
	Audience  string            `json:"audience"`
	Claims    map[string]string `json:"claims"`
	Role      string            `json:"role"`
	Versions  string            `json:"versions,omitempty"`
	CreatedBy string            `json:"created_by"`
	CreatedAt time.Time         `json:"created_at"`
}

// OIDCExchange is the answer of POST /auth/oidc: a product-scoped token,
// shown once.
type OIDCExchange struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	Product   string    `json:"product"`
	Role      string    `json:"role"`
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Publisher string    `json:"publisher"`
	Versions  string    `json:"versions,omitempty"`
}
