package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/reliquary/reliquary/api/client"
)

func newBaselineCmd(o *cliOpts) *cobra.Command {
	cmd := groupCmd("baseline", "Freeze, list, show and compare baselines (what production is made of)", `  reliquary baseline create prod-2026-11 --from-current --change-id CHG-77
  reliquary baseline diff prod-2026-10 prod-2026-11`)
	var in client.BaselineInput
	var fromCurrent bool
	create := &cobra.Command{
		Use:   "create <name> (--from-current | <product>@<version>...)",
		Short: "Freeze a signed baseline (release manager)",
		Long: `Freeze a named, immutable, signed baseline: either every product's current release
(--from-current) or the released versions given.`,
		Example: `  reliquary baseline create prod-2026-11 --from-current --change-id CHG-77
  reliquary baseline create hr-stack hr@1.2.0 payroll@3.1.4 --description "HR stack for the audit"`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			in.Name = a[0]
			switch {
			case fromCurrent && len(a) > 1:
				return usageError{errors.New("give either --from-current or releases, not both")}
			case fromCurrent:
				in.From = "current"
			case len(a) == 1:
				return usageError{errors.New("give --from-current or the releases (<product>@<version>...)")}
			}
			for _, s := range a[1:] {
				r, err := parseRef(s, true)
				if err != nil {
					return err
				}
				in.Releases = append(in.Releases, client.ReleaseRef{Product: r.product, Version: r.version})
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			b, err := c.CreateBaseline(cmd.Context(), in)
			if err != nil {
				return err
			}
			return o.emit(cmd, b, baselineTable(b))
		},
	}
	create.Flags().BoolVar(&fromCurrent, "from-current", false, "every product's current release")
	create.Flags().StringVar(&in.Description, "description", "", "what the baseline is for")
	create.Flags().StringVar(&in.ChangeID, "change-id", "", "change (RFC) the baseline belongs to")

	list := &cobra.Command{
		Use:     "list",
		Short:   "List the baselines",
		Example: `  reliquary baseline list -o json`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			bs, err := c.Baselines(cmd.Context())
			if err != nil {
				return err
			}
			return o.emit(cmd, bs, func(w io.Writer) {
				fmt.Fprintln(w, "NAME\tRELEASES\tCHANGE\tCREATED BY\tCREATED\tDESCRIPTION")
				for _, b := range bs {
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", b.Name, len(b.Releases), dash(b.ChangeID), b.CreatedBy, shortTime(b.CreatedAt), dash(b.Description))
				}
			})
		},
	}
	show := &cobra.Command{
		Use:     "show <name>",
		Short:   "Show a baseline, flagging members withdrawn since",
		Example: `  reliquary baseline show prod-2026-11`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			b, err := c.Baseline(cmd.Context(), a[0])
			if err != nil {
				return err
			}
			return o.emit(cmd, b, baselineTable(b))
		},
	}
	diff := &cobra.Command{
		Use:     "diff <from> <to>",
		Short:   "Compare two baselines product by product",
		Example: `  reliquary baseline diff prod-2026-10 prod-2026-11`,
		Args:    args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			d, err := c.DiffBaselines(cmd.Context(), a[0], a[1])
			if err != nil {
				return err
			}
			return o.emit(cmd, d, func(w io.Writer) {
				fmt.Fprintln(w, "PRODUCT\tCHANGE\tFROM\tTO")
				for _, ch := range d.Changes {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", ch.Product, ch.Change, dash(ch.From), dash(ch.To))
				}
			})
		},
	}
	cmd.AddCommand(create, list, show, diff)
	return o.bind(cmd)
}

func baselineTable(b *client.Baseline) func(io.Writer) {
	return func(w io.Writer) {
		fmt.Fprintf(w, "Baseline:\t%s\nDescription:\t%s\nChange:\t%s\nCreated:\t%s at %s\nManifest:\t%s\n\n",
			b.Name, dash(b.Description), dash(b.ChangeID), b.CreatedBy, shortTime(b.CreatedAt), b.ManifestDigest)
		fmt.Fprintln(w, "PRODUCT\tVERSION\tTYPE\tSTATE NOW")
		for _, m := range b.Releases {
			state := dash(m.State)
			if m.Withdrawn {
				state = "WITHDRAWN"
			} else if m.SupersededBy != "" {
				state += " (superseded by " + m.SupersededBy + ")"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", m.Product, m.Version, m.Type, state)
		}
	}
}
