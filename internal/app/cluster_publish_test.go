package app_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestClusterConcurrentPublish: six clients publish (create, 1 KiB
// upload, seal) through one node at once, on MinIO and on fs: every
// request succeeds (group commits, never a spurious conflict or a 500),
// and the journal verifies and matches a node caught up from the bucket.
func TestClusterConcurrentPublish(t *testing.T) {
	for _, mk := range []func(testing.TB) storeFactory{s3Cluster, fsCluster} {
		newStore := mk(t)
		n := startNode(t, newStore(t), "", true)
		if code, _, _ := n.do("POST", "/api/v1/products", `{"name":"small"}`); code != 201 {
			t.Fatal(code)
		}
		var wg sync.WaitGroup
		for c := range 6 {
			wg.Go(func() {
				for i := range 25 {
					v := fmt.Sprintf("1.%d.%d", c, i)
					if code, body, _ := n.do("POST", "/api/v1/products/small/releases", `{"version":"`+v+`"}`); code != 201 {
						t.Errorf("create %s: %d %s", v, code, body)
						return
					}
					if code, body, _ := n.do("PUT", "/api/v1/products/small/releases/"+v+"/artifacts/a.bin", strings.Repeat("x", 1024), "Content-Type", "application/octet-stream"); code != 201 {
						t.Errorf("upload %s: %d %s", v, code, body)
						return
					}
					if code, body, _ := n.do("POST", "/api/v1/products/small/releases/"+v+"/seal", ""); code != 200 {
						t.Errorf("seal %s: %d %s", v, code, body)
						return
					}
				}
			})
		}
		wg.Wait()
		other := startNode(t, newStore(t), n.dir, false)
		sameChain(t, n, other)
	}
}
