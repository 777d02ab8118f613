package index

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/secrets"
)

// ErrNoSecretsKey: a webhook cannot be registered before SetSecrets.
var ErrNoSecretsKey = errors.New("no secrets key: webhook records cannot be sealed")

// webhookRecord is a webhook as the journal carries it (bucket
// webhook_records): every node and a rebuild from the bucket learn the
// hook from its change set, and its URL and secret only ever travel
// sealed (DESIGN §8 "No secrets in feeds").
type webhookRecord struct {
	ID        string    `json:"id"`
	Host      string    `json:"host"`
	Types     []string  `json:"types"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	Products  []string  `json:"products,omitempty"`
	// Start is the first seq the hook may receive: its creation
	// event's (the head when it was registered, plus one).
	Start uint64 `json:"start"`
	// Sealed is hookSecrets sealed under --secrets-key, bound to ID.
	Sealed string `json:"sealed"`
}

// hookSecrets is the sealed part of a record.
type hookSecrets struct {
	URL    string `json:"url"`
	Secret string `json:"secret"`
}

// SetSecrets gives the index the key that seals and opens webhook records.
func (ix *Index) SetSecrets(k *secrets.Key) { ix.secrets.Store(k) }

func (ix *Index) sealHook(w *journal.Webhook, start uint64) (*webhookRecord, error) {
	k := ix.secrets.Load()
	if k == nil {
		return nil, ErrNoSecretsKey
	}
	plain, err := json.Marshal(hookSecrets{URL: w.URL, Secret: w.Secret})
	if err != nil {
		return nil, err
	}
	host := ""
	if u, err := url.Parse(w.URL); err == nil {
		host = u.Host
	}
	return &webhookRecord{ID: w.ID, Host: host, Types: w.Types, CreatedBy: w.CreatedBy, CreatedAt: w.CreatedAt,
		Products: w.Products, Start: start, Sealed: k.Seal(plain, []byte(w.ID))}, nil
}

// openHook turns a record into a hook; one this node cannot unseal is
// returned with Unreadable set and no URL or secret.
func (ix *Index) openHook(raw []byte) (*journal.Webhook, *webhookRecord, error) {
	var r webhookRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, nil, err
	}
	w := &journal.Webhook{ID: r.ID, Types: r.Types, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, Products: r.Products}
	k := ix.secrets.Load()
	if k == nil {
		w.Unreadable = ErrNoSecretsKey.Error()
		return w, &r, nil
	}
	plain, err := k.Open(r.Sealed, []byte(r.ID))
	var hs hookSecrets
	if err == nil {
		err = json.Unmarshal(plain, &hs)
	}
	if err != nil {
		w.Unreadable = err.Error()
		return w, &r, nil
	}
	w.URL, w.Secret = hs.URL, hs.Secret
	return w, &r, nil
}

// CheckWebhookSecrets fails when a webhook record in the index cannot be
// unsealed with this node's key: the node was started with another
// --secrets-key than the one the journal's hooks were sealed under.
func (ix *Index) CheckWebhookSecrets() error {
	var bad error
	err := ix.db.View(func(btx *bolt.Tx) error {
		return btx.Bucket(bucketWebhookRecords).ForEach(func(k, v []byte) error {
			w, r, err := ix.openHook(v)
			if err != nil {
				return fmt.Errorf("webhook record %q: %w", k, err)
			}
			if w.Unreadable != "" && bad == nil {
				bad = fmt.Errorf("webhook %s in the journal is sealed under secrets key id %s and cannot be opened here (%s): "+
					"start every node with the same --secrets-key file (or RELIQUARY_SECRETS_KEY)", r.ID, secrets.KeyID(r.Sealed), w.Unreadable)
			}
			return nil
		})
	})
	return errors.Join(err, bad)
}

// HookCursors is the next seq each hook must receive, as this node knows
// it: what the webhook lease carries to the next holder.
func (ix *Index) HookCursors() (map[string]uint64, error) {
	hooks, state, err := ix.Webhooks()
	if err != nil {
		return nil, err
	}
	out := make(map[string]uint64, len(hooks))
	for _, h := range hooks {
		out[h.ID] = state[h.ID] + 1
	}
	return out, nil
}

// SeedHookCursors moves each known hook's next seq forward to the one
// given (a new lease holder resuming where the last one stopped); it never
// moves a hook back and ignores unknown hooks.
func (ix *Index) SeedHookCursors(next map[string]uint64) error {
	if len(next) == 0 {
		return nil
	}
	return ix.db.Update(func(btx *bolt.Tx) error {
		for id, n := range next {
			if btx.Bucket(bucketWebhookRecords).Get([]byte(id)) == nil && btx.Bucket(bucketWebhooks).Get([]byte(id)) == nil {
				continue
			}
			if s := btx.Bucket(bucketHookState).Get([]byte(id)); len(s) == 8 && seqFromKey(s) >= n {
				continue
			}
			if err := btx.Bucket(bucketHookState).Put([]byte(id), seqKey(n)); err != nil {
				return err
			}
		}
		return nil
	})
}

// hookNext is a hook's next seq in btx: its delivery state, or the start
// its record names when this node never delivered to it.
func hookNext(btx *bolt.Tx, id []byte) (uint64, bool) {
	var next uint64
	ok := false
	if raw := btx.Bucket(bucketWebhookRecords).Get(id); raw != nil {
		var r webhookRecord
		if json.Unmarshal(raw, &r) == nil {
			next, ok = r.Start, true
		}
	} else if btx.Bucket(bucketWebhooks).Get(id) != nil {
		ok = true
	}
	if !ok {
		return 0, false
	}
	if s := btx.Bucket(bucketHookState).Get(id); len(s) == 8 {
		next = max(next, seqFromKey(s))
	}
	return max(next, 1), true
}

// EvWebhookSealed records that a node-local webhook, registered before
// webhook records existed, was moved into the journal as a sealed record.
const EvWebhookSealed = "webhook.sealed"

// SealLocalWebhooks moves every node-local hook of the older "webhooks"
// bucket into a sealed, journaled record (one event each), keeping its
// delivery state: from then on every node and a rebuild know it. It
// returns how many it moved.
func (ix *Index) SealLocalWebhooks(now time.Time) (int, error) {
	var ids [][]byte
	if err := ix.db.View(func(btx *bolt.Tx) error {
		return btx.Bucket(bucketWebhooks).ForEach(func(k, _ []byte) error {
			ids = append(ids, clone(k))
			return nil
		})
	}); err != nil {
		return 0, err
	}
	moved := 0
	for _, id := range ids {
		err := ix.Update(func(ltx library.WriteTx) error {
			t := ltx.(*tx)
			raw := t.b(bucketWebhooks).Get(id)
			if raw == nil || t.b(bucketWebhookRecords).Get(id) != nil {
				return nil
			}
			var w journal.Webhook
			if err := json.Unmarshal(raw, &w); err != nil {
				return fmt.Errorf("webhook %q: %w", id, err)
			}
			next, _ := hookNext(t.btx, id)
			rec, err := ix.sealHook(&w, next)
			if err != nil {
				return err
			}
			if err := t.putJSON(bucketWebhookRecords, id, rec); err != nil {
				return err
			}
			if err := t.b(bucketWebhooks).Delete(id); err != nil {
				return err
			}
			if err := t.b(bucketHookState).Put(id, seqKey(next)); err != nil {
				return err
			}
			_, err = t.Record(library.Event{Time: now.UTC(), Actor: "reliquary", Type: EvWebhookSealed, Subject: w.ID,
				Data: map[string]any{"id": w.ID, "host": rec.Host, "types": rec.Types}})
			return err
		})
		if err != nil {
			return moved, err
		}
		moved++
	}
	return moved, nil
}

// PruneHookState removes the delivery state and log of hooks that no
// longer exist here: hooks deleted through another node, whose deletion
// this node applied from the journal. It returns how many hooks it pruned.
func (ix *Index) PruneHookState() (int, error) {
	pruned := 0
	err := ix.db.Update(func(btx *bolt.Tx) error {
		var gone [][]byte
		if err := btx.Bucket(bucketHookState).ForEach(func(k, _ []byte) error {
			if _, ok := hookNext(btx, k); !ok {
				gone = append(gone, clone(k))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, id := range gone {
			if err := btx.Bucket(bucketHookState).Delete(id); err != nil {
				return err
			}
			prefix := append(clone(id), sep)
			c := btx.Bucket(bucketHookLog).Cursor()
			for k, _ := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, _ = c.Seek(prefix) {
				if err := c.Delete(); err != nil {
					return err
				}
			}
		}
		pruned = len(gone)
		return nil
	})
	return pruned, err
}
