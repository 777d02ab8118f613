package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/spf13/cobra"

	"github.com/reliquary/reliquary/api/client"
)

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func allCommands(c *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{c}
	for _, s := range c.Commands() {
		out = append(out, allCommands(s)...)
	}
	return out
}

// TestEveryClientCommandHasExamples keeps --help true to its promise, and
// checks every client command has -o and --quiet.
func TestEveryClientCommandHasExamples(t *testing.T) {
	clientCmds := map[string]bool{"push": true, "releases": true, "show": true, "approve": true, "promote": true, "withdraw": true,
		"get": true, "verify": true, "product": true, "policy": true, "token": true, "completion": true,
		"baseline": true, "deploy": true, "attest": true, "login": true, "publisher": true}
	for _, c := range allCommands(newRootCmd()) {
		top := c
		for top.HasParent() && top.Parent().HasParent() {
			top = top.Parent()
		}
		if c.Hidden || c.Name() == "help" || !clientCmds[top.Name()] {
			continue
		}
		if c.Example == "" {
			t.Errorf("%s has no Example", c.CommandPath())
		}
		if top.Name() != "completion" && c.PersistentFlags().Lookup("output") == nil && c.InheritedFlags().Lookup("output") == nil {
			t.Errorf("%s has no -o", c.CommandPath())
		}
	}
}

func TestExitCode(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("boom"), 1},
		{usageError{errors.New("bad flag")}, 2},
		{fmt.Errorf("wrapped: %w", usageError{errors.New("bad")}), 2},
		{verifyFailed("manifest signature", "no"), 3},
		{fmt.Errorf("get: %w", verifyFailed("artifact a digest", "no")), 3},
		{&client.Error{Status: 404, Code: "NO_MATCH"}, 4},
		{fmt.Errorf("resolve: %w", &client.Error{Status: 404}), 4},
		{&client.Error{Status: 409, Code: "RELEASE_SEALED"}, 1},
		{errors.New(`unknown command "x" for "reliquary"`), 2},
	}
	for _, tc := range cases {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestParseRef(t *testing.T) {
	cases := []struct {
		in          string
		needVersion bool
		want        ref
		ok          bool
	}{
		{"hr@1.2.0", true, ref{"hr", "1.2.0"}, true},
		{"hr@^1", false, ref{"hr", "^1"}, true},
		{"hr", false, ref{"hr", ""}, true},
		{"hr", true, ref{}, false},
		{"hr@", true, ref{}, false},
		{"@1.0.0", true, ref{}, false},
		{"hr@>=1 <2", false, ref{"hr", ">=1 <2"}, true},
	}
	for _, tc := range cases {
		got, err := parseRef(tc.in, tc.needVersion)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseRef(%q) = %v, %v", tc.in, got, err)
		}
		if err != nil && exitCode(err) != 2 {
			t.Errorf("parseRef(%q) error is not a usage error", tc.in)
		}
	}
}
