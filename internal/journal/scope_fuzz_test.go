package journal_test

import (
	"encoding/json"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/reliquary/reliquary/internal/journal"
)

// FuzzRedact: whatever an event's data, Redact never panics, keeps the
// event's identity, and leaves no secret or secret_hash value, no
// token_hashes key and no webhook URL in what it returns.
func FuzzRedact(f *testing.F) {
	f.Add("token.created", `{"id":"tok_1","changes":[{"bucket":"tokens","key":"dG9r","value":{"secret_hash":"abcdef0123"}},{"bucket":"token_hashes","key":"q83v","value":"\"tok_1\""}]}`)
	f.Add("webhook.created", `{"id":"wh_1","url":"https://hooks.example.com/services/SECRETPATH?k=SECRETQUERY","types":[]}`)
	f.Add("release.created", `{"version":"1.0.0","changes":[{"bucket":"releases","key":"eA==","value":{"notes":"x"}}]}`)
	f.Add("webhook.created", `{"id":"wh_1","host":"h","changes":[{"bucket":"webhook_records","key":"d2hfMQ==","value":{"id":"wh_1","sealed":"v1:00:AAAA"}}]}`)
	f.Add("x", `[1,2]`)
	f.Add("x", `{"secret":"s3cr3tvalue","changes":"nope"}`)
	f.Fuzz(func(t *testing.T, typ, data string) {
		e := &journal.Event{Seq: 7, Type: typ, Subject: "s", Data: json.RawMessage(data)}
		out := journal.Redact(e)
		if out.Seq != e.Seq || out.Type != e.Type || out.Subject != e.Subject {
			t.Fatalf("identity changed: %+v", out)
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(out.Data, &obj) != nil {
			return // not an object: nothing to redact, returned as is
		}
		check := func(m map[string]json.RawMessage, where string) {
			for _, k := range []string{"secret", "secret_hash"} {
				if v, ok := m[k]; ok && string(v) != `"`+journal.Redacted+`"` {
					t.Fatalf("%s %s = %s after Redact", where, k, v)
				}
			}
		}
		check(obj, "data")
		if strings.HasPrefix(typ, "webhook.") {
			if v, ok := obj["url"]; ok && string(v) != `"`+journal.Redacted+`"` {
				t.Fatalf("webhook url = %s after Redact", v)
			}
		}
		var changes []map[string]json.RawMessage
		if json.Unmarshal(obj["changes"], &changes) != nil {
			return
		}
		for _, c := range changes {
			var bucket string
			_ = json.Unmarshal(c["bucket"], &bucket)
			if k, ok := c["key"]; ok && bucket == "token_hashes" && string(k) != `"`+journal.Redacted+`"` {
				t.Fatalf("token_hashes key %s after Redact", k)
			}
			var v map[string]json.RawMessage
			if json.Unmarshal(c["value"], &v) == nil {
				check(v, "change value")
				if s, ok := v["sealed"]; ok && string(s) != `"`+journal.Redacted+`"` {
					t.Fatalf("change value sealed = %s after Redact", s)
				}
			}
		}
	})
}

// FuzzWebhookTarget: for any URL, a literal loopback, private or link-local
// host is refused, and nothing panics.
func FuzzWebhookTarget(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1/", "http://[::1]:80/x", "https://8.8.8.8/hook", "http://10.0.0.1/", "http://[fe80::1%25eth0]/",
		"http://[::ffff:192.168.0.1]/", "http://0x7f.1/", "http://2130706433/", "http://example.com/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		host := u.Hostname()
		ip, perr := netip.ParseAddr(host)
		if perr != nil {
			return // a name: resolved at registration and checked when dialed
		}
		err = journal.CheckTargetURL(t.Context(), u)
		ip = ip.Unmap()
		bad := ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() || ip.IsMulticast()
		if bad && err == nil {
			t.Fatalf("%s (%s) accepted", raw, ip)
		}
		if !bad && err != nil {
			t.Fatalf("%s (%s) refused: %v", raw, ip, err)
		}
	})
}
