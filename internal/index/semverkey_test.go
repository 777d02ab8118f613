package index

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
	"pgregory.net/rapid"

	"github.com/reliquary/reliquary/internal/library"
)

func genVersion() *rapid.Generator[*semver.Version] {
	ident := rapid.OneOf(
		rapid.Map(rapid.IntRange(0, 30), func(n int) string { return fmt.Sprint(n) }),
		rapid.StringMatching(`[a-z][a-z0-9-]{0,4}`),
		rapid.SampledFrom([]string{"alpha", "beta", "rc", "0a", "-", "x-1"}),
	)
	return rapid.Custom(func(t *rapid.T) *semver.Version {
		s := fmt.Sprintf("%d.%d.%d", rapid.IntRange(0, 3).Draw(t, "major"), rapid.IntRange(0, 3).Draw(t, "minor"), rapid.IntRange(0, 3).Draw(t, "patch"))
		if ids := rapid.SliceOfN(ident, 0, 3).Draw(t, "pre"); len(ids) > 0 {
			s += "-" + ids[0]
			for _, id := range ids[1:] {
				s += "." + id
			}
		}
		return semver.MustParse(s)
	})
}

// Byte order of keys is SemVer precedence, and keys decode to their version.
func TestVersionKeyOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b := genVersion().Draw(t, "a"), genVersion().Draw(t, "b")
		ka, kb := VersionKey(a), VersionKey(b)
		if got, want := bytes.Compare(ka, kb), a.Compare(b); got != want {
			t.Fatalf("%s vs %s: key order %d, semver order %d", a, b, got, want)
		}
		for _, c := range []struct {
			v *semver.Version
			k []byte
		}{{a, ka}, {b, kb}} {
			s, err := DecodeVersionKey(c.k)
			if err != nil || s != c.v.String() {
				t.Fatalf("decode(%s) = %q, %v", c.v, s, err)
			}
		}
	})
}

func TestVersionKeyExamples(t *testing.T) {
	// SemVer 2.0 §11's own example, in order.
	order := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0-0", "2.0.0", "10.0.0"}
	for i := 1; i < len(order); i++ {
		a, b := VersionKey(semver.MustParse(order[i-1])), VersionKey(semver.MustParse(order[i]))
		if bytes.Compare(a, b) >= 0 {
			t.Errorf("key(%s) >= key(%s)", order[i-1], order[i])
		}
	}
}

func FuzzVersionKey(f *testing.F) {
	for _, s := range []string{"1.0.0", "1.0.0-alpha.1", "0.0.0-0", "18446744073709551615.1.1", "1.2.3-x.7.z.92"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := library.ParseVersion(s)
		if err != nil {
			return
		}
		k, err := versionKeyOf(s)
		if err != nil {
			t.Fatalf("valid version %q has no key: %v", s, err)
		}
		back, err := DecodeVersionKey(k)
		if err != nil || back != v.String() {
			t.Fatalf("round trip %q -> %q, %v", s, back, err)
		}
		if _, err := DecodeVersionKey(k[:len(k)-1]); err == nil && len(k) > 25 {
			t.Fatalf("truncated key of %q decoded", s)
		}
	})
}

func BenchmarkVersionKey(b *testing.B) {
	v := semver.MustParse("12.34.56-rc.7.build")
	b.ReportAllocs()
	for b.Loop() {
		_ = VersionKey(v)
	}
}

// fill writes n releases of one product straight into the index.
func fill(tb testing.TB, n int) *Index {
	tb.Helper()
	ix, err := Open(filepath.Join(tb.TempDir(), "index.db"), Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ix.Close() })
	now := time.Now()
	const batch = 5000
	for start := 0; start < n; start += batch {
		err := ix.Update(func(tx library.WriteTx) error {
			if start == 0 {
				if err := tx.PutProduct(&library.Product{Name: "big", Policy: library.DefaultPolicy()}); err != nil {
					return err
				}
			}
			for i := start; i < min(n, start+batch); i++ {
				v := fmt.Sprintf("%d.%d.%d", i/1000, i/10%100, i%10)
				if err := tx.PutRelease(&library.Release{Product: "big", Version: v, State: library.StateDraft, CreatedAt: now}); err != nil {
					return err
				}
			}
			_, err := tx.Record(library.Event{Time: now, Actor: "test", Type: "test.fill", Subject: "big"})
			return err
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return ix
}

func TestNewestFirstListing(t *testing.T) {
	ix := fill(t, 3000)
	var got []*library.Release
	scanned := 0
	err := ix.View(func(tx library.ReadTx) error {
		var err error
		got, err = tx.Releases("big", library.ReleaseQuery{Limit: 50, Scanned: &scanned})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 50 || got[0].Version != "2.99.9" || scanned != 50 {
		t.Fatalf("newest 50: %d releases, first %s, scanned %d", len(got), got[0].Version, scanned)
	}
	for i := 1; i < len(got); i++ {
		if semver.MustParse(got[i-1].Version).Compare(semver.MustParse(got[i].Version)) <= 0 {
			t.Fatalf("not newest first: %s before %s", got[i-1].Version, got[i].Version)
		}
	}
	// The cursor resumes below the last version of the page.
	err = ix.View(func(tx library.ReadTx) error {
		next, err := tx.Releases("big", library.ReleaseQuery{Limit: 1, Before: got[49].Version})
		if err == nil && (len(next) != 1 || semver.MustParse(next[0].Version).Compare(semver.MustParse(got[49].Version)) >= 0) {
			t.Errorf("page after %s starts at %v", got[49].Version, next)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkNewest50Of100k lists the newest 50 of 100,000 releases.
func BenchmarkNewest50Of100k(b *testing.B) {
	ix := fill(b, 100_000)
	b.ReportAllocs()
	for b.Loop() {
		err := ix.View(func(tx library.ReadTx) error {
			list, err := tx.Releases("big", library.ReleaseQuery{Limit: 50})
			if err == nil && len(list) != 50 {
				b.Fatalf("%d releases", len(list))
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
