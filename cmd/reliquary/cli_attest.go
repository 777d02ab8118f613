package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reliquary/reliquary/api/client"
)

func newAttestCmd(o *cliOpts) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "attest <product>@<version> <attestation-file>",
		Short: "Attach a signed in-toto attestation (evidence) to a release (publisher)",
		Long: `Attach a signed in-toto attestation to a release that is not yet released: SLSA
provenance, an SBOM (CycloneDX, SPDX), test results — any predicate type. The file is
what cosign attest-blob writes: the DSSE envelope (its output, or --output-signature),
or the Sigstore bundle of --bundle (with --new-bundle-format). The server verifies it
against the product's policy.attestation_keys and checks every subject is an artifact of
the release. Sending the same file again is harmless.`,
		Example: `  cosign attest-blob --key cosign.key --tlog-upload=false --type slsaprovenance1 \
      --predicate provenance.json --output-signature hr.intoto.json dist/hr.tar.gz
  reliquary attest hr@1.2.0 hr.intoto.json
  reliquary attest hr@1.2.0 sbom.sigstore.json -o json`,
		Args: args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			r, err := parseRef(a[0], true)
			if err != nil {
				return err
			}
			file, err := readAttestationFile(a[1])
			if err != nil {
				return err
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			att, created, err := c.AddAttestation(cmd.Context(), r.product, r.version, file)
			if err != nil {
				return err
			}
			if !created {
				o.info(cmd, "%s already had this attestation", r)
			}
			return o.emit(cmd, att, func(w io.Writer) { attestationTable(w, []client.Attestation{*att}) })
		},
	}
	return o.bind(cmd)
}

func readAttestationFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, client.MaxAttestationBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > client.MaxAttestationBytes {
		return nil, usageError{fmt.Errorf("%s is larger than %d bytes, the most the server takes", path, client.MaxAttestationBytes)}
	}
	return b, nil
}

// releaseEvidence fetches the release's attestations for show (none when
// the release has none, without a request).
func releaseEvidence(ctx context.Context, c *client.Client, r *client.Release) ([]client.Attestation, error) {
	if len(r.AttestationDigests) == 0 {
		return nil, nil
	}
	return c.Attestations(ctx, r.Product, r.Version)
}

func attestationTable(w io.Writer, atts []client.Attestation) {
	fmt.Fprintln(w, "PREDICATE TYPE\tSIGNER\tSUBJECTS\tDIGEST\tUPLOADED")
	for _, a := range atts {
		names := make([]string, 0, len(a.Subjects))
		for _, s := range a.Subjects {
			names = append(names, dash(s.Name))
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s at %s\n", a.PredicateType, a.Signer, strings.Join(names, ","), a.Digest, a.UploadedBy, shortTime(a.UploadedAt))
	}
}

// readAttestationKeys reads PEM public key files for policy set
// --attestation-key.
func readAttestationKeys(paths []string) ([]string, error) {
	keys := []string{}
	for _, p := range paths {
		if p == "" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		keys = append(keys, string(b))
	}
	return keys, nil
}

// policyEvidenceTable adds the evidence settings to the policy table.
func policyEvidenceTable(w io.Writer, p *client.Policy) {
	fmt.Fprintf(w, "Attestation keys:\t%d\n", len(p.AttestationKeys))
	fmt.Fprintf(w, "Required attestations:\t%s\n", dash(strings.Join(p.RequiredAttestations, ", ")))
}
