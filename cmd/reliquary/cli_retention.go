package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/reliquary/reliquary/api/client"
)

// newReleaseCmd holds commands on one release that have no verb of their
// own at the top level.
func newReleaseCmd(o *cliOpts) *cobra.Command {
	cmd := groupCmd("release", "Delete a release that was never released", `  reliquary release delete hr@1.3.0-rc.2`)
	del := &cobra.Command{
		Use:   "delete <product>@<version>",
		Short: "Delete a draft (publisher), candidate or approved release (release manager)",
		Long: `Delete a release that was never released, with its artifacts, manifest and evidence.
Released and withdrawn releases are the definitive record and can never be deleted
(RELEASE_PROTECTED), nor can a release that a baseline or a deployment record names.
The deletion is journaled; the same version can be created again afterwards.`,
		Example: `  reliquary release delete hr@1.3.0-rc.2`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			r, c, err := o.refAndClient(a[0])
			if err != nil {
				return err
			}
			d, err := c.DeleteRelease(cmd.Context(), r.product, r.version)
			if err != nil {
				return err
			}
			return o.emit(cmd, d, func(w io.Writer) {
				fmt.Fprintf(w, "Deleted:\t%s@%s (%s)\nArtifacts:\t%d (%s)\nJournal seq:\t%d\n",
					d.Product, d.Version, d.State, d.Artifacts, humanBytes(d.Bytes), d.Seq)
			})
		},
	}
	cmd.AddCommand(o.bind(del))
	return cmd
}

func newRetentionCmd(o *cliOpts) *cobra.Command {
	cmd := groupCmd("retention", "Apply the products' retention policies (admin)", `  reliquary retention run --dry-run
  reliquary retention run`)
	var dry bool
	run := &cobra.Command{
		Use:   "run",
		Short: "Delete now what the retention policies say may go (--dry-run: only list it)",
		Long: `Apply every product's retention policy (policy.retention): drafts untouched for more than
drafts_days days, and candidate or approved releases beyond the newest candidates_keep of
their minor line, are deleted. Never deleted: released or withdrawn releases, baseline
members, releases with a deployment record, releases younger than a day. --dry-run
changes nothing and lists exactly what a run would delete, and what it keeps and why.`,
		Example: `  reliquary policy set hr --retention-drafts-days 30 --retention-candidates-keep 3
  reliquary retention run --dry-run
  reliquary retention run -o json | jq '.deleted[] | "\(.product)@\(.version)"'`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			rep, err := c.RunRetention(cmd.Context(), dry)
			if err != nil {
				return err
			}
			return o.emit(cmd, rep, retentionTable(rep))
		},
	}
	run.Flags().BoolVar(&dry, "dry-run", false, "only list what would be deleted and what is kept")
	cmd.AddCommand(o.bind(run))
	return cmd
}

func retentionTable(rep *client.RetentionReport) func(io.Writer) {
	return func(w io.Writer) {
		verb := "DELETED"
		if rep.DryRun {
			verb = "WOULD DELETE"
		}
		fmt.Fprintln(w, "RELEASE\tSTATE\tDECISION\tWHY")
		for _, it := range rep.Deleted {
			fmt.Fprintf(w, "%s@%s\t%s\t%s\t%s\n", it.Product, it.Version, it.State, verb, it.Detail)
		}
		for _, it := range rep.Kept {
			fmt.Fprintf(w, "%s@%s\t%s\tkept (%s)\t%s\n", it.Product, it.Version, it.State, it.Rule, it.Detail)
		}
		freed := "freed"
		if rep.DryRun {
			freed = "would be freed"
		}
		fmt.Fprintf(w, "\n%d deleted, %d kept, %s %s\n", len(rep.Deleted), len(rep.Kept), humanBytes(rep.BytesFreed), freed)
	}
}
