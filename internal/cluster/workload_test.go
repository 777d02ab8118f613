package cluster_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// registers is the number of products whose policy field
// max_artifact_bytes is a register: written with PUT .../policy, read with
// GET /products/{p} and X-Reliquary-Min-Seq: latest.
const registers = 3

// initialValue is a register's value before the first write: the default
// policy's max_artifact_bytes (10 GiB).
const initialValue = int64(10 << 30)

func registerProduct(k int) string { return fmt.Sprintf("reg-%d", k) }

// ackProduct holds the releases the clients create (each acknowledged one
// must be on every node afterwards).
const ackProduct = "acks"

// outcome of one client request.
type outcome int

const (
	outOK      outcome = iota // 2xx: acknowledged
	outFailed                 // a definite failure: a 4xx, or the request was never sent
	outUnknown                // a 5xx or a lost connection: it may or may not have taken effect
)

func (o outcome) String() string { return [...]string{"ok", "failed", "unknown"}[o] }

// op kinds.
const (
	kindWrite   = "write"   // register write
	kindRead    = "read"    // register read
	kindRelease = "release" // create a release
)

// record is one request a client made, as it saw it.
type record struct {
	client, node int
	kind         string
	key          int    // register
	value        int64  // written or read value
	version      string // release
	call, ret    int64  // ns since the start of the run
	status       int
	code         string // error code of a non-2xx answer
	out          outcome
	seq          uint64 // X-Reliquary-Seq of an acknowledged write (0: none)
	err          string
}

// history is every record of every client, appended under a lock.
type history struct {
	mu      sync.Mutex
	records []record
	t0      time.Time
}

func (h *history) now() int64 { return time.Since(h.t0).Nanoseconds() }

func (h *history) add(r record) {
	h.mu.Lock()
	h.records = append(h.records, r)
	h.mu.Unlock()
}

func (h *history) all() []record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]record(nil), h.records...)
}

// hc gives a node 30 s to answer: a node cut off from the bucket answers
// its queued writes one storage timeout (3 s) after another.
var hc = &http.Client{Timeout: 30 * time.Second}

// call sends one request with the admin token and classifies the answer.
func call(method, url string, body any, hdr map[string]string) (status int, resp []byte, h http.Header, out outcome, err error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return 0, nil, nil, outFailed, err
	}
	req.Header.Set("Authorization", "Bearer "+adminSecret)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := hc.Do(req)
	if err != nil {
		// A refused connection never carried the request: a definite
		// failure. Anything else (reset, timeout) may have.
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" || errors.Is(err, syscall.ECONNREFUSED) {
			return 0, nil, nil, outFailed, err
		}
		return 0, nil, nil, outUnknown, err
	}
	defer res.Body.Close()
	resp, err = io.ReadAll(res.Body)
	switch {
	case res.StatusCode >= 500:
		out = outUnknown
	case err != nil && res.StatusCode < 300:
		out = outUnknown
	case res.StatusCode >= 400:
		out = outFailed
	default:
		out = outOK
	}
	return res.StatusCode, resp, res.Header, out, err
}

func errorCode(b []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
		Code string `json:"code"`
	}
	_ = json.Unmarshal(b, &e)
	if e.Error.Code != "" {
		return e.Error.Code
	}
	return e.Code
}

// workload runs clients until stop is closed: each sends its next request
// to the next node (all nodes take writes), a mix of register writes,
// linearizable register reads and release creations.
type workload struct {
	c       *cluster
	h       *history
	clients int
	nextVal atomic.Int64
	nextRel atomic.Int64
}

func (w *workload) run(stop <-chan struct{}) {
	var wg sync.WaitGroup
	for id := range w.clients {
		wg.Go(func() { w.client(id, stop) })
	}
	wg.Wait()
}

func (w *workload) client(id int, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(uint64(id), 16))
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		nd := w.c.nodes[(id+i)%len(w.c.nodes)]
		r := record{client: id, node: nd.id}
		switch p := rng.IntN(10); {
		case p < 4:
			r.kind, r.key = kindWrite, rng.IntN(registers)
			r.value = 1_000_000 + w.nextVal.Add(1)
			r.call = w.h.now()
			st, b, h, out, err := call(http.MethodPut, nd.url()+"/api/v1/products/"+registerProduct(r.key)+"/policy",
				map[string]any{"max_artifact_bytes": r.value}, nil)
			r.ret = w.h.now()
			r.fill(st, b, h, out, err)
		case p < 8:
			r.kind, r.key = kindRead, rng.IntN(registers)
			r.call = w.h.now()
			st, b, h, out, err := call(http.MethodGet, nd.url()+"/api/v1/products/"+registerProduct(r.key), nil,
				map[string]string{"X-Reliquary-Min-Seq": "latest"})
			r.ret = w.h.now()
			r.fill(st, b, h, out, err)
			if r.out == outOK {
				var prod struct {
					Policy struct {
						MaxArtifactBytes int64 `json:"max_artifact_bytes"`
					} `json:"policy"`
				}
				if err := json.Unmarshal(b, &prod); err != nil || prod.Policy.MaxArtifactBytes == 0 {
					r.out, r.err = outUnknown, fmt.Sprintf("unreadable product: %v %q", err, b)
				}
				r.value = prod.Policy.MaxArtifactBytes
			}
		default:
			r.kind = kindRelease
			r.version = "1.0." + strconv.FormatInt(w.nextRel.Add(1), 10)
			r.call = w.h.now()
			st, b, h, out, err := call(http.MethodPost, nd.url()+"/api/v1/products/"+ackProduct+"/releases",
				map[string]any{"version": r.version}, nil)
			r.ret = w.h.now()
			r.fill(st, b, h, out, err)
		}
		w.h.add(r)
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *record) fill(status int, body []byte, h http.Header, out outcome, err error) {
	r.status, r.out = status, out
	if err != nil {
		r.err = err.Error()
	}
	if status >= 300 {
		r.code = errorCode(body)
	}
	if h != nil {
		r.seq, _ = strconv.ParseUint(h.Get("X-Reliquary-Seq"), 10, 64)
	}
}
