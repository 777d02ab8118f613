package index

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/Masterminds/semver/v3"
	"pgregory.net/rapid"

	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/signing"
	"github.com/reliquary/reliquary/storage/fs"
)

var (
	ci    = library.Principal{Name: "ci", Role: library.RolePublisher}
	alice = library.Principal{Name: "alice", Role: library.RoleReleaseManager}
)

// newLibrary is a real service on a bbolt file and a filesystem store.
func newLibrary(t testing.TB) (*library.Service, *Index) {
	dir := t.TempDir()
	ix, err := Open(filepath.Join(dir, "index.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	store, err := fs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := signing.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	return library.New(library.Config{Repo: ix, Store: store, Signer: signer}), ix
}

// ok unwraps a result; an error fails the test (a panic inside rapid is
// reported as a failing case, with its shrunk history).
func ok[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// ok3 is ok for (artifact, created, error).
func ok3[A, B any](a A, _ B, err error) A { return ok(a, err) }

// approved takes a version from nothing to approved.
func approved(t testing.TB, lib *library.Service, product, version, os string) {
	ctx := context.Background()
	ok(lib.CreateRelease(ctx, ci, product, library.ReleaseInput{Version: version}))
	body := []byte(version)
	ok3(lib.Upload(ctx, ci, library.UploadInput{Product: product, Version: version, Name: "pkg", OS: os, Size: int64(len(body)), Body: bytes.NewReader(body)}))
	ok(lib.Seal(ctx, ci, product, version, ""))
	ok(lib.Approve(ctx, alice, product, version, ""))
}

// checkInvariants compares what the index stores with the pure rules.
func checkInvariants(t interface {
	Fatalf(string, ...any)
}, lib *library.Service, product string, p library.Policy) []*library.Release {
	all, _, err := lib.Releases(context.Background(), product, library.ReleaseFilter{Limit: library.MaxPage})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var released []*semver.Version
	for _, r := range all {
		if r.State == library.StateReleased {
			released = append(released, semver.MustParse(r.Version))
		}
	}
	want := library.Supersession(released, p)
	current := 0
	for _, r := range all {
		if r.State != library.StateReleased {
			if r.SupersededBy != "" {
				t.Fatalf("%s is %s but superseded_by %q", r.Version, r.State, r.SupersededBy)
			}
			continue
		}
		if r.SupersededBy != want[r.Version] {
			t.Fatalf("%s superseded_by %q, rules say %q", r.Version, r.SupersededBy, want[r.Version])
		}
		if r.SupersededBy == "" && !r.Prerelease {
			current++
		}
	}
	if current > p.SupportedMajors*p.SupportedMinors {
		t.Fatalf("%d current releases, policy allows %d", current, p.SupportedMajors*p.SupportedMinors)
	}
	if len(released) > 0 && p.SupportedMajors == 1 && p.SupportedMinors == 1 && current != 1 {
		t.Fatalf("default policy with %d released: %d current", len(released), current)
	}
	return all
}

// Random histories of releases, promotions and withdrawals under random
// policies: the stored supersession always equals the pure rules, resolve
// equals a brute-force search, and withdrawing the current release makes
// the previously current one current again.
func TestRandomHistories(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		lib, ix := newLibrary(t)
		defer ix.Close()
		ctx := context.Background()
		admin := library.Principal{Name: "admin", Role: library.RoleAdmin}
		majors, minors := rapid.IntRange(1, 2).Draw(rt, "majors"), rapid.IntRange(1, 2).Draw(rt, "minors")
		in := library.PolicyInput{SupportedMajors: &majors, SupportedMinors: &minors}
		policy := ok(in.Policy())
		ok(lib.CreateProduct(ctx, admin, library.ProductInput{Name: "app", Policy: &in}))
		seen := map[string]bool{}
		for step := range rapid.IntRange(1, 10).Draw(rt, "steps") {
			switch rapid.IntRange(0, 3).Draw(rt, fmt.Sprint("op", step)) {
			case 0, 1: // release a new version
				v := fmt.Sprintf("%d.%d.%d", rapid.IntRange(1, 3).Draw(rt, "maj"), rapid.IntRange(0, 2).Draw(rt, "min"), rapid.IntRange(0, 2).Draw(rt, "pat"))
				if rapid.IntRange(0, 5).Draw(rt, "pre") == 0 {
					v += "-rc.1"
				}
				if seen[v] {
					continue
				}
				seen[v] = true
				approved(t, lib, "app", v, rapid.SampledFrom([]string{"", "linux"}).Draw(rt, "os"))
				if semver.MustParse(v).Prerelease() == "" {
					ok(lib.Promote(ctx, alice, "app", v, library.PromoteInput{To: "released", ChangeID: "CHG"}))
				}
			case 2: // withdraw the current release of the newest line: rollback
				res, err := lib.Resolve(ctx, "app", library.ResolveRequest{Current: true})
				if err != nil {
					continue
				}
				before := checkInvariants(rt, lib, "app", policy)
				ok(lib.Withdraw(ctx, alice, "app", res.Release.Version, library.WithdrawInput{Reason: "bad", ChangeID: "CHG"}))
				// The highest remaining released version is current again.
				var rest []*semver.Version
				for _, r := range before {
					if r.State == library.StateReleased && r.Version != res.Release.Version && !r.Prerelease {
						rest = append(rest, semver.MustParse(r.Version))
					}
				}
				if len(rest) > 0 {
					slices.SortFunc(rest, func(a, b *semver.Version) int { return b.Compare(a) })
					got := ok(lib.Resolve(ctx, "app", library.ResolveRequest{Current: true}))
					if got.Release.Version != rest[0].String() {
						rt.Fatalf("after withdrawing %s, current is %s, want %s", res.Release.Version, got.Release.Version, rest[0])
					}
				}
			case 3: // withdraw something at random
				all := checkInvariants(rt, lib, "app", policy)
				if len(all) == 0 {
					continue
				}
				r := rapid.SampledFrom(all).Draw(rt, "victim")
				if r.State != library.StateWithdrawn {
					ok(lib.Withdraw(ctx, alice, "app", r.Version, library.WithdrawInput{Reason: "r", ChangeID: "CHG"}))
				}
			}
			all := checkInvariants(rt, lib, "app", policy)
			// Resolve equals a brute-force search over every release.
			for _, q := range []struct {
				c, minState, os string
				current         bool
			}{{"", "", "", false}, {"^1", "", "", false}, {"~2.1", "", "linux", false}, {">=1.0.0-0", "approved", "", false}, {"", "", "", true}, {"^3", "", "windows", true}} {
				rq := library.ResolveRequest{Constraint: q.c, MinState: q.minState, OS: q.os, Current: q.current}
				got, err := lib.Resolve(ctx, "app", rq)
				c := q.c
				if c == "" {
					c = "*"
				}
				ms := library.StateReleased
				if q.minState == "approved" {
					ms = library.StateApproved
				}
				withArts := make([]*library.Release, len(all))
				for i, r := range all {
					full := ok(lib.Release(ctx, "app", r.Version))
					withArts[i] = full
				}
				want := library.ResolveBrute(withArts, library.ResolveQuery{Constraint: ok(semver.NewConstraint(c)), OS: q.os, MinState: ms, Current: q.current})
				switch {
				case want == nil && err == nil:
					rt.Fatalf("resolve %+v = %s, brute force finds nothing", q, got.Release.Version)
				case want != nil && err != nil:
					rt.Fatalf("resolve %+v failed (%v), brute force finds %s", q, err, want.Version)
				case want != nil && got.Release.Version != want.Version:
					rt.Fatalf("resolve %+v = %s, brute force %s", q, got.Release.Version, want.Version)
				}
				if got != nil && (got.Release.State == library.StateWithdrawn || got.Release.State == library.StateDraft) {
					rt.Fatalf("resolve returned a %s release", got.Release.State)
				}
			}
		}
	})
}

// Conflicting transitions at once leave the index consistent with the rules.
func TestConcurrentTransitions(t *testing.T) {
	lib, ix := newLibrary(t)
	defer ix.Close()
	ctx := context.Background()
	ok(lib.CreateProduct(ctx, library.Principal{Name: "admin", Role: library.RoleAdmin}, library.ProductInput{Name: "app"}))
	versions := []string{"1.0.0", "1.1.0", "1.2.0", "2.0.0", "2.0.1", "2.1.0"}
	for _, v := range versions {
		approved(t, lib, "app", v, "")
	}
	var wg sync.WaitGroup
	for _, v := range versions {
		wg.Go(func() { _, _ = lib.Promote(ctx, alice, "app", v, library.PromoteInput{To: "released", ChangeID: "C"}) })
		wg.Go(func() {
			_, _ = lib.Withdraw(ctx, alice, "app", v, library.WithdrawInput{Reason: "race", ChangeID: "C"})
		})
	}
	wg.Wait()
	all := checkInvariants(t, lib, "app", library.DefaultPolicy())
	for _, r := range all {
		if r.State != library.StateReleased && r.State != library.StateWithdrawn {
			t.Errorf("%s ended %s", r.Version, r.State)
		}
	}
	rep := ok(ix.VerifyJournal())
	if !rep.OK {
		t.Errorf("journal after the race: %+v", rep)
	}
}
