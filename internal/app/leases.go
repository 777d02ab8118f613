package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reliquary/reliquary/internal/lease"
	"github.com/reliquary/reliquary/internal/secrets"
)

// Lease names: the work that runs on one node of a cluster at a time.
const (
	LeaseWebhooks  = "webhooks"
	LeaseRetention = "retention"
)

// loadSecretsKey reads --secrets-key, or the data dir's generated key.
func loadSecretsKey(cfg Config) (*secrets.Key, error) {
	if cfg.SecretsKey != "" {
		return secrets.Load(cfg.SecretsKey)
	}
	k, created, err := secrets.LoadOrCreate(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	if created && cfg.Logger != nil {
		cfg.Logger.Info("generated a secrets key for webhook records; give every node of a cluster the same one with --secrets-key",
			"path", filepath.Join(cfg.DataDir, secrets.DefaultKeyFile))
	}
	return k, nil
}

// newLeases makes the webhook and retention leases of this node.
func (a *App) newLeases(nodeID string) error {
	var err error
	mk := func(name string, observe func(json.RawMessage)) *lease.Lease {
		l, e := lease.New(lease.Config{Store: a.Store, Name: name, Holder: nodeID, TTL: a.cfg.LeaseTTL,
			Skew: a.cfg.LeaseSkew, Log: a.log, Observe: observe}) // wall clock, never the library's test clock
		err = errors.Join(err, e)
		return l
	}
	// A node that does not deliver follows the holder's cursors, so its
	// GET /webhooks shows the cluster's delivered_seq (as of the last
	// renewal).
	a.WebhookLease = mk(LeaseWebhooks, func(state json.RawMessage) { a.seedHookCursors(state) })
	a.RetentionLease = mk(LeaseRetention, nil)
	if err != nil {
		return err
	}
	for _, l := range []struct {
		name string
		l    *lease.Lease
	}{{LeaseWebhooks, a.WebhookLease}, {LeaseRetention, a.RetentionLease}} {
		a.API.Registry().MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "reliquary_lease_held",
			Help:        "1 while this node holds the cluster lease (webhooks: deliveries; retention: the retention loop).",
			ConstLabels: prometheus.Labels{"lease": l.name}}, func() float64 {
			if l.l.Held() {
				return 1
			}
			return 0
		}))
	}
	return nil
}

// webhookLeaseState is what the webhook lease carries from holder to
// holder: each hook's next seq to deliver.
type webhookLeaseState struct {
	Hooks map[string]uint64 `json:"hooks"`
}

// runWebhooks delivers webhooks while this node holds the webhook lease,
// resuming each hook at the cursor the last holder left (or further, when
// this node itself delivered further): at least once, with a brief
// overlap when the lease changes hands.
func (a *App) runWebhooks(ctx context.Context) {
	a.WebhookLease.Run(ctx, func(ctx context.Context, prev json.RawMessage) {
		a.seedHookCursors(prev)
		a.dispatcher.Run(ctx)
	}, func() json.RawMessage {
		cur, err := a.Index.HookCursors()
		if err != nil {
			a.log.Warn("webhook lease: read cursors", "err", err)
			return a.WebhookLease.State()
		}
		raw, _ := json.Marshal(webhookLeaseState{Hooks: cur})
		return raw
	})
}

// seedHookCursors moves this node's hook cursors forward to those of a
// webhook lease state.
func (a *App) seedHookCursors(state json.RawMessage) {
	if len(state) == 0 {
		return
	}
	var st webhookLeaseState
	if err := json.Unmarshal(state, &st); err != nil {
		a.log.Warn("webhook lease state unreadable; keeping this node's cursors", "err", err)
		return
	}
	if err := a.Index.SeedHookCursors(st.Hooks); err != nil {
		a.log.Error("webhook lease: take over cursors", "err", err)
	}
	if _, err := a.Index.PruneHookState(); err != nil { // hooks deleted through another node
		a.log.Warn("webhook lease: prune the state of deleted hooks", "err", err)
	}
}

// runRetention runs the retention loop while this node holds the
// retention lease.
func (a *App) runRetention(ctx context.Context) {
	if a.cfg.RetentionInterval <= 0 {
		return
	}
	a.RetentionLease.Run(ctx, func(ctx context.Context, _ json.RawMessage) {
		a.Lib.RetentionLoop(ctx, a.cfg.RetentionInterval)
	}, nil)
}
