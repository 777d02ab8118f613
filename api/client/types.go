package client

// The client's own query types; the JSON types of the HTTP API are
// package wire's (wire.go), which imports only the standard library, so a
// program that only talks to Reliquary does not link the server.

// ReleaseFilter narrows Releases. Zero fields do not filter.
type ReleaseFilter struct {
	State      string
	Type       string
	Constraint string
	Label      string // "key:value"
	Limit      int
	Cursor     string
}

// ResolveQuery is what an installer asks Resolve for.
type ResolveQuery struct {
	Constraint string // e.g. "^1.2"; "" for any non-prerelease version
	OS, Arch   string // "" for any
	MinState   string // "released" (default) or "approved"
	Current    bool   // skip superseded releases
	// Target and Environment name the caller for rollouts: a release below
	// 100% reaches only its pilots, environments and percentage of targets.
	Target, Environment string
}
