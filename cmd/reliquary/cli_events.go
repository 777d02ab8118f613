package main

import (
	"encoding/json"
	"errors"
	"fmt"
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
