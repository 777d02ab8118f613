package library

import (
	"fmt"
	"regexp"

	"github.com/Masterminds/semver/v3"
)

// ParseVersion accepts strict SemVer 2.0 X.Y.Z[-prerelease]: no "v"
// prefix, no leading zeros, no build metadata.
func ParseVersion(s string) (*semver.Version, error) {
	if len(s) > 128 {
		return nil, withDetails(ErrInvalidVersion, "version is longer than 128 characters", map[string]any{"version": s[:32] + "…"})
	}
	v, err := semver.StrictNewVersion(s)
	if err != nil {
		return nil, withDetails(ErrInvalidVersion,
			fmt.Sprintf("version %q is not strict SemVer X.Y.Z[-prerelease]: %v", s, err), map[string]any{"version": s})
	}
	if v.Metadata() != "" {
		return nil, withDetails(ErrInvalidVersion,
			fmt.Sprintf("version %q carries build metadata, which is not allowed", s), map[string]any{"version": s})
	}
	if v.String() != s {
		return nil, withDetails(ErrInvalidVersion, fmt.Sprintf("version %q is not canonical", s), map[string]any{"version": s})
	}
	return v, nil
}

// TypeOf derives the ITIL release type from a version: X.0.0 major, X.Y.0
// minor, X.Y.Z emergency fix.
func TypeOf(v *semver.Version) ReleaseType {
	switch {
	case v.Patch() > 0:
		return TypeEmergency
	case v.Minor() > 0:
		return TypeMinor
	default:
		return TypeMajor
	}
}

// ParseConstraint parses a Masterminds constraint (^1.2, ~7.3, >=1 <2, …).
func ParseConstraint(s string) (*semver.Constraints, error) {
	if len(s) > 256 {
		return nil, withDetails(ErrInvalidInput, "constraint is longer than 256 characters", nil)
	}
	c, err := semver.NewConstraint(s)
	if err != nil {
		return nil, withDetails(ErrInvalidInput, fmt.Sprintf("constraint %q: %v", s, err), map[string]any{"constraint": s})
	}
	return c, nil
}

var (
	productRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	artifactRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,254}$`)
	// Baseline names follow the product slug rule.
	baselineRe = productRe
	platformRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,31}$`)
)

// ValidateProductName checks a product slug.
func ValidateProductName(s string) error {
	if !productRe.MatchString(s) {
		return withDetails(ErrInvalidName, fmt.Sprintf("product name %q must match ^[a-z0-9][a-z0-9._-]{0,62}$", clip(s)), map[string]any{"name": clip(s)})
	}
	return nil
}

// ValidateArtifactName checks an artifact file name: never "." or "..", no
// slash, at most 255 characters.
func ValidateArtifactName(s string) error {
	if !artifactRe.MatchString(s) || s == "." || s == ".." {
		return withDetails(ErrInvalidName, fmt.Sprintf("artifact name %q must match ^[A-Za-z0-9][A-Za-z0-9._+-]{0,254}$", clip(s)), map[string]any{"name": clip(s)})
	}
	return nil
}

// ValidateBaselineName checks a baseline name (the product slug rule).
func ValidateBaselineName(s string) error {
	if !baselineRe.MatchString(s) {
		return withDetails(ErrInvalidName, fmt.Sprintf("baseline name %q must match ^[a-z0-9][a-z0-9._-]{0,62}$", clip(s)), map[string]any{"name": clip(s)})
	}
	return nil
}

// ValidatePlatform checks an os or arch value ("" means any platform).
func ValidatePlatform(kind, s string) error {
	if s != "" && !platformRe.MatchString(s) {
		return withDetails(ErrInvalidInput, fmt.Sprintf("%s %q must match ^[a-z0-9][a-z0-9_.-]{0,31}$", kind, clip(s)), map[string]any{kind: clip(s)})
	}
	return nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
