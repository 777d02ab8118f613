package wire

import (
	"time"
)

// Product is a release unit.
type Product struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Owner       string    `json:"owner"`
	CIID        string    `json:"ci_id"`
	Policy      Policy    `json:"policy"`
	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
}

// ProductInput is the body of CreateProduct.
type ProductInput struct {
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	Owner       string       `json:"owner,omitempty"`
	CIID        string       `json:"ci_id,omitempty"`
	Policy      *PolicyInput `json:"policy,omitempty"`
}

// Policy is a product's release policy.
type Policy struct {
	RequiredApprovals int      `json:"required_approvals"`
	FourEyes          bool     `json:"four_eyes"`
	RequireChangeID   bool     `json:"require_change_id"`
	SupportedMajors   int      `json:"supported_majors"`
	SupportedMinors   int      `json:"supported_minors"`
	AllowedTypes      []string `json:"allowed_types"`
	MaxArtifactBytes  int64    `json:"max_artifact_bytes"`

	RolloutHaltFailureRatio float64 `json:"rollout_halt_failure_ratio"`
	// Retention is what the retention runner may delete (nil: nothing).
	Retention *RetentionPolicy `json:"retention,omitempty"`

	AttestationKeys      []string `json:"attestation_keys,omitempty"`
	RequiredAttestations []string `json:"required_attestations,omitempty"`
}

// RetentionPolicy is policy.retention; a zero field turns its rule off.
type RetentionPolicy struct {
	DraftsDays     int `json:"drafts_days,omitempty"`
	CandidatesKeep int `json:"candidates_keep,omitempty"`
}

// Input returns the policy as a complete PolicyInput (every field set).
func (p Policy) Input() PolicyInput {
	return PolicyInput{
		RequiredApprovals: &p.RequiredApprovals, FourEyes: &p.FourEyes, RequireChangeID: &p.RequireChangeID,
		SupportedMajors: &p.SupportedMajors, SupportedMinors: &p.SupportedMinors,
		AllowedTypes: append([]string{}, p.AllowedTypes...), MaxArtifactBytes: &p.MaxArtifactBytes,
		Retention:       p.Retention,
		AttestationKeys: p.AttestationKeys, RequiredAttestations: p.RequiredAttestations,
		RolloutHaltFailureRatio: &p.RolloutHaltFailureRatio,
	}
}

// PolicyInput is the body of SetPolicy: the server fills absent (nil)
// fields with the defaults, so SetPolicy replaces the whole policy.
type PolicyInput struct {
	RequiredApprovals *int             `json:"required_approvals,omitempty"`
	FourEyes          *bool            `json:"four_eyes,omitempty"`
	RequireChangeID   *bool            `json:"require_change_id,omitempty"`
	SupportedMajors   *int             `json:"supported_majors,omitempty"`
	SupportedMinors   *int             `json:"supported_minors,omitempty"`
	AllowedTypes      []string         `json:"allowed_types,omitempty"`
	MaxArtifactBytes  *int64           `json:"max_artifact_bytes,omitempty"`
	Retention         *RetentionPolicy `json:"retention,omitempty"`

	RolloutHaltFailureRatio *float64 `json:"rollout_halt_failure_ratio,omitempty"`

	AttestationKeys      []string `json:"attestation_keys,omitempty"`
	RequiredAttestations []string `json:"required_attestations,omitempty"`
}

// Release states.
const (
	StateDraft     = "draft"
	StateCandidate = "candidate"
	StateApproved  = "approved"
	StateReleased  = "released"
	StateWithdrawn = "withdrawn"
)

// Release is one version of a product.
type Release struct {
	Product        string            `json:"product"`
	Version        string            `json:"version"`
	Type           string            `json:"type"`
	Prerelease     bool              `json:"prerelease"`
	State          string            `json:"state"`
	SupersededBy   string            `json:"superseded_by"`
	ChangeID       string            `json:"change_id"`
	CIIDs          []string          `json:"ci_ids"`
	Labels         map[string]string `json:"labels"`
	Notes          string            `json:"notes"`
	CreatedBy      string            `json:"created_by"`
	CreatedAt      time.Time         `json:"created_at"`
	SealedBy       string            `json:"sealed_by,omitempty"`
	SealedAt       *time.Time        `json:"sealed_at,omitempty"`
	ManifestDigest string            `json:"manifest_digest,omitempty"`
	Approvals      []Approval        `json:"approvals"`
	ReleasedBy     string            `json:"released_by,omitempty"`
	ReleasedAt     *time.Time        `json:"released_at,omitempty"`
	Withdrawn      *Withdrawal       `json:"withdrawn,omitempty"`
	History        []Transition      `json:"history"`
	Artifacts      []Artifact        `json:"artifacts"`
	// Rollout is the phased plan of a released release; nil: fully rolled out.
	Rollout *Rollout `json:"rollout,omitempty"`

	AttestationDigests []string `json:"attestation_digests,omitempty"`
}

// Approval is one release manager's approval.
type Approval struct {
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	Comment string    `json:"comment"`
}

// Withdrawal records a backout.
type Withdrawal struct {
	By       string    `json:"by"`
	At       time.Time `json:"at"`
	Reason   string    `json:"reason"`
	ChangeID string    `json:"change_id"`
}

// Transition is one step of a release's history.
type Transition struct {
	From     string    `json:"from"`
	To       string    `json:"to"`
	Actor    string    `json:"actor"`
	Time     time.Time `json:"time"`
	ChangeID string    `json:"change_id"`
	Comment  string    `json:"comment"`
}

// Artifact is one file of a release.
type Artifact struct {
	Name       string    `json:"name"`
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256"`
	MediaType  string    `json:"media_type"`
	OS         string    `json:"os,omitempty"`
	Arch       string    `json:"arch,omitempty"`
	UploadedBy string    `json:"uploaded_by"`
	UploadedAt time.Time `json:"uploaded_at"`
	Signature  string    `json:"signature,omitempty"`
	KeyID      string    `json:"key_id,omitempty"`
}

// ReleaseInput is the body of CreateRelease.
type ReleaseInput struct {
	Version  string            `json:"version"`
	ChangeID string            `json:"change_id,omitempty"`
	CIIDs    []string          `json:"ci_ids,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Notes    string            `json:"notes,omitempty"`
}

// ReleasePage is one page of Releases; NextCursor is "" on the last page.
// Listed releases carry no artifacts (GET the release for those).
type ReleasePage struct {
	Releases   []Release `json:"releases"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

// PromoteInput is the body of Promote. To defaults to "released".
type PromoteInput struct {
	To       string `json:"to"`
	ChangeID string `json:"change_id,omitempty"`
	Comment  string `json:"comment,omitempty"`
	// Rollout, when set, is the first rollout plan (else percent 100).
	Rollout *RolloutInput `json:"rollout,omitempty"`
}

// WithdrawInput is the body of Withdraw.
type WithdrawInput struct {
	Reason   string `json:"reason"`
	ChangeID string `json:"change_id,omitempty"`
}

// Resolution is the answer of Resolve.
type Resolution struct {
	Release     Release            `json:"release"`
	Artifacts   []ResolvedArtifact `json:"artifacts"`
	ManifestURL string             `json:"manifest_url"`
	// Required: the rollout deadline passed and the target runs older.
	Required bool `json:"required"`
}

// ResolvedArtifact is a matching artifact with where to download it
// (paths relative to the server root).
type ResolvedArtifact struct {
	Artifact
	DownloadURL  string `json:"download_url"`
	SignatureURL string `json:"signature_url"`
}

// Token roles.
const (
	RoleReader         = "reader"
	RoleDeployer       = "deployer"
	RolePublisher      = "publisher"
	RoleReleaseManager = "release-manager"
	RoleAdmin          = "admin"
)

// TokenInput is the body of CreateToken.
type TokenInput struct {
	Name     string   `json:"name"`
	Role     string   `json:"role"`
	Products []string `json:"products,omitempty"`
	// TTL, when set, makes the token expire ("720h", "90m").
	TTL string `json:"ttl,omitempty"`
}

// Token is an API token as the server shows it: never its hash. Secret
// is set only in the answer of CreateToken (shown once); Token carries the
// same value for clients that look for it under that name.
type Token struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Products  []string  `json:"products"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	Secret    string    `json:"secret,omitempty"`
	Token     string    `json:"token,omitempty"`
	// Lifetimes: null when the token never expires or was never used.
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	// Versions limits the releases a token minted by trusted publishing
	// may create; OIDC names the publisher and identity that minted it.
	Versions string     `json:"versions,omitempty"`
	OIDC     *TokenOIDC `json:"oidc,omitempty"`
}

// TokenOIDC records which trusted publisher minted a token and for whom.
type TokenOIDC struct {
	Issuer    string `json:"issuer"`
	Subject   string `json:"subject"`
	Publisher string `json:"publisher"`
}

// TokenList is the answer of GET /tokens.
type TokenList struct {
	Tokens []Token `json:"tokens"`
}

// SigningKey is one verification key of GET /signing/keys.
type SigningKey struct {
	KeyID     string `json:"key_id"`
	PublicKey string `json:"public_key"`
	Current   bool   `json:"current"`
}

// Readiness is the answer of Readyz.
type Readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

// ProductList is the answer of GET /products.
type ProductList struct {
	Products []Product `json:"products"`
}

// CommentInput is the optional body of seal and approve.
type CommentInput struct {
	Comment string `json:"comment,omitempty"`
}

// SigningKeys is the answer of GET /signing/keys.
type SigningKeys struct {
	Keys []SigningKey `json:"keys"`
}
