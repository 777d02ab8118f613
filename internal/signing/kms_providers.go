//go:build !reliquary_nokms

package signing

// The sigstore KMS providers register themselves with kms.AddProvider when
// imported. Build with -tags reliquary_nokms to leave them (and their cloud
// SDKs) out of the binary; KMS URIs then fail with
// ErrKMSProviderNotBuilt.
import (
	_ "github.com/sigstore/sigstore/pkg/signature/kms/aws"        // awskms://
	_ "github.com/sigstore/sigstore/pkg/signature/kms/azure"      // azurekms://
	_ "github.com/sigstore/sigstore/pkg/signature/kms/gcp"        // gcpkms://
	_ "github.com/sigstore/sigstore/pkg/signature/kms/hashivault" // hashivault://
)
