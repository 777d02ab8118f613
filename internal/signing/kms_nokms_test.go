//go:build reliquary_nokms

package signing

import (
	"context"
	"errors"
	"testing"
)

func TestNoKMSBuildRefusesKMSRefsClearly(t *testing.T) {
	if got := KMSSchemes(); len(got) != 0 {
		t.Errorf("KMSSchemes() = %v in a reliquary_nokms build", got)
	}
	for _, ref := range []string{"awskms:///alias/x", "gcpkms://projects/p", "azurekms://v.vault.azure.net/k", "hashivault://k"} {
		if _, err := Load(context.Background(), quietConfig(ref, "", nil)); !errors.Is(err, ErrKMSProviderNotBuilt) {
			t.Errorf("Load(%s): err = %v, want ErrKMSProviderNotBuilt", ref, err)
		}
	}
}
