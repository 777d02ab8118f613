package main

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/signing"
)

// TestCheckBindingAgreesWithResolve: the client's binding check accepts a
// signed manifest exactly when it is for the product asked for and the
// server's resolution rule (library.Eligible with the same constraint,
// "*" when none) would have picked its version; every refusal is a
// verification failure (exit 3).
func TestCheckBindingAgreesWithResolve(t *testing.T) {
	num := rapid.SampledFrom([]string{"0", "1", "2", "10"})
	pre := rapid.SampledFrom([]string{"", "", "-0", "-rc.1", "-alpha"})
	version := rapid.Custom(func(t *rapid.T) string {
		return num.Draw(t, "maj") + "." + num.Draw(t, "min") + "." + num.Draw(t, "pat") + pre.Draw(t, "pre")
	})
	op := rapid.SampledFrom([]string{"", "=", "^", "~", ">=", "<", ">", "<=", "!="})
	partial := rapid.Custom(func(t *rapid.T) string {
		s := num.Draw(t, "cmaj")
		for i := range rapid.IntRange(0, 2).Draw(t, "parts") {
			s += "." + rapid.SampledFrom([]string{"0", "1", "2", "x"}).Draw(t, fmt.Sprint("cp", i))
		}
		return s + pre.Draw(t, "cpre")
	})
	constraint := rapid.Custom(func(t *rapid.T) string {
		switch rapid.IntRange(0, 5).Draw(t, "shape") {
		case 0:
			return ""
		case 1:
			return version.Draw(t, "exact")
		case 2:
			return op.Draw(t, "op1") + partial.Draw(t, "a") + " " + op.Draw(t, "op2") + partial.Draw(t, "b")
		case 3:
			return op.Draw(t, "op1") + partial.Draw(t, "a") + " || " + op.Draw(t, "op2") + partial.Draw(t, "b")
		}
		return op.Draw(t, "op") + partial.Draw(t, "p")
	})
	product := rapid.SampledFrom([]string{"hr", "hr2", "evil"})
	rapid.Check(t, func(t *rapid.T) {
		asked, got := product.Draw(t, "asked"), product.Draw(t, "got")
		c, v := constraint.Draw(t, "constraint"), version.Draw(t, "version")
		cs := c
		if cs == "" {
			cs = "*"
		}
		parsed, err := library.ParseConstraint(cs)
		if err != nil {
			t.Skip("constraint the server refuses")
		}
		rel := &library.Release{Product: got, Version: v, State: library.StateApproved}
		want := asked == got && library.Eligible(rel, library.ResolveQuery{Constraint: parsed, MinState: library.StateApproved})
		m := signing.ReleaseManifest{SchemaVersion: 1, Product: got, Version: v, Type: "major", SealedAt: time.Unix(1, 0)}
		err = checkBinding(ref{product: asked, version: c}, m)
		if want != (err == nil) {
			t.Fatalf("checkBinding(%s@%q, manifest %s@%s) = %v, resolution would pick it: %v", asked, c, got, v, err, want)
		}
		var ve *verificationError
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("refusal is not a verification failure: %v", err)
		}
	})
}
