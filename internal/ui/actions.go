package ui

import (
	"net/http"
	"net/url"

	"github.com/reliquary/reliquary/internal/library"
)

// actionRoutes maps each UI action to the API route whose permission it
// borrows.
var actionRoutes = map[string]string{
	"seal":     apiRelease + "/seal",
	"approve":  apiRelease + "/approvals",
	"promote":  apiRelease + "/promote",
	"withdraw": apiRelease + "/withdraw",
}

var actionVerbs = map[string]string{"seal": "Seal", "approve": "Approve", "promote": "Release", "withdraw": "Withdraw"}

type confirmData struct {
	Action   string
	Verb     string
	Product  string
	Version  string
	State    library.State
	Comment  string
	ChangeID string
	Reason   string
	Back     string
}

// action runs seal, approve, promote or withdraw. The first POST shows a
// confirmation; the confirmed POST calls the library exactly as the API
// does, then redirects to the release page with the outcome
// (post-redirect-get). Refusals come back as readable messages with the
// API's error code.
func (u *UI) action(w http.ResponseWriter, r *http.Request, s *session) {
	name, version, act := r.PathValue("p"), r.PathValue("v"), r.PathValue("action")
	route, ok := actionRoutes[act]
	if !ok {
		u.errorPage(w, r, s, http.StatusNotFound, "NOT_FOUND", "There is no action "+act+".")
		return
	}
	if err := library.ValidateProductName(name); err != nil {
		u.fail(w, r, s, err)
		return
	}
	if _, err := library.ParseVersion(version); err != nil {
		u.fail(w, r, s, err)
		return
	}
	back := Prefix + "/products/" + url.PathEscape(name) + "/releases/" + url.PathEscape(version)
	if !u.allowed(s.pr, http.MethodPost, route, name) {
		need := library.RoleAdmin
		if u.cfg.Permission != nil {
			need = u.cfg.Permission(http.MethodPost, route)
		}
		msg := "Your token (" + s.pr.Name + ", role " + s.pr.Role.String() + ") may not " + act + " here; it needs " + need.String() + "."
		if !s.pr.CanAccess(name) {
			msg = "Your token is not scoped to product " + name + "."
		}
		u.sessions.setFlash(s.id, &flash{Code: "FORBIDDEN", Message: msg})
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	f := r.PostForm
	d := confirmData{Action: act, Verb: actionVerbs[act], Product: name, Version: version, Back: back,
		Comment: f.Get("comment"), ChangeID: f.Get("change_id"), Reason: f.Get("reason")}
	if f.Get("confirm") != "yes" {
		rel, err := u.lib.Release(r.Context(), name, version)
		if err != nil {
			u.fail(w, r, s, err)
			return
		}
		d.State = rel.State
		u.page(w, r, s, "confirm", "products", d.Verb+" "+name+"@"+version+"?", d)
		return
	}
	var err error
	switch act {
	case "seal":
		_, err = u.lib.Seal(r.Context(), s.pr, name, version, d.Comment)
	case "approve":
		_, err = u.lib.Approve(r.Context(), s.pr, name, version, d.Comment)
	case "promote":
		_, err = u.lib.Promote(r.Context(), s.pr, name, version, library.PromoteInput{To: string(library.StateReleased), ChangeID: d.ChangeID, Comment: d.Comment})
	case "withdraw":
		_, err = u.lib.Withdraw(r.Context(), s.pr, name, version, library.WithdrawInput{Reason: d.Reason, ChangeID: d.ChangeID})
	}
	if err != nil {
		status, code, msg := u.classify(err)
		if status >= 500 {
			u.log.Warn("ui action failed", "action", act, "product", name, "version", version, "code", code, "err", err)
		}
		if status == http.StatusNotFound {
			u.errorPage(w, r, s, status, code, msg)
			return
		}
		u.sessions.setFlash(s.id, &flash{Code: code, Message: msg})
	} else {
		done := map[string]string{"seal": "Sealed", "approve": "Approved", "promote": "Released", "withdraw": "Withdrew"}[act]
		u.sessions.setFlash(s.id, &flash{OK: true, Message: done + " " + name + "@" + version + "."})
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}
