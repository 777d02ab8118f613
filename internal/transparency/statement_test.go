package transparency

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/signing"
)

// oneEventLog is a log of one release.released event, its checkpoint and
// statement signed by s.
func oneEventLog(t testing.TB, s *signing.Signer, mutate func(*library.Release)) ([]byte, *journal.Event) {
	t.Helper()
	rel := library.Release{Product: "hr", Version: "1.2.0", State: library.StateReleased, ChangeID: "CHG-1",
		ManifestDigest: "sha256:" + string(bytes.Repeat([]byte("ab"), 32)), Approvals: []library.Approval{{By: "alice"}}}
	if mutate != nil {
		mutate(&rel)
	}
	relJSON, _ := json.Marshal(rel)
	data, _ := json.Marshal(map[string]any{"product": "hr", "version": "1.2.0", "change_id": "CHG-2",
		"changes": []map[string]any{{"bucket": "releases", "key": "aHI=", "value": json.RawMessage(relJSON)}}})
	e := &journal.Event{Time: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), Actor: "bob", Type: library.EvReleaseReleased,
		Subject: "hr@1.2.0", Data: data}
	if err := e.Seal(0, journal.ZeroHash); err != nil {
		t.Fatal(err)
	}
	lh, err := e.LeafHash()
	if err != nil {
		t.Fatal(err)
	}
	cp, err := SignCheckpoint(context.Background(), s, DefaultOrigin, 1, lh)
	if err != nil {
		t.Fatal(err)
	}
	st, err := StatementFor(e, cp, nil)
	if err != nil {
		t.Fatal(err)
	}
	env, err := s.SignDSSE(context.Background(), signing.InTotoPayloadType, st)
	if err != nil {
		t.Fatal(err)
	}
	return env, e
}

func TestStatementVerifiesAcrossKeyRotation(t *testing.T) {
	ctx := context.Background()
	old, cur := newSigner(t), newSigner(t)
	env, _ := oneEventLog(t, old, func(r *library.Release) {
		r.Approvals = append(r.Approvals, library.Approval{By: "carol"})
	})
	kr := keyring(t, cur, old)
	v, err := VerifyStatement(ctx, env, kr, NewVerifier(kr, DefaultOrigin))
	if err != nil {
		t.Fatal(err)
	}
	p := v.Predicate
	if p.State != "released" || p.ChangeID != "CHG-2" || len(p.Approvers) != 2 || p.Seq != 1 || v.KeyID != old.KeyID() ||
		v.ManifestDigest != string(bytes.Repeat([]byte("ab"), 32)) {
		t.Fatalf("verified %+v key %s", p, v.KeyID)
	}
	var e struct {
		Signatures []struct{ KeyID string } `json:"signatures"`
	}
	_ = json.Unmarshal(env, &e)
	if len(e.Signatures) != 1 || e.Signatures[0].KeyID != old.KeyID() {
		t.Fatalf("the envelope does not name its key: %s", env)
	}
	// Without the retired key it no longer verifies.
	only := keyring(t, cur)
	if _, err := VerifyStatement(ctx, env, only, NewVerifier(only, "")); !errors.Is(err, ErrStatement) {
		t.Fatalf("verified without its key: %v", err)
	}
}

// A statement whose predicate says something its logged event does not,
// even signed by the library's key, is refused: the leaf is the evidence.
func TestStatementMustMatchItsEvent(t *testing.T) {
	ctx := context.Background()
	s := newSigner(t)
	kr := keyring(t, s)
	env, e := oneEventLog(t, s, nil)
	var outer struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
	}
	_ = json.Unmarshal(env, &outer)
	payload, _ := base64.StdEncoding.DecodeString(outer.Payload)
	var st map[string]any
	if err := json.Unmarshal(payload, &st); err != nil {
		t.Fatal(err)
	}
	pred := st["predicate"].(map[string]any)
	pred["state"] = "approved"
	forged, _ := json.Marshal(st)
	resigned, err := s.SignDSSE(ctx, signing.InTotoPayloadType, forged)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyStatement(ctx, resigned, kr, NewVerifier(kr, "")); !errors.Is(err, ErrStatement) {
		t.Fatalf("a predicate that lies verified: %v", err)
	}
	// A leaf that is not in the checkpoint's tree.
	pred["state"] = "released"
	e.Actor = "mallory"
	leaf, _ := e.Leaf()
	pred["leaf"] = base64.StdEncoding.EncodeToString(leaf)
	forged, _ = json.Marshal(st)
	resigned, _ = s.SignDSSE(ctx, signing.InTotoPayloadType, forged)
	if _, err := VerifyStatement(ctx, resigned, kr, NewVerifier(kr, "")); !errors.Is(err, ErrStatement) {
		t.Fatalf("an edited leaf verified: %v", err)
	}
}

// FuzzVerifyStatement: an envelope from outside never panics the verifier.
func FuzzVerifyStatement(f *testing.F) {
	s := newSigner(f)
	env, _ := oneEventLog(f, s, nil)
	f.Add(env)
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"AA=="}]}`))
	kr := keyring(f, s)
	cps := NewVerifier(kr, "")
	f.Fuzz(func(t *testing.T, env []byte) {
		_, _ = VerifyStatement(context.Background(), env, kr, cps)
	})
}
