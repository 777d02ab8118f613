package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/reliquary/reliquary/api/client"
)

func newEventsCmd(o *cliOpts) *cobra.Command {
	events := groupCmd("events", "Read the journal's event feed", "  reliquary events tail --type 'release.*'")
	var q client.EventQuery
	var types string
	var follow bool
	tail := &cobra.Command{
		Use:   "tail",
		Short: "Print events, following the long-poll feed",
		Long: `Print the events after --after (default: from the start) and, with --follow (the default),
keep waiting for new ones with the long-poll feed until interrupted. -o json prints one JSON
event per line, for machines.`,
		Example: `  reliquary events tail --product hr
  reliquary events tail --after 1200 --type 'release.released,release.withdrawn' -o json
  reliquary events tail --follow=false`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			if types != "" {
				q.Types = strings.Split(types, ",")
			}
			q.Limit = 500
			w := cmd.OutOrStdout()
			enc := json.NewEncoder(w)
			for {
				if follow {
					q.Wait = 30 * time.Second
				}
				page, err := c.Events(cmd.Context(), q)
				if err != nil {
					if errors.Is(cmd.Context().Err(), err) || cmd.Context().Err() != nil {
						return nil
					}
					return err
				}
				for _, e := range page.Events {
					if o.json() {
						_ = enc.Encode(e)
						continue
					}
					fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.UTC().Format(time.RFC3339), e.Actor, e.Type, e.Subject)
				}
				q.After = page.NextAfter
				if !follow && len(page.Events) == 0 {
					return nil
				}
			}
		},
	}
	fl := tail.Flags()
	fl.Uint64Var(&q.After, "after", 0, "start after this sequence number")
	fl.StringVar(&types, "type", "", "only these event types, comma-separated ('release.*' matches a family)")
	fl.StringVar(&q.Product, "product", "", "only events of this product")
	fl.BoolVar(&follow, "follow", true, "keep waiting for new events")
	events.AddCommand(o.bind(tail))
	return events
}

func newWebhookCmd(o *cliOpts) *cobra.Command {
	wh := groupCmd("webhook", "Manage webhooks (admin)", "  reliquary webhook create https://ci.example/hook --type 'release.*'")
	var in client.WebhookInput
	var types string
	create := &cobra.Command{
		Use:   "create <url>",
		Short: "Register a webhook; its secret is printed once",
		Long: `Register a webhook: the server POSTs each journal event (of --type, default all) to <url>,
signed with HMAC-SHA256 of the body under the webhook's secret, retried with backoff until
delivered. --secret must be 16 to 256 characters (the server answers 400 INVALID_INPUT
otherwise); without it a random 48-character secret is generated. The secret is printed once,
even with --quiet: store it where the receiver can check signatures.`,
		Example: `  reliquary webhook create https://hooks.example/reliquary --type release.released,release.withdrawn
  reliquary webhook create http://127.0.0.1:9000/hook --secret "$HOOK_SECRET" -o json`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			in.URL = a[0]
			if types != "" {
				in.Types = strings.Split(types, ",")
			}
			w, err := c.CreateWebhook(cmd.Context(), in)
			if err != nil {
				return err
			}
			return o.emitAlways(cmd, w, func(out io.Writer) {
				fmt.Fprintf(out, "ID\t%s\nURL\t%s\nTYPES\t%s\nSECRET\t%s (shown once)\n", w.ID, w.URL, dash(strings.Join(w.Types, ",")), w.Secret)
			})
		},
	}
	create.Flags().StringVar(&types, "type", "", "event types to deliver, comma-separated (default: all)")
	create.Flags().StringVar(&in.Secret, "secret", "", "HMAC secret, 16 to 256 characters (default: 48 random hex characters)")
	list := &cobra.Command{
		Use:     "list",
		Short:   "List webhooks and how far each has been delivered",
		Example: "  reliquary webhook list",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			hooks, err := c.Webhooks(cmd.Context())
			if err != nil {
				return err
			}
			return o.emit(cmd, hooks, func(out io.Writer) {
				fmt.Fprintln(out, "ID\tURL\tTYPES\tDELIVERED SEQ\tCREATED BY")
				for _, w := range hooks {
					fmt.Fprintf(out, "%s\t%s\t%s\t%d\t%s\n", w.ID, w.URL, dash(strings.Join(w.Types, ",")), w.DeliveredSeq, w.CreatedBy)
				}
			})
		},
	}
	del := &cobra.Command{
		Use:     "delete <id>",
		Short:   "Delete a webhook",
		Example: "  reliquary webhook delete wh_0123456789abcdef",
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			if err := c.DeleteWebhook(cmd.Context(), a[0]); err != nil {
				return err
			}
			o.info(cmd, "deleted webhook %s", a[0])
			return nil
		},
	}
	deliveries := &cobra.Command{
		Use:     "deliveries <id>",
		Short:   "Show a webhook's newest delivery attempts",
		Example: "  reliquary webhook deliveries wh_0123456789abcdef",
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			list, err := c.WebhookDeliveries(cmd.Context(), a[0], 50)
			if err != nil {
				return err
			}
			return o.emit(cmd, list, func(out io.Writer) {
				fmt.Fprintln(out, "SEQ\tTYPE\tATTEMPT\tSTATUS\tOK\tERROR\tAT")
				for _, d := range list {
					fmt.Fprintf(out, "%d\t%s\t%d\t%d\t%v\t%s\t%s\n", d.Seq, d.Type, d.Attempt, d.StatusCode, d.OK, dash(d.Error), shortTime(d.At))
				}
			})
		},
	}
	for _, c := range []*cobra.Command{create, list, del, deliveries} {
		wh.AddCommand(o.bind(c))
	}
	return wh
}

func newSearchCmd(o *cliOpts) *cobra.Command {
	var q client.ReleaseSearch
	cmd := &cobra.Command{
		Use:   "search",
		Short: "Find releases across products by change, configuration item, label or file digest",
		Long: `Find releases across products. --change-id finds every release a change touched: created,
promoted or withdrawn under it, listed in a baseline made under it, or deployed under it.
--sha256 answers "which release contains this file?".`,
		Example: `  reliquary search --change-id CHG-1042
  reliquary search --ci-id CI-HR --state released -o json
  reliquary search --label train=q3
  reliquary search --sha256 "$(sha256sum hr.tar.gz | cut -d' ' -f1)"`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if q.ChangeID == "" && q.CIID == "" && q.Label == "" && q.SHA256 == "" {
				return usageError{fmt.Errorf("give --change-id, --ci-id, --label or --sha256")}
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			var all []client.Release
			for {
				page, err := c.SearchReleases(cmd.Context(), q)
				if err != nil {
					return err
				}
				all = append(all, page.Releases...)
				if page.NextCursor == "" {
					break
				}
				q.Cursor = page.NextCursor
			}
			if all == nil {
				all = []client.Release{}
			}
			return o.emit(cmd, all, func(out io.Writer) {
				fmt.Fprintln(out, "PRODUCT\tVERSION\tTYPE\tSTATE\tCHANGE\tCREATED")
				for _, r := range all {
					fmt.Fprintf(out, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Product, r.Version, r.Type, r.State, dash(r.ChangeID), shortTime(r.CreatedAt))
				}
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&q.ChangeID, "change-id", "", "releases authorised by this change")
	fl.StringVar(&q.CIID, "ci-id", "", "releases implementing or changing this configuration item")
	fl.StringVar(&q.Label, "label", "", "releases with this label, key=value or key:value")
	fl.StringVar(&q.State, "state", "", "only releases in this state")
	fl.StringVar(&q.SHA256, "sha256", "", "releases containing an artifact with this SHA-256 (hex)")
	return o.bind(cmd)
}
