package ui

import (
	"cmp"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/reliquary/reliquary/internal/library"
)

// The picture of a product's lines: one lane per major.minor line (the
// newest maxLanes lines among the newest releases), grouped by major;
// releases are points along their lane, oldest left.
const (
	maxLanes     = 10
	maxPoints    = 24
	laneHeight   = 30
	labelWidth   = 110
	pointStep    = 26
	legendHeight = 40
)

type lane struct {
	major, minor uint64
	points       []*library.Release
	maintained   bool
}

// pointClass distinguishes current, superseded, withdrawn and not yet
// released points.
func pointClass(r *library.Release) string {
	switch {
	case r.State == library.StateWithdrawn:
		return "withdrawn"
	case r.State == library.StateReleased && r.SupersededBy == "" && !r.Prerelease:
		return "current"
	case r.State == library.StateReleased:
		return "superseded"
	}
	return "pending"
}

func (u *UI) lines(r *http.Request, p *library.Product) (template.HTML, error) {
	recent, _, err := u.lib.Releases(r.Context(), p.Name, library.ReleaseFilter{Limit: window})
	if err != nil {
		return "", err
	}
	return drawLines(p.Name, recent, false), nil
}

// drawLines draws the lanes of rels (any order) as an inline SVG; compact
// is the small picture of the products page (fewer points, no legend).
func drawLines(product string, rels []*library.Release, compact bool) template.HTML {
	lanesMax, pointsMax, labelW, legendH := maxLanes, maxPoints, labelWidth, legendHeight
	if compact {
		lanesMax, pointsMax, labelW, legendH = 5, 10, 70, 0
	}
	width := labelW + pointsMax*pointStep + 40
	byLine := map[[2]uint64]*lane{}
	for _, r := range rels {
		v, err := library.ParseVersion(r.Version)
		if err != nil {
			continue
		}
		k := [2]uint64{v.Major(), v.Minor()}
		l := byLine[k]
		if l == nil {
			l = &lane{major: k[0], minor: k[1]}
			byLine[k] = l
		}
		l.points = append(l.points, r)
		if pointClass(r) == "current" {
			l.maintained = true
		}
	}
	lanes := make([]*lane, 0, len(byLine))
	for _, l := range byLine {
		lanes = append(lanes, l)
	}
	slices.SortFunc(lanes, func(a, b *lane) int {
		return cmp.Or(cmp.Compare(b.major, a.major), cmp.Compare(b.minor, a.minor))
	})
	if len(lanes) > lanesMax {
		lanes = lanes[:lanesMax]
	}
	height := len(lanes)*laneHeight + legendH + 10
	var b strings.Builder
	title := "Lines of " + product
	id := html.EscapeString("lines-" + product) // product names are [a-z0-9._-]: a valid id
	fmt.Fprintf(&b, `<svg class="lines" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" aria-labelledby="%s-title %s-desc">`, width, height, id, id)
	fmt.Fprintf(&b, `<title id="%s-title">%s</title>`, id, html.EscapeString(title))
	fmt.Fprintf(&b, `<desc id="%s-desc">%d lines, newest first; green: current, grey: superseded, red cross: withdrawn, blue ring: not yet released.</desc>`, id, len(lanes))
	if len(lanes) == 0 {
		fmt.Fprintf(&b, `<text x="10" y="24" class="lane-label">No releases yet.</text>`)
	}
	prevMajor := uint64(1<<63 - 1)
	for i, l := range lanes {
		y := i*laneHeight + laneHeight/2 + 4
		cls := "lane"
		if l.maintained {
			cls += " maintained"
		}
		if l.major != prevMajor && i > 0 {
			fmt.Fprintf(&b, `<line class="major-sep" x1="0" x2="%d" y1="%d" y2="%d"/>`, width, y-laneHeight/2, y-laneHeight/2)
		}
		prevMajor = l.major
		fmt.Fprintf(&b, `<g class="%s" data-line="%d.%d">`, cls, l.major, l.minor)
		fmt.Fprintf(&b, `<text class="lane-label" x="8" y="%d">%d.%d%s</text>`, y+4, l.major, l.minor, map[bool]string{true: " ●", false: ""}[l.maintained])
		fmt.Fprintf(&b, `<line class="lane-line" x1="%d" x2="%d" y1="%d" y2="%d"/>`, labelW-10, width-20, y, y)
		pts := l.points
		slices.SortFunc(pts, func(a, c *library.Release) int {
			va, _ := library.ParseVersion(a.Version)
			vc, _ := library.ParseVersion(c.Version)
			return va.Compare(vc)
		})
		if len(pts) > pointsMax {
			pts = pts[len(pts)-pointsMax:]
		}
		for j, r := range pts {
			x := labelW + j*pointStep + 6
			pc := pointClass(r)
			href := Prefix + "/products/" + url.PathEscape(product) + "/releases/" + url.PathEscape(r.Version)
			label := r.Version + ": " + string(r.State)
			if r.SupersededBy != "" {
				label += ", superseded by " + r.SupersededBy
			}
			if pc == "current" {
				label += ", current"
			}
			fmt.Fprintf(&b, `<a href="%s" class="pt %s" data-point="%s@%s" data-point-state="%s"><title>%s</title>`,
				html.EscapeString(href), pc, html.EscapeString(product), html.EscapeString(r.Version), r.State, html.EscapeString(label))
			switch pc {
			case "withdrawn":
				fmt.Fprintf(&b, `<path d="M%d %d l10 10 M%d %d l-10 10"/>`, x-5, y-5, x+5, y-5)
			case "pending":
				fmt.Fprintf(&b, `<circle cx="%d" cy="%d" r="6"/>`, x, y)
			default:
				fmt.Fprintf(&b, `<circle cx="%d" cy="%d" r="7"/>`, x, y)
			}
			b.WriteString(`</a>`)
		}
		b.WriteString(`</g>`)
	}
	if compact {
		b.WriteString(`</svg>`)
		return template.HTML(b.String())
	}
	ly := len(lanes)*laneHeight + 26
	fmt.Fprintf(&b, `<g class="legend"><circle class="pt-current" cx="14" cy="%d" r="7"/><text x="26" y="%d">current</text>`, ly, ly+4)
	fmt.Fprintf(&b, `<circle class="pt-superseded" cx="104" cy="%d" r="7"/><text x="116" y="%d">superseded</text>`, ly, ly+4)
	fmt.Fprintf(&b, `<path class="pt-withdrawn" d="M199 %d l10 10 M209 %d l-10 10"/><text x="216" y="%d">withdrawn</text>`, ly-5, ly-5, ly+4)
	fmt.Fprintf(&b, `<circle class="pt-pending" cx="304" cy="%d" r="6"/><text x="316" y="%d">not released</text>`, ly, ly+4)
	fmt.Fprintf(&b, `<text x="420" y="%d">● maintained line</text></g>`, ly+4)
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every interpolated string is escaped above
}
