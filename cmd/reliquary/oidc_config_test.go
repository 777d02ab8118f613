package main

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// TestOIDCFlags: --oidc-issuer is repeatable and https-only unless
// --oidc-allow-http-issuer, which accepts loopback issuers only.
func TestOIDCFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"--oidc-issuer", "https://token.actions.githubusercontent.com", "--oidc-issuer", "https://gitlab.example.com"}, ""},
		{[]string{"--oidc-issuer", "http://127.0.0.1:9000"}, "plain http"},
		{[]string{"--oidc-issuer", "http://127.0.0.1:9000", "--oidc-allow-http-issuer"}, ""},
		{[]string{"--oidc-issuer", "http://ci.example.com", "--oidc-allow-http-issuer"}, "loopback"},
		{[]string{"--oidc-issuer", "gitlab"}, "https URL"},
		{[]string{"--oidc-token-ttl", "10s"}, "--oidc-token-ttl"},
		{[]string{"--oidc-token-ttl", "48h"}, "--oidc-token-ttl"},
	} {
		var c serveConfig
		fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		c.bindFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		err := c.validate()
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%v: %v, want an error about %q", tc.args, err, tc.err)
		}
		if tc.err == "" && c.OIDCTokenTTL != 15*time.Minute {
			t.Errorf("%v: default --oidc-token-ttl %s", tc.args, c.OIDCTokenTTL)
		}
	}
}
