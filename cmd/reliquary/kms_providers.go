//go:build !reliquary_nokms

package main

// The sigstore KMS providers register themselves with kms.AddProvider when
// imported. They are imported here, by the binary, and not by
// internal/signing, so that no library package links the cloud SDKs. Build
// with -tags reliquary_nokms to leave them out of the binary too; KMS URIs
// then fail with signing.ErrKMSProviderNotBuilt.
import (
	_ "github.com/sigstore/sigstore/pkg/signature/kms/aws"        // awskms://
	_ "github.com/sigstore/sigstore/pkg/signature/kms/azure"      // azurekms://
	_ "github.com/sigstore/sigstore/pkg/signature/kms/gcp"        // gcpkms://
	_ "github.com/sigstore/sigstore/pkg/signature/kms/hashivault" // hashivault://
)
