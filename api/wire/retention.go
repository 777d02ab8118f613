package wire

import (
	"time"
)

// DeletedRelease is what DeleteRelease removed.
type DeletedRelease struct {
	Product   string `json:"product"`
	Version   string `json:"version"`
	State     string `json:"state"`
	Artifacts int    `json:"artifacts"`
	Bytes     int64  `json:"bytes"`
	Seq       uint64 `json:"seq"`
}

// RetentionItem is one release a retention run deleted (Reason) or kept
// (Rule).
type RetentionItem struct {
	Product string `json:"product"`
	Version string `json:"version"`
	State   string `json:"state"`
	Reason  string `json:"reason,omitempty"`
	Rule    string `json:"rule,omitempty"`
	Detail  string `json:"detail"`
	Bytes   int64  `json:"bytes,omitempty"`
}

// RetentionReport is the answer of RunRetention.
type RetentionReport struct {
	DryRun     bool            `json:"dry_run"`
	RanAt      time.Time       `json:"ran_at"`
	Products   []string        `json:"products"`
	Deleted    []RetentionItem `json:"deleted"`
	Kept       []RetentionItem `json:"kept"`
	BytesFreed int64           `json:"bytes_freed"`
}
