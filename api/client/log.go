package client

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"

	"github.com/reliquary/reliquary/api/wire"
)

// The signed log and release statements (DESIGN §12).

// ReleaseStatement returns the DSSE envelope of the release's latest
// statement (404 STATEMENT_NOT_FOUND: the release was never approved).
func (c *Client) ReleaseStatement(ctx context.Context, product, version string) ([]byte, error) {
	return c.getBytes(ctx, releasePath(product, version)+"/statement", "application/json", 1<<20)
}

// LogCheckpoint returns the log's latest signed checkpoint (a signed note).
func (c *Client) LogCheckpoint(ctx context.Context) ([]byte, error) {
	return c.getBytes(ctx, "/log/checkpoint", "text/plain", 16<<10)
}

// InclusionProof proves event seq is in the tree of size leaves.
func (c *Client) InclusionProof(ctx context.Context, seq, size uint64) ([][]byte, error) {
	return c.logProof(ctx, "/log/proof/inclusion", url.Values{"seq": {strconv.FormatUint(seq, 10)}, "size": {strconv.FormatUint(size, 10)}})
}

// ConsistencyProof proves the tree of from leaves is a prefix of the tree
// of to leaves.
func (c *Client) ConsistencyProof(ctx context.Context, from, to uint64) ([][]byte, error) {
	return c.logProof(ctx, "/log/proof/consistency", url.Values{"from": {strconv.FormatUint(from, 10)}, "to": {strconv.FormatUint(to, 10)}})
}

func (c *Client) logProof(ctx context.Context, path string, q url.Values) ([][]byte, error) {
	var out wire.Proof
	if err := c.getJSON(ctx, path, q, &out); err != nil {
		return nil, err
	}
	if len(out.Hashes) > 128 {
		return nil, fmt.Errorf("GET %s: a proof of %d hashes", path, len(out.Hashes))
	}
	hashes := make([][]byte, len(out.Hashes))
	for i, h := range out.Hashes {
		b, err := base64.StdEncoding.DecodeString(h)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("GET %s: hash %d is not base64 of 32 bytes", path, i)
		}
		hashes[i] = b
	}
	return hashes, nil
}
