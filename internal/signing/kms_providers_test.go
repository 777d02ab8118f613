//go:build !reliquary_nokms

package signing

import (
	// The providers, as the binary imports them (cmd/reliquary/kms_providers.go).
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/sigstore/sigstore/pkg/signature/kms/aws"
	_ "github.com/sigstore/sigstore/pkg/signature/kms/azure"
	_ "github.com/sigstore/sigstore/pkg/signature/kms/gcp"
	_ "github.com/sigstore/sigstore/pkg/signature/kms/hashivault"
)

func TestKMSProvidersCompiledIn(t *testing.T) {
	want := []string{"awskms://", "azurekms://", "gcpkms://", "hashivault://"}
	if got := KMSSchemes(); !slices.Equal(got, want) {
		t.Errorf("KMSSchemes() = %v, want %v", got, want)
	}
}

func TestLoadHashiVaultUnreachable(t *testing.T) {
	t.Setenv("VAULT_ADDR", "http://127.0.0.1:1") // nothing listens on port 1
	t.Setenv("VAULT_TOKEN", "not-a-token")
	t.Setenv("VAULT_MAX_RETRIES", "0")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, err := Load(ctx, quietConfig("hashivault://reliquary", "", nil))
	if !errors.Is(err, ErrKMS) {
		t.Fatalf("err = %v, want ErrKMS", err)
	}
	for _, want := range []string{"HashiCorp Vault", "hashivault://reliquary"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %q, want it to mention %q", err, want)
		}
	}
	t.Logf("failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
}

func TestLoadHashiVaultMisconfigured(t *testing.T) {
	tests := []struct {
		name, addr, ref, wantMsg string
	}{
		{name: "bad reference", addr: "http://127.0.0.1:1", ref: "hashivault://a/b/c", wantMsg: "hashivault://<key>"},
		{name: "no VAULT_ADDR", addr: "", ref: "hashivault://reliquary", wantMsg: "VAULT_ADDR"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("VAULT_ADDR", tc.addr)
			t.Setenv("VAULT_TOKEN", "not-a-token")
			_, err := Load(context.Background(), quietConfig(tc.ref, "", nil))
			if !errors.Is(err, ErrKMS) {
				t.Fatalf("err = %v, want ErrKMS", err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("err = %q, want it to mention %q", err, tc.wantMsg)
			}
		})
	}
}
