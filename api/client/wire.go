package client

import "github.com/reliquary/reliquary/api/wire"

// The request and response types of the HTTP API are package wire's
// (api/wire), shared with the server; these aliases keep the client's
// names.
type (
	Attestation        = wire.Attestation
	AttestationSubject = wire.AttestationSubject
	Baseline           = wire.Baseline
	BaselineMember     = wire.BaselineMember
	ReleaseRef         = wire.ReleaseRef
	BaselineInput      = wire.BaselineInput
	BaselineDiff       = wire.BaselineDiff
	ProductChange      = wire.ProductChange
	DeploymentInput    = wire.DeploymentInput
	Deployment         = wire.Deployment
	DeploymentPage     = wire.DeploymentPage
	Environment        = wire.Environment
	Install            = wire.Install
	Event              = wire.Event
	EventPage          = wire.EventPage
	AuditReport        = wire.AuditReport
	WebhookInput       = wire.WebhookInput
	Webhook            = wire.Webhook
	Delivery           = wire.Delivery
	ArtifactLink       = wire.ArtifactLink
	PublisherInput     = wire.PublisherInput
	Publisher          = wire.Publisher
	OIDCExchange       = wire.OIDCExchange
	DeletedRelease     = wire.DeletedRelease
	RetentionItem      = wire.RetentionItem
	RetentionReport    = wire.RetentionReport
	Rollout            = wire.Rollout
	RolloutHalt        = wire.RolloutHalt
	RolloutInput       = wire.RolloutInput
	RolloutCounts      = wire.RolloutCounts
	RolloutView        = wire.RolloutView
	Product            = wire.Product
	ProductInput       = wire.ProductInput
	Policy             = wire.Policy
	RetentionPolicy    = wire.RetentionPolicy
	PolicyInput        = wire.PolicyInput
	Release            = wire.Release
	Approval           = wire.Approval
	Withdrawal         = wire.Withdrawal
	Transition         = wire.Transition
	Artifact           = wire.Artifact
	ReleaseInput       = wire.ReleaseInput
	ReleasePage        = wire.ReleasePage
	PromoteInput       = wire.PromoteInput
	WithdrawInput      = wire.WithdrawInput
	Resolution         = wire.Resolution
	ResolvedArtifact   = wire.ResolvedArtifact
	TokenInput         = wire.TokenInput
	Token              = wire.Token
	SigningKey         = wire.SigningKey
	Readiness          = wire.Readiness
)

// Release states and token roles (package wire).
const (
	StateDraft         = wire.StateDraft
	StateCandidate     = wire.StateCandidate
	StateApproved      = wire.StateApproved
	StateReleased      = wire.StateReleased
	StateWithdrawn     = wire.StateWithdrawn
	RoleReader         = wire.RoleReader
	RoleDeployer       = wire.RoleDeployer
	RolePublisher      = wire.RolePublisher
	RoleReleaseManager = wire.RoleReleaseManager
	RoleAdmin          = wire.RoleAdmin
)
