package wire

// ReleaseSearch is the cross-product CMDB search of SearchReleases.
type ReleaseSearch struct {
	ChangeID, CIID, Label, State string
	Limit                        int
	Cursor                       string
	// SHA256 finds the releases containing an artifact with this digest.
	SHA256 string
}
