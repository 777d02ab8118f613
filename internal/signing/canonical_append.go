package signing

import "bytes"

// AppendCanonicalString writes s as a canonical JSON string (see
// Canonical): for building canonical documents field by field without a
// marshal and re-parse.
func AppendCanonicalString(buf *bytes.Buffer, s string) { writeCanonicalString(buf, s) }
