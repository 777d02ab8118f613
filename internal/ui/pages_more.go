package ui

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
)

type baselinesData struct {
	Baselines []*library.Baseline
	A, B      string
}

// visibleBaseline applies §8: a baseline with a member outside the
// principal's scope is hidden from it.
func visibleBaseline(pr library.Principal, members []library.BaselineMember) bool {
	return !slices.ContainsFunc(members, func(m library.BaselineMember) bool { return !pr.CanAccess(m.Product) })
}

func (u *UI) baselinesPage(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	if a, b := q.Get("a"), q.Get("b"); a != "" && b != "" {
		http.Redirect(w, r, Prefix+"/baselines/"+url.PathEscape(a)+"/diff/"+url.PathEscape(b), http.StatusSeeOther)
		return
	}
	if !u.allowed(s.pr, http.MethodGet, "/api/v1/baselines", "") {
		u.forbidden(w, r, s, "read baselines")
		return
	}
	list, err := u.lib.Baselines(r.Context())
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	d := baselinesData{}
	for _, b := range list {
		if visibleBaseline(s.pr, b.Releases) {
			d.Baselines = append(d.Baselines, b)
		}
	}
	slices.SortStableFunc(d.Baselines, func(x, y *library.Baseline) int { return y.CreatedAt.Compare(x.CreatedAt) })
	if len(d.Baselines) >= 2 {
		d.A, d.B = d.Baselines[1].Name, d.Baselines[0].Name
	}
	u.page(w, r, s, "baselines", "baselines", "Baselines", d)
}

type diffRow struct {
	Product  string
	Change   library.ChangeKind
	From, To *library.MemberView
}

type diffData struct {
	A, B *library.BaselineView
	Rows []diffRow
}

func members(b *library.BaselineView) []library.BaselineMember {
	out := make([]library.BaselineMember, 0, len(b.Releases))
	for _, m := range b.Releases {
		out = append(out, m.BaselineMember)
	}
	return out
}

func (u *UI) diffPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !u.allowed(s.pr, http.MethodGet, apiDiff, "") {
		u.forbidden(w, r, s, "read baselines")
		return
	}
	an, bn := r.PathValue("a"), r.PathValue("b")
	var views [2]*library.BaselineView
	for i, n := range []string{an, bn} {
		v, err := u.lib.Baseline(r.Context(), n)
		if err == nil && !visibleBaseline(s.pr, members(v)) {
			err = library.ErrBaselineNotFound
		}
		if err != nil {
			u.fail(w, r, s, err)
			return
		}
		views[i] = v
	}
	diff, err := u.lib.DiffBaselines(r.Context(), an, bn)
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	find := func(v *library.BaselineView, p string) *library.MemberView {
		for i := range v.Releases {
			if v.Releases[i].Product == p {
				return &v.Releases[i]
			}
		}
		return nil
	}
	d := diffData{A: views[0], B: views[1]}
	for _, c := range diff.Changes {
		d.Rows = append(d.Rows, diffRow{Product: c.Product, Change: c.Change, From: find(views[0], c.Product), To: find(views[1], c.Product)})
	}
	u.page(w, r, s, "diff", "baselines", an+" → "+bn, d)
}

type envData struct {
	Environment string
	Products    []string
	Targets     []string
	Rows        []envRow
}

type envRow struct {
	Target string
	Cells  []*library.Install // one per product, nil when none
}

func (u *UI) environmentPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !u.allowed(s.pr, http.MethodGet, apiEnv, "") {
		u.forbidden(w, r, s, "read environments")
		return
	}
	env := r.PathValue("env")
	v, err := u.lib.Environment(r.Context(), s.pr, env)
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	d := envData{Environment: v.Environment}
	grid := map[string]map[string]*library.Install{}
	for i := range v.Installs {
		in := &v.Installs[i]
		if !slices.Contains(d.Products, in.Product) {
			d.Products = append(d.Products, in.Product)
		}
		if grid[in.Target] == nil {
			grid[in.Target] = map[string]*library.Install{}
			d.Targets = append(d.Targets, in.Target)
		}
		grid[in.Target][in.Product] = in
	}
	slices.Sort(d.Products)
	slices.Sort(d.Targets)
	for _, t := range d.Targets {
		row := envRow{Target: t}
		for _, p := range d.Products {
			row.Cells = append(row.Cells, grid[t][p])
		}
		d.Rows = append(d.Rows, row)
	}
	u.page(w, r, s, "environment", "environments", "Environment "+env, d)
}

type envPick struct {
	Environments []string
}

// environmentPick lists the environments seen in recent deployment
// records and takes a name.
func (u *UI) environmentPick(w http.ResponseWriter, r *http.Request, s *session) {
	if env := r.URL.Query().Get("env"); env != "" {
		http.Redirect(w, r, Prefix+"/environments/"+url.PathEscape(env), http.StatusSeeOther)
		return
	}
	var d envPick
	if u.allowed(s.pr, http.MethodGet, apiDeploys, "") {
		recs, _, err := u.lib.Deployments(r.Context(), s.pr, library.DeploymentFilter{Limit: library.MaxPage})
		if err != nil {
			u.fail(w, r, s, err)
			return
		}
		for _, d2 := range recs {
			if !slices.Contains(d.Environments, d2.Environment) {
				d.Environments = append(d.Environments, d2.Environment)
			}
		}
		slices.Sort(d.Environments)
	}
	u.page(w, r, s, "environments", "environments", "Environments", d)
}

// feedEvent is an event as the page shows it.
type feedEvent struct {
	Seq     uint64 `json:"seq"`
	Time    string `json:"time"`
	Actor   string `json:"actor"`
	Type    string `json:"type"`
	Subject string `json:"subject"`
	Link    string `json:"link,omitempty"`
}

// visibleEvent applies the feed's scope rules (§8): a scoped principal
// sees only events of its products; token and webhook events are for
// unscoped admins only.
func visibleEvent(pr library.Principal, e *journal.Event) bool {
	if strings.HasPrefix(e.Type, "token.") || strings.HasPrefix(e.Type, "webhook.") {
		return pr.Role >= library.RoleAdmin && len(pr.Products) == 0
	}
	if strings.HasPrefix(e.Type, "bench.") {
		return false
	}
	if len(pr.Products) == 0 {
		return true
	}
	if strings.HasPrefix(e.Type, "baseline.") {
		return false
	}
	p, _, _ := strings.Cut(e.Subject, "@")
	return library.ValidateProductName(p) == nil && pr.CanAccess(p)
}

func toFeed(e *journal.Event) feedEvent {
	f := feedEvent{Seq: e.Seq, Time: e.Time.UTC().Format("2006-01-02 15:04:05Z"), Actor: e.Actor, Type: e.Type, Subject: e.Subject}
	p, rest, ok := strings.Cut(e.Subject, "@")
	v, _, _ := strings.Cut(rest, "/") // release.artifact_* subjects are p@v/name
	switch {
	case ok && (strings.HasPrefix(e.Type, "release.") || strings.HasPrefix(e.Type, "deployment.")) &&
		library.ValidateProductName(p) == nil && validVersion(v):
		f.Link = Prefix + "/products/" + url.PathEscape(p) + "/releases/" + url.PathEscape(v)
	case strings.HasPrefix(e.Type, "product.") && library.ValidateProductName(e.Subject) == nil:
		f.Link = Prefix + "/products/" + url.PathEscape(e.Subject)
	case strings.HasPrefix(e.Type, "baseline."):
		f.Link = Prefix + "/baselines"
	}
	return f
}

func validVersion(v string) bool {
	_, err := library.ParseVersion(v)
	return err == nil
}

type eventsData struct {
	Events []feedEvent
	Head   uint64
}

// eventsShown is how many events the page shows; it reads back from the
// head eventsPage at a time, at most 50 pages.
const (
	eventsShown = 100
	eventsPage  = 200
)

func (u *UI) eventsPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !u.allowed(s.pr, http.MethodGet, apiEvents, "") || u.cfg.Journal == nil {
		u.forbidden(w, r, s, "read the event feed")
		return
	}
	head, _, err := u.cfg.Journal.Head()
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	d := eventsData{Head: head}
	// Walk back from the head in bounded pages until enough are visible.
	for end := head; end > 0 && len(d.Events) < eventsShown && head-end < 50*eventsPage; {
		start := end - min(end, eventsPage)
		evs, err := u.cfg.Journal.EventsAfter(start, int(end-start))
		if err != nil {
			u.fail(w, r, s, err)
			return
		}
		for i := len(evs) - 1; i >= 0 && len(d.Events) < eventsShown; i-- {
			if visibleEvent(s.pr, evs[i]) {
				d.Events = append(d.Events, toFeed(evs[i]))
			}
		}
		end = start
	}
	u.page(w, r, s, "events", "events", "Events", d)
}

// eventsFeed is the live page's long poll: events after `after`, waiting
// up to 25 s for the first one.
func (u *UI) eventsFeed(w http.ResponseWriter, r *http.Request, s *session) {
	w.Header().Set("Content-Type", "application/json")
	if !u.allowed(s.pr, http.MethodGet, apiEvents, "") || u.cfg.Journal == nil {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error":{"code":"FORBIDDEN","message":"may not read the event feed"}}`))
		return
	}
	after, err := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":{"code":"INVALID_INPUT","message":"after must be an event sequence number"}}`))
		return
	}
	out := struct {
		Events    []feedEvent `json:"events"`
		NextAfter uint64      `json:"next_after"`
	}{Events: []feedEvent{}, NextAfter: after}
	deadline := time.Now().Add(25 * time.Second)
	for {
		wake := u.cfg.Notifier.Wait()
		evs, err := u.cfg.Journal.EventsAfter(out.NextAfter, library.MaxPage)
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		for _, e := range evs {
			out.NextAfter = e.Seq
			if visibleEvent(s.pr, e) {
				out.Events = append(out.Events, toFeed(e))
			}
		}
		if len(out.Events) > 0 || len(evs) == library.MaxPage || !time.Now().Before(deadline) {
			break
		}
		select {
		case <-wake:
		case <-time.After(time.Until(deadline)):
		case <-r.Context().Done():
			return
		}
	}
	_ = json.NewEncoder(w).Encode(out)
}
