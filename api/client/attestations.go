package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/reliquary/reliquary/api/wire"
)

// MaxAttestationBytes is the largest attestation file the server takes.
const MaxAttestationBytes = 16 << 20

func attestationsPath(product, version string) string {
	return releasePath(product, version) + "/attestations"
}

// AddAttestation uploads an attestation file (a DSSE envelope or a
// Sigstore bundle as cosign attest-blob writes it). created is false when
// the release already had this very file. The upload is retried: the same
// bytes again are answered 200.
func (c *Client) AddAttestation(ctx context.Context, product, version string, file []byte) (a *Attestation, created bool, err error) {
	r := &request{method: http.MethodPost, path: attestationsPath(product, version), retryable: true,
		header: http.Header{"Content-Type": {"application/octet-stream"}},
		body:   func() (io.Reader, int64, error) { return bytes.NewReader(file), int64(len(file)), nil }}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	var out Attestation
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, false, fmt.Errorf("POST %s: decode answer: %w", r.path, err)
	}
	return &out, resp.StatusCode == http.StatusCreated, nil
}

// Attestations lists a release's attestations.
func (c *Client) Attestations(ctx context.Context, product, version string) ([]Attestation, error) {
	var out wire.AttestationList
	err := c.getJSON(ctx, attestationsPath(product, version), nil, &out)
	return out.Attestations, err
}

// AttestationFile downloads an attestation file byte for byte.
func (c *Client) AttestationFile(ctx context.Context, product, version, digest string) ([]byte, error) {
	return c.getBytes(ctx, attestationsPath(product, version)+"/"+seg(digest), "application/json, application/octet-stream", MaxAttestationBytes)
}
