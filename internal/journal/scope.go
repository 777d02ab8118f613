package journal

import (
	"encoding/json"
	"net/url"
	"strings"
)

// Viewer is who looks at the journal (a feed reader, an auditor, or the
// owner of a webhook): its role and product scope decide which events it
// may see (DESIGN §8 "Scope").
type Viewer struct {
	// Admin is true for the admin role.
	Admin bool
	// Products is the scope; empty means every product.
	Products []string
}

// Unscoped reports whether the viewer sees every product.
func (v Viewer) Unscoped() bool { return len(v.Products) == 0 }

func (v Viewer) canAccess(product string) bool {
	if v.Unscoped() {
		return true
	}
	for _, p := range v.Products {
		if p == product {
			return true
		}
	}
	return false
}

// Visible reports whether the viewer may see the event: token and webhook
// events only to unscoped admins; a baseline's events only when every
// member is in scope; any other event when its product is in scope. A
// scoped viewer never sees an event that names no product.
func (v Viewer) Visible(e *Event) bool {
	switch {
	case strings.HasPrefix(e.Type, "token."), strings.HasPrefix(e.Type, "webhook."):
		return v.Admin && v.Unscoped()
	case v.Unscoped():
		return true
	case strings.HasPrefix(e.Type, "baseline."):
		members, ok := baselineProducts(e)
		if !ok {
			return false
		}
		for _, p := range members {
			if !v.canAccess(p) {
				return false
			}
		}
		return true
	}
	p := EventProduct(e)
	return p != "" && v.canAccess(p)
}

// EventProduct is the product an event concerns ("" for none): the part of
// its subject before "@", for events about a product or its releases.
func EventProduct(e *Event) string {
	if strings.HasPrefix(e.Type, "token.") || strings.HasPrefix(e.Type, "webhook.") || strings.HasPrefix(e.Type, "baseline.") {
		return ""
	}
	p, _, _ := strings.Cut(e.Subject, "@")
	return p
}

// baselineProducts are the member products of a baseline event's baseline.
func baselineProducts(e *Event) ([]string, bool) {
	var data struct {
		Baseline struct {
			Releases []struct {
				Product string `json:"product"`
			} `json:"releases"`
		} `json:"baseline"`
	}
	if err := json.Unmarshal(e.Data, &data); err != nil || len(data.Baseline.Releases) == 0 {
		return nil, false
	}
	out := make([]string, 0, len(data.Baseline.Releases))
	for _, m := range data.Baseline.Releases {
		out = append(out, m.Product)
	}
	return out, true
}

// Redacted replaces a field an event served by the API must not carry.
const Redacted = "[redacted]"

// Redact is the event as /audit shows it (DESIGN §8 "No secrets in
// feeds"): secret hashes in its index changes (a token's secret_hash, the
// key of the token-hash index), a webhook record's sealed URL and secret
// and the URL of a webhook event are replaced by "[redacted]"; a webhook event keeps the URL's host as "host". The
// stored event is untouched, so the chain still verifies on the server and
// offline; a redacted event's hash no longer matches its served body.
func Redact(e *Event) *Event {
	return redact(e, false)
}

// redact is Redact, and with dropChanges also leaves out data.changes and
// data.changes_schema (the feed's view), in one decode and one encode of the data.
func redact(e *Event, dropChanges bool) *Event {
	var data map[string]json.RawMessage
	if err := json.Unmarshal(e.Data, &data); err != nil {
		return e
	}
	changed := false
	if raw, ok := data["url"]; ok && strings.HasPrefix(e.Type, "webhook.") {
		var s string
		_ = json.Unmarshal(raw, &s)
		if _, ok := data["host"]; !ok {
			if u, err := url.Parse(s); err == nil && u.Host != "" {
				data["host"], _ = json.Marshal(u.Host)
			}
		}
		data["url"], _ = json.Marshal(Redacted)
		changed = true
	}
	for _, k := range []string{"secret", "secret_hash"} {
		if _, ok := data[k]; ok {
			data[k], _ = json.Marshal(Redacted)
			changed = true
		}
	}
	if raw, ok := data["changes"]; ok && dropChanges {
		delete(data, "changes")
		delete(data, "changes_schema") // the index schema of the changes dropped
		changed = true
	} else if ok {
		var changes []map[string]json.RawMessage
		if json.Unmarshal(raw, &changes) == nil {
			cc := false
			for _, c := range changes {
				if redactChange(c) {
					cc = true
				}
			}
			if cc {
				data["changes"], _ = json.Marshal(changes)
				changed = true
			}
		}
	}
	if !changed {
		return e
	}
	out := *e
	out.Data, _ = json.Marshal(data)
	return &out
}

// redactChange hides secret material in one index change.
func redactChange(c map[string]json.RawMessage) bool {
	var bucket string
	_ = json.Unmarshal(c["bucket"], &bucket)
	changed := false
	if bucket == "token_hashes" { // the key is a secret's hash
		if _, ok := c["key"]; ok {
			c["key"], _ = json.Marshal(Redacted)
			changed = true
		}
	}
	var value map[string]json.RawMessage
	if raw, ok := c["value"]; ok && json.Unmarshal(raw, &value) == nil {
		vc := false
		// "sealed": a webhook record's URL and secret, sealed under
		// --secrets-key (the bucket's journal needs it; no feed does).
		for _, k := range []string{"secret", "secret_hash", "sealed"} {
			if _, ok := value[k]; ok {
				value[k], _ = json.Marshal(Redacted)
				vc = true
			}
		}
		if vc {
			c["value"], _ = json.Marshal(value)
			changed = true
		}
	}
	return changed
}
