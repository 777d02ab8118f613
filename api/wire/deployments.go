package wire

import (
	"encoding/json"
	"time"
)

// DeploymentInput is a deployment record as an installer sends it.
type DeploymentInput struct {
	Product     string          `json:"product"`
	Version     string          `json:"version"`
	Environment string          `json:"environment"`
	Target      string          `json:"target"`
	Status      string          `json:"status"`
	ChangeID    string          `json:"change_id,omitempty"`
	Details     json.RawMessage `json:"details,omitempty"`
}

// Deployment is a recorded installation.
type Deployment struct {
	ID          uint64          `json:"id"`
	Product     string          `json:"product"`
	Version     string          `json:"version"`
	Type        string          `json:"type"`
	Environment string          `json:"environment"`
	Target      string          `json:"target"`
	Status      string          `json:"status"`
	ChangeID    string          `json:"change_id"`
	Details     json.RawMessage `json:"details"`
	RecordedBy  string          `json:"recorded_by"`
	RecordedAt  time.Time       `json:"recorded_at"`
}

// DeploymentPage is one page of Deployments, newest first.
type DeploymentPage struct {
	Deployments []Deployment `json:"deployments"`
	NextCursor  string       `json:"next_cursor,omitempty"`
}

// Environment is what runs in an environment, per product and target.
type Environment struct {
	Environment string    `json:"environment"`
	Installs    []Install `json:"installs"`
}

// Install is the version running on one target, flagged when its release
// is now superseded or withdrawn.
type Install struct {
	Product      string      `json:"product"`
	Target       string      `json:"target"`
	Version      string      `json:"version"`
	Type         string      `json:"type"`
	Status       string      `json:"status"`
	DeploymentID uint64      `json:"deployment_id"`
	ChangeID     string      `json:"change_id"`
	DeployedBy   string      `json:"deployed_by"`
	DeployedAt   time.Time   `json:"deployed_at"`
	State        string      `json:"state"`
	Superseded   bool        `json:"superseded"`
	SupersededBy string      `json:"superseded_by,omitempty"`
	Withdrawn    bool        `json:"withdrawn"`
	Withdrawal   *Withdrawal `json:"withdrawal,omitempty"`
	LastAttempt  *Deployment `json:"last_attempt,omitempty"`
}
