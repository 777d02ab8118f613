package index

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/reliquary/reliquary/internal/journal"
	"github.com/reliquary/reliquary/internal/library"
)

// Webhooks are journaled records whose URL and secret are sealed under
// --secrets-key (webhook_records.go); their delivery state and log are
// each node's own (the webhook lease carries the cursors between nodes).

// maxDeliveryLog is how many deliveries are kept per hook.
const maxDeliveryLog = 200

// CreateWebhook stores a hook that starts after the current journal head,
// and records ev in the same transaction. The hook's record, URL and
// secret sealed under the secrets key, travels in ev's change set.
func (ix *Index) CreateWebhook(w *journal.Webhook, ev library.Event) error {
	return ix.Update(func(ltx library.WriteTx) error {
		t := ltx.(*tx)
		head, _, err := t.Head()
		if err != nil {
			return err
		}
		// The creation event itself is not delivered to the new hook.
		rec, err := ix.sealHook(w, head+1)
		if err != nil {
			return err
		}
		if err := t.putJSON(bucketWebhookRecords, []byte(w.ID), rec); err != nil {
			return err
		}
		if err := t.b(bucketHookState).Put([]byte(w.ID), seqKey(head+1)); err != nil {
			return err
		}
		_, err = t.Record(ev)
		return err
	})
}

// DeleteWebhook removes a hook, its state and its log, recording ev.
func (ix *Index) DeleteWebhook(id string, ev library.Event) error {
	return ix.Update(func(ltx library.WriteTx) error {
		t := ltx.(*tx)
		inRecords := t.b(bucketWebhookRecords).Get([]byte(id)) != nil
		if !inRecords && t.b(bucketWebhooks).Get([]byte(id)) == nil {
			return &library.DetailedError{Err: journal.ErrWebhookNotFound, Msg: fmt.Sprintf("webhook %q not found", id)}
		}
		if inRecords {
			if err := t.del(bucketWebhookRecords, []byte(id)); err != nil {
				return err
			}
		}
		if err := t.b(bucketWebhooks).Delete([]byte(id)); err != nil {
			return err
		}
		if err := t.b(bucketHookState).Delete([]byte(id)); err != nil {
			return err
		}
		c := t.b(bucketHookLog).Cursor()
		prefix := append([]byte(id), sep)
		for k, _ := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, _ = c.Seek(prefix) {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		_, err := t.Record(ev)
		return err
	})
}

// Webhooks lists every hook with the seq it has delivered up to: the
// journaled records (unsealed with the secrets key), then the node-local
// hooks registered before records existed.
func (ix *Index) Webhooks() ([]*journal.Webhook, map[string]uint64, error) {
	var out []*journal.Webhook
	state := map[string]uint64{}
	err := ix.db.View(func(btx *bolt.Tx) error {
		if err := btx.Bucket(bucketWebhookRecords).ForEach(func(k, v []byte) error {
			w, _, err := ix.openHook(v)
			if err != nil {
				return fmt.Errorf("webhook record %q: %w", k, err)
			}
			out = append(out, w)
			next, _ := hookNext(btx, k)
			state[w.ID] = next - 1
			return nil
		}); err != nil {
			return err
		}
		return btx.Bucket(bucketWebhooks).ForEach(func(k, v []byte) error {
			var w journal.Webhook
			if err := json.Unmarshal(v, &w); err != nil {
				return fmt.Errorf("webhook %q: %w", k, err)
			}
			out = append(out, &w)
			if s := btx.Bucket(bucketHookState).Get(k); len(s) == 8 {
				state[w.ID] = seqFromKey(s) - 1
			}
			return nil
		})
	})
	return out, state, err
}

// HookNext is the next seq the hook must receive.
func (ix *Index) HookNext(id string) (uint64, bool, error) {
	var next uint64
	var ok bool
	err := ix.db.View(func(btx *bolt.Tx) error {
		next, ok = hookNext(btx, []byte(id))
		return nil
	})
	return next, ok, err
}

// AdvanceHook records a delivery attempt and, when it succeeded (or the
// event was not for this hook), moves the hook past seq. A hook deleted
// meanwhile is left alone.
func (ix *Index) AdvanceHook(id string, seq uint64, d *journal.Delivery) error {
	return ix.db.Update(func(btx *bolt.Tx) error {
		if _, ok := hookNext(btx, []byte(id)); !ok {
			return nil
		}
		if d != nil {
			raw, err := json.Marshal(d)
			if err != nil {
				return err
			}
			log := btx.Bucket(bucketHookLog)
			key := append(append([]byte(id), sep), seqKey(d.Seq)...)
			key = binary.BigEndian.AppendUint32(key, uint32(d.Attempt))
			if err := log.Put(key, raw); err != nil {
				return err
			}
			if err := pruneLog(log, append([]byte(id), sep)); err != nil {
				return err
			}
			if !d.OK {
				return nil
			}
		}
		return btx.Bucket(bucketHookState).Put([]byte(id), seqKey(seq+1))
	})
}

func pruneLog(b *bolt.Bucket, prefix []byte) error {
	n := 0
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, _ = c.Next() {
		n++
	}
	for k, _ := c.Seek(prefix); n > maxDeliveryLog && k != nil && hasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return err
		}
		n--
	}
	return nil
}

// Deliveries returns the hook's newest deliveries, newest first.
func (ix *Index) Deliveries(id string, limit int) ([]journal.Delivery, error) {
	var out []journal.Delivery
	err := ix.db.View(func(btx *bolt.Tx) error {
		prefix := append([]byte(id), sep)
		c := btx.Bucket(bucketHookLog).Cursor()
		k, _ := c.Seek(append(append([]byte(id), sep), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
		var v []byte
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && hasPrefix(k, prefix) && len(out) < limit; k, v = c.Prev() {
			var d journal.Delivery
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}
