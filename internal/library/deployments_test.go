package library

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDeploymentInputValidate(t *testing.T) {
	ok := DeploymentInput{Product: "hr", Version: "1.2.3", Environment: "production", Target: "k8s-eu/hr@node-1", Status: DeployRolledBack}
	with := func(f func(*DeploymentInput)) DeploymentInput {
		in := ok
		f(&in)
		return in
	}
	for _, c := range []struct {
		name    string
		in      DeploymentInput
		err     error
		details string
	}{
		{"ok", ok, nil, "{}"},
		{"null details", with(func(in *DeploymentInput) { in.Details = json.RawMessage("null") }), nil, "{}"},
		{"details compacted", with(func(in *DeploymentInput) { in.Details = json.RawMessage(`{ "a" : [1, 2] }`) }), nil, `{"a":[1,2]}`},
		{"details array", with(func(in *DeploymentInput) { in.Details = json.RawMessage(`[1]`) }), ErrInvalidInput, ""},
		{"details string", with(func(in *DeploymentInput) { in.Details = json.RawMessage(`"x"`) }), ErrInvalidInput, ""},
		{"details at the limit", with(func(in *DeploymentInput) {
			in.Details = json.RawMessage(`{"x":"` + strings.Repeat("a", MaxDeploymentDetails-8) + `"}`)
		}), nil, ""},
		{"details over the limit", with(func(in *DeploymentInput) {
			in.Details = json.RawMessage(`{"x":"` + strings.Repeat("a", MaxDeploymentDetails-7) + `"}`)
		}), ErrInvalidInput, ""},
		{"bad product", with(func(in *DeploymentInput) { in.Product = "HR" }), ErrInvalidName, ""},
		{"bad version", with(func(in *DeploymentInput) { in.Version = "v1" }), ErrInvalidVersion, ""},
		{"bad environment", with(func(in *DeploymentInput) { in.Environment = "prod/eu" }), ErrInvalidName, ""},
		{"empty environment", with(func(in *DeploymentInput) { in.Environment = "" }), ErrInvalidName, ""},
		{"empty target", with(func(in *DeploymentInput) { in.Target = "" }), ErrInvalidInput, ""},
		{"target with a space", with(func(in *DeploymentInput) { in.Target = "web 1" }), ErrInvalidInput, ""},
		{"target too long", with(func(in *DeploymentInput) { in.Target = strings.Repeat("a", 254) }), ErrInvalidInput, ""},
		{"target of 253", with(func(in *DeploymentInput) { in.Target = strings.Repeat("a", 253) }), nil, "{}"},
		{"bad status", with(func(in *DeploymentInput) { in.Status = "done" }), ErrInvalidInput, ""},
		{"change id with control", with(func(in *DeploymentInput) { in.ChangeID = "CHG\x00" }), ErrInvalidInput, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			details, err := c.in.validate()
			if !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if c.details != "" && string(details) != c.details {
				t.Errorf("details = %s, want %s", details, c.details)
			}
		})
	}
}

func TestDeploymentStatusRuns(t *testing.T) {
	for s, runs := range map[DeploymentStatus]bool{DeploySucceeded: true, DeployRolledBack: true, DeployFailed: false} {
		if s.Runs() != runs || !s.Valid() {
			t.Errorf("%s: runs %v valid %v", s, s.Runs(), s.Valid())
		}
	}
}
