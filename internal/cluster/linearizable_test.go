package cluster_test

import (
	"fmt"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/reliquary/reliquary/internal/journal"
)

// regInput is a register operation: a write of value, or a read.
type regInput struct {
	key   int
	write bool
	value int64
}

// registerModel is a set of independent registers (one per product), each
// starting at initialValue: a write sets it, a read returns it.
var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[int][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(regInput).key
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(byKey))
		for _, ops := range byKey {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return initialValue },
	Step: func(state, input, output any) (bool, any) {
		in := input.(regInput)
		if in.write {
			return true, in.value
		}
		return output.(int64) == state.(int64), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(regInput)
		if in.write {
			return fmt.Sprintf("reg-%d := %d", in.key, in.value)
		}
		return fmt.Sprintf("reg-%d -> %v", in.key, output)
	},
}

// operations turns the clients' records into porcupine's history, with
// porcupine's rules for what a client could not observe: a write whose
// outcome is unknown (a 5xx, a lost connection) may take effect at any
// time after its call, so it returns at +infinity; a definitely failed
// write had no effect and is left out; a read that got no value says
// nothing and is left out.
func operations(records []record) []porcupine.Operation {
	var ops []porcupine.Operation
	for _, r := range records {
		switch {
		case r.kind == kindWrite && r.out == outOK:
			ops = append(ops, porcupine.Operation{ClientId: r.client, Input: regInput{key: r.key, write: true, value: r.value},
				Call: r.call, Return: r.ret, Output: int64(0)})
		case r.kind == kindWrite && r.out == outUnknown:
			ops = append(ops, porcupine.Operation{ClientId: r.client, Input: regInput{key: r.key, write: true, value: r.value},
				Call: r.call, Return: math.MaxInt64, Output: int64(0)})
		case r.kind == kindRead && r.out == outOK:
			ops = append(ops, porcupine.Operation{ClientId: r.client, Input: regInput{key: r.key},
				Call: r.call, Return: r.ret, Output: r.value})
		}
	}
	return ops
}

// checkLinearizable runs porcupine and fails the test unless the history
// is linearizable; it also checks that porcupine rejects two doctored
// copies of the same history (a read of a value nobody wrote, and a stale
// read of an overwritten value after everything else), so a pass is not
// vacuous.
func checkLinearizable(t *testing.T, records []record) (porcupine.CheckResult, time.Duration) {
	t.Helper()
	ops := operations(records)
	start := time.Now()
	res := porcupine.CheckOperationsTimeout(registerModel, ops, 2*time.Minute)
	took := time.Since(start)
	if res != porcupine.Ok {
		t.Errorf("porcupine: the register history (%d operations) is %s", len(ops), res)
	}

	// The doctored copies are made of a prefix of the history that ends at
	// a quiescent point (nothing in flight): proving a history illegal
	// means searching all its linearizations, which on thousands of
	// concurrent operations outlasts any timeout. A quiescent prefix of a
	// linearizable history is linearizable on its own, so a verdict of
	// Illegal on a doctored copy is the doctoring's.
	// One register's operations: they overlap less than all of them.
	var prefix []porcupine.Operation
	key, ok := 0, false
	for k := range registers {
		var sub []porcupine.Operation
		for _, op := range ops {
			if op.Input.(regInput).key == k {
				sub = append(sub, op)
			}
		}
		if prefix, ok = quiescentPrefix(sub, 30); ok {
			key = k
			break
		}
	}
	if !ok {
		t.Errorf("no register has a quiescent prefix of 30+ operations: the doctored-history checks cannot run")
		return res, took
	}
	if r := porcupine.CheckOperationsTimeout(registerModel, prefix, time.Minute); r != porcupine.Ok {
		t.Errorf("porcupine says %s for a quiescent prefix (%d operations) of a history it found %s", r, len(prefix), res)
	}
	var end int64
	for _, op := range prefix {
		end = max(end, op.Return)
	}
	bogus := append(append([]porcupine.Operation(nil), prefix...), porcupine.Operation{ClientId: 99,
		Input: regInput{key: key}, Call: end + 1, Return: end + 2, Output: int64(-1)})
	rBogus := porcupine.CheckOperationsTimeout(registerModel, bogus, time.Minute)
	if rBogus != porcupine.Illegal {
		t.Errorf("porcupine says %s for a history with a read of a value never written: the check proves nothing", rBogus)
	}
	if stale, ok := staleRead(prefix, end); ok {
		rStale := porcupine.CheckOperationsTimeout(registerModel, stale, time.Minute)
		if rStale != porcupine.Illegal {
			t.Errorf("porcupine says %s for a history with a stale read: the check proves nothing", rStale)
		}
		t.Logf("doctored copies of a quiescent prefix (%d operations of %s): never-written read %s, stale read %s",
			len(prefix), registerProduct(key), rBogus, rStale)
	} else {
		t.Errorf("no register was written twice in sequence by acknowledged writes: the workload is too small to check")
	}
	return res, took
}

// quiescentPrefix is the operations called before the first point in
// time, after at least min operations, at which every operation called so
// far has returned (an unknown write never does) and none is in flight.
func quiescentPrefix(ops []porcupine.Operation, min int) ([]porcupine.Operation, bool) {
	sorted := append([]porcupine.Operation(nil), ops...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Call < sorted[j].Call })
	var reach int64
	for i, op := range sorted {
		reach = max(reach, op.Return)
		if reach == math.MaxInt64 {
			return nil, false
		}
		if i+1 >= min && (i+1 == len(sorted) || sorted[i+1].Call > reach) {
			return sorted[:i+1], true
		}
	}
	return nil, false
}

// staleRead is ops plus a read, after every operation, of the first
// acknowledged value of a register that a later acknowledged write (called
// after the first returned) overwrote: illegal in any linearization, since
// every value is written once.
func staleRead(ops []porcupine.Operation, end int64) ([]porcupine.Operation, bool) {
	for i, a := range ops {
		ia := a.Input.(regInput)
		if !ia.write || a.Return == math.MaxInt64 {
			continue
		}
		for _, b := range ops[i+1:] {
			ib := b.Input.(regInput)
			if ib.write && ib.key == ia.key && b.Return != math.MaxInt64 && b.Call > a.Return {
				return append(append([]porcupine.Operation(nil), ops...), porcupine.Operation{ClientId: 98,
					Input: regInput{key: ia.key}, Call: end + 1, Return: end + 2, Output: ia.value}), true
			}
		}
	}
	return nil, false
}

// TestRegisterModel checks the model on hand-written histories: the
// linearizable ones pass, the others do not, and an unknown write may take
// effect late or never.
func TestRegisterModel(t *testing.T) {
	w := func(c, k int, v, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: regInput{key: k, write: true, value: v}, Call: call, Return: ret, Output: int64(0)}
	}
	rd := func(c, k int, v, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: regInput{key: k}, Call: call, Return: ret, Output: v}
	}
	for _, tc := range []struct {
		name string
		ops  []porcupine.Operation
		want porcupine.CheckResult
	}{
		{"initial value", []porcupine.Operation{rd(0, 0, initialValue, 0, 1)}, porcupine.Ok},
		{"read after write", []porcupine.Operation{w(0, 0, 5, 0, 1), rd(1, 0, 5, 2, 3)}, porcupine.Ok},
		{"stale read after write", []porcupine.Operation{w(0, 0, 5, 0, 1), rd(1, 0, initialValue, 2, 3)}, porcupine.Illegal},
		{"concurrent read sees either", []porcupine.Operation{w(0, 0, 5, 0, 10), rd(1, 0, initialValue, 1, 2), rd(2, 0, 5, 3, 4)}, porcupine.Ok},
		{"no going back", []porcupine.Operation{w(0, 0, 5, 0, 10), rd(1, 0, 5, 1, 2), rd(2, 0, initialValue, 3, 4)}, porcupine.Illegal},
		{"registers are independent", []porcupine.Operation{w(0, 0, 5, 0, 1), rd(1, 1, initialValue, 2, 3)}, porcupine.Ok},
		{"unknown write applied late", []porcupine.Operation{w(0, 0, 5, 0, math.MaxInt64), rd(1, 0, initialValue, 2, 3), rd(1, 0, 5, 4, 5)}, porcupine.Ok},
		{"unknown write never applied", []porcupine.Operation{w(0, 0, 5, 0, math.MaxInt64), rd(1, 0, initialValue, 2, 3)}, porcupine.Ok},
		{"unknown write undone", []porcupine.Operation{w(0, 0, 5, 0, math.MaxInt64), rd(1, 0, 5, 2, 3), rd(1, 0, initialValue, 4, 5)}, porcupine.Illegal},
	} {
		if got := porcupine.CheckOperationsTimeout(registerModel, tc.ops, 10*time.Second); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	// The records a client keeps map onto those operations.
	ops := operations([]record{
		{kind: kindWrite, key: 1, value: 7, out: outOK, call: 1, ret: 2},
		{kind: kindWrite, key: 1, value: 8, out: outUnknown, call: 3, ret: 4},
		{kind: kindWrite, key: 1, value: 9, out: outFailed, call: 5, ret: 6},
		{kind: kindRead, key: 1, value: 7, out: outOK, call: 7, ret: 8},
		{kind: kindRead, key: 1, out: outUnknown, call: 9, ret: 10},
		{kind: kindRelease, out: outOK},
	})
	if len(ops) != 3 || ops[1].Return != math.MaxInt64 || ops[2].Output != int64(7) {
		t.Fatalf("operations: %+v", ops)
	}
}

// TestPolicyValues: the values an event's data sets are found at any depth
// and inside JSON carried as a string, and only for policy updates.
func TestPolicyValues(t *testing.T) {
	chain := []*journal.Event{
		{Type: "product.policy_updated", Subject: "reg-0", Data: []byte(`{"policy":{"max_artifact_bytes":1000001}}`)},
		{Type: "product.policy_updated", Subject: "reg-1", Data: []byte(`{"changes":[{"value":"{\"policy\":{\"max_artifact_bytes\":1000002}}"}]}`)},
		{Type: "release.created", Subject: "reg-0@1.0.0", Data: []byte(`{"max_artifact_bytes":1000003}`)},
	}
	got := policyValues(chain)
	if !got["reg-0"][1000001] || !got["reg-1"][1000002] || got["reg-0"][1000003] || got["reg-1"][1000001] {
		t.Fatalf("policyValues: %v", got)
	}
}

// TestQuiescentPrefix: the prefix ends where nothing is in flight, and an
// unknown write before any such point leaves none.
func TestQuiescentPrefix(t *testing.T) {
	op := func(call, ret int64) porcupine.Operation {
		return porcupine.Operation{Input: regInput{}, Call: call, Return: ret, Output: initialValue}
	}
	p, ok := quiescentPrefix([]porcupine.Operation{op(5, 9), op(0, 3), op(2, 6), op(10, 11), op(10, 12)}, 2)
	if !ok || len(p) != 3 || p[2].Call != 5 {
		t.Fatalf("prefix %v %v: want the 3 operations before 10", p, ok)
	}
	if _, ok := quiescentPrefix([]porcupine.Operation{op(0, math.MaxInt64), op(1, 2), op(3, 4)}, 2); ok {
		t.Fatal("a prefix past an unknown write")
	}
}
