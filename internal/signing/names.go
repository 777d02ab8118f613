package signing

import "regexp"

// artifactNameRe is the artifact-name rule of DESIGN §1: a plain file name,
// never "." or "..", never a path.
var artifactNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,254}$`)

// ValidArtifactName reports whether s obeys the artifact-name rule
// (^[A-Za-z0-9][A-Za-z0-9._+-]{0,254}$). A name that passes is a single
// path element that cannot climb out of a directory.
func ValidArtifactName(s string) bool { return artifactNameRe.MatchString(s) }
