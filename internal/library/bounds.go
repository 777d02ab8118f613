package library

import (
	"math"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// ConstraintBounds returns a range [lo, hi) that holds every version the
// constraint can match, so resolution seeks into the product's key range
// instead of walking it from the top. nil means unbounded on that side.
// The range is conservative: it may hold versions the constraint rejects
// (the caller still checks each one), never the reverse. Prereleases of lo
// are inside it.
func ConstraintBounds(s string) (lo, hi *semver.Version) {
	var los, his []*semver.Version
	for group := range strings.SplitSeq(s, "||") {
		glo, ghi, ok := groupBounds(group)
		if !ok {
			return nil, nil
		}
		los, his = append(los, glo), append(his, ghi)
	}
	lo, hi = los[0], his[0]
	for i := 1; i < len(los); i++ {
		if lo != nil && (los[i] == nil || los[i].LessThan(lo)) {
			lo = los[i]
		}
		if hi != nil && (his[i] == nil || his[i].GreaterThan(hi)) {
			hi = his[i]
		}
	}
	if lo != nil {
		l := semver.New(lo.Major(), lo.Minor(), lo.Patch(), "0", "")
		if lo.Prerelease() != "" && lo.LessThan(l) {
			l = lo
		}
		lo = l
	}
	return lo, hi
}

// groupBounds intersects the terms of one AND group.
func groupBounds(group string) (lo, hi *semver.Version, ok bool) {
	group = strings.TrimSpace(group)
	if group == "" {
		return nil, nil, false
	}
	// Hyphen ranges "A - B".
	if a, b, found := strings.Cut(group, " - "); found {
		la, _, ok1 := termBounds(strings.TrimSpace(a))
		_, hb, ok2 := termBounds(strings.TrimSpace(b))
		if !ok1 || !ok2 {
			return nil, nil, false
		}
		return la, hb, true
	}
	terms := strings.FieldsFunc(group, func(r rune) bool { return r == ',' || r == ' ' })
	// Rejoin an operator separated from its version by a space ("> 1.2").
	var joined []string
	for i := 0; i < len(terms); i++ {
		if strings.Trim(terms[i], "<>=!~^") == "" && i+1 < len(terms) {
			joined = append(joined, terms[i]+terms[i+1])
			i++
			continue
		}
		joined = append(joined, terms[i])
	}
	for _, t := range joined {
		tlo, thi, ok := termBounds(t)
		if !ok {
			return nil, nil, false
		}
		if tlo != nil && (lo == nil || tlo.GreaterThan(lo)) {
			lo = tlo
		}
		if thi != nil && (hi == nil || thi.LessThan(hi)) {
			hi = thi
		}
	}
	return lo, hi, true
}

// partial is a version with possibly missing or wildcard parts.
type partial struct {
	nums []uint64 // the numeric parts given, before any wildcard
	pre  string
}

func parsePartial(s string) (partial, bool) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "v"), "V")
	if i := strings.IndexByte(s, '+'); i >= 0 {
		s = s[:i]
	}
	var p partial
	main, pre, _ := strings.Cut(s, "-")
	p.pre = pre
	if main == "" {
		return p, false
	}
	for i, part := range strings.Split(main, ".") {
		if i > 2 {
			return p, false
		}
		if part == "x" || part == "X" || part == "*" {
			break
		}
		n, err := strconv.ParseUint(part, 10, 64)
		if err != nil {
			return p, false
		}
		p.nums = append(p.nums, n)
	}
	return p, true
}

func (p partial) floor() *semver.Version {
	n := append(append([]uint64{}, p.nums...), 0, 0, 0)
	pre := ""
	if len(p.nums) == 3 {
		pre = p.pre
	}
	return semver.New(n[0], n[1], n[2], pre, "")
}

// bump is the smallest version above every version the partial covers;
// nil (unbounded) when that part is already the largest number, so the
// bound never wraps round to 0.
func (p partial) bump() *semver.Version {
	if len(p.nums) > 0 && p.nums[len(p.nums)-1] == math.MaxUint64 {
		return nil
	}
	switch len(p.nums) {
	case 0:
		return nil
	case 1:
		return semver.New(p.nums[0]+1, 0, 0, "", "")
	case 2:
		return semver.New(p.nums[0], p.nums[1]+1, 0, "", "")
	}
	return semver.New(p.nums[0], p.nums[1], p.nums[2]+1, "", "")
}

// termBounds is the range of one comparison; ok=false when it cannot be
// understood (the caller then scans everything).
func termBounds(t string) (lo, hi *semver.Version, ok bool) {
	op := strings.TrimRight(t[:len(t)-len(strings.TrimLeft(t, "<>=!~^"))], "")
	v := strings.TrimSpace(t[len(op):])
	if v == "*" || v == "x" || v == "X" {
		return nil, nil, op == "" || op == "=" || op == ">=" || op == "=>"
	}
	p, ok := parsePartial(v)
	if !ok {
		return nil, nil, false
	}
	switch op {
	case "", "=":
		return p.floor(), p.bump(), true
	case "!=":
		return nil, nil, true
	case ">", ">=", "=>":
		return p.floor(), nil, true
	case "<":
		return nil, p.floor(), true
	case "<=", "=<":
		return nil, p.bump(), true
	case "~", "~>":
		if len(p.nums) == 3 && p.nums[0] == 0 && p.nums[1] == 0 && p.nums[2] == 0 {
			// Masterminds reads ~0.0.0 as >=0.0.0.
			return p.floor(), nil, true
		}
		if len(p.nums) <= 1 {
			return p.floor(), partial{nums: p.nums}.bump(), true
		}
		return p.floor(), partial{nums: p.nums[:2]}.bump(), true
	case "^":
		switch {
		case len(p.nums) == 0:
			return nil, nil, true
		case p.nums[0] > 0 || len(p.nums) == 1:
			return p.floor(), partial{nums: p.nums[:1]}.bump(), true
		case len(p.nums) == 2 || p.nums[1] > 0:
			return p.floor(), partial{nums: p.nums[:2]}.bump(), true
		default:
			return p.floor(), p.bump(), true
		}
	}
	return nil, nil, false
}
