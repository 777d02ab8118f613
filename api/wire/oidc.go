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

// PublisherList is the answer of GET /products/{p}/publishers.
type PublisherList struct {
	Publishers []Publisher `json:"publishers"`
}

// OIDCExchangeRequest is the body of POST /auth/oidc: a CI job's OIDC ID
// token.
type OIDCExchangeRequest struct {
	Token string `json:"token"`
	// Product, when set, chooses among several products that trust the
	// same workflow.
	Product string `json:"product,omitempty"`
}
