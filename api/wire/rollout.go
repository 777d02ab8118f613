package wire

import (
	"time"
)

// Rollout is the phased plan of a released release (DESIGN.md §14), as
// the release carries it: RolloutView lists the pilots.
type Rollout struct {
	Percent       int          `json:"percent"`
	PilotCount    int          `json:"pilot_count"`
	Environments  []string     `json:"environments"`
	RequiredAfter *time.Time   `json:"required_after,omitempty"`
	UpdatedBy     string       `json:"updated_by"`
	UpdatedAt     time.Time    `json:"updated_at"`
	Halted        *RolloutHalt `json:"halted,omitempty"`
}

// RolloutHalt says why the deployment records halted a rollout.
type RolloutHalt struct {
	At              time.Time `json:"at"`
	Deployments     int       `json:"deployments"`
	Failed          int       `json:"failed"`
	Ratio           float64   `json:"ratio"`
	PreviousPercent int       `json:"previous_percent"`
	DeploymentID    uint64    `json:"deployment_id"`
}

// RolloutInput is the body of SetRollout (and of PromoteInput.Rollout). A
// nil Percent is 0: only pilots and environments get the release.
type RolloutInput struct {
	Percent       *int     `json:"percent,omitempty"`
	Pilots        []string `json:"pilots,omitempty"`
	Environments  []string `json:"environments,omitempty"`
	RequiredAfter string   `json:"required_after,omitempty"` // RFC 3339
}

// RolloutCounts are deployment records by status.
type RolloutCounts struct {
	Succeeded  int `json:"succeeded"`
	Failed     int `json:"failed"`
	RolledBack int `json:"rolled_back"`
}

// RolloutView is a release's plan and its deployment records counted per
// environment and in total.
type RolloutView struct {
	Product        string `json:"product"`
	Version        string `json:"version"`
	State          string `json:"state"`
	FullyRolledOut bool   `json:"fully_rolled_out"`
	Rollout
	Pilots      []string                 `json:"pilots"`
	Deployments map[string]RolloutCounts `json:"deployments"`
	Totals      RolloutCounts            `json:"totals"`
}
