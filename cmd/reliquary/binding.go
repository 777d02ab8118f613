package main

import (
	"github.com/Masterminds/semver/v3"

	"github.com/reliquary/reliquary/internal/signing"
)

// The checks get and verify make before anything is written (DESIGN §12
// "Binding"). Each is a small function returning a verification failure
// (exit 3), so further checks (a release statement) can sit beside them.

// checkBinding checks that the signed manifest is for the product asked
// for and that its version satisfies the requested constraint (an empty
// constraint means any release version, as the server reads it: "*").
func checkBinding(req ref, m signing.ReleaseManifest) error {
	const what = "manifest binding"
	if m.Product != req.product {
		return verifyFailed(what, "the signed manifest is for product %q, %q was asked for", m.Product, req.product)
	}
	v, err := semver.StrictNewVersion(m.Version)
	if err != nil {
		return verifyFailed(what, "the signed manifest's version %q is not strict SemVer", m.Version)
	}
	constraint := req.version
	if constraint == "" {
		constraint = "*"
	}
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return usageError{err}
	}
	if !c.Check(v) {
		return verifyFailed(what, "the signed manifest is for %s@%s, which does not satisfy %q", m.Product, m.Version, constraint)
	}
	return nil
}

// checkArtifactNames checks every artifact name the server lists against
// the artifact-name rule: a name is one plain path element, so a file named
// after it stays inside the target directory.
func checkArtifactNames(names []string) error {
	for _, name := range names {
		if !signing.ValidArtifactName(name) {
			n := name
			if len(n) > 80 {
				n = n[:80] + "..."
			}
			return verifyFailed("artifact name", "the server lists %q, which breaks the artifact-name rule", n)
		}
	}
	return nil
}
