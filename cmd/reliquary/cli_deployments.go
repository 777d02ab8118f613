package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/reliquary/reliquary/api/client"
)

func newDeployCmd(o *cliOpts) *cobra.Command {
	cmd := groupCmd("deploy", "Record and query deployments (installers)", `  reliquary deploy record hr@1.2.0 --env production --target web-1 --status succeeded
  reliquary deploy env production`)
	var in client.DeploymentInput
	var details string
	record := &cobra.Command{
		Use:   "record <product>@<version> --env <environment> --target <target> --status <status>",
		Short: "Record an installation (deployer)",
		Long: `Record that a release was installed on a target of an environment: succeeded, failed or
rolled_back. It answers "where is 1.4.2 installed?" and "what runs in production?".`,
		Example: `  reliquary deploy record hr@1.2.0 --env production --target web-1 --status succeeded --change-id CHG-1042
  reliquary deploy record hr@1.2.1 --env production --target web-1 --status failed --details '{"log":"..."}'`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			r, err := parseRef(a[0], true)
			if err != nil {
				return err
			}
			if in.Environment == "" || in.Target == "" {
				return usageError{errors.New("--env and --target are required")}
			}
			switch in.Status {
			case client.DeploySucceeded, client.DeployFailed, client.DeployRolledBack:
			default:
				return usageError{fmt.Errorf("--status %q: use succeeded, failed or rolled_back", in.Status)}
			}
			if details != "" {
				if !json.Valid([]byte(details)) {
					return usageError{errors.New("--details must be JSON")}
				}
				in.Details = json.RawMessage(details)
			}
			in.Product, in.Version = r.product, r.version
			c, err := o.client()
			if err != nil {
				return err
			}
			d, err := c.RecordDeployment(cmd.Context(), in)
			if err != nil {
				return err
			}
			return o.emit(cmd, d, func(w io.Writer) {
				fmt.Fprintf(w, "recorded deployment %d: %s@%s %s on %s/%s\n", d.ID, d.Product, d.Version, d.Status, d.Environment, d.Target)
			})
		},
	}
	fl := record.Flags()
	fl.StringVar(&in.Environment, "env", "", "environment, e.g. production (required)")
	fl.StringVar(&in.Target, "target", "", "host, cluster or namespace installed on (required)")
	fl.StringVar(&in.Status, "status", client.DeploySucceeded, "succeeded, failed or rolled_back")
	fl.StringVar(&in.ChangeID, "change-id", "", "change (RFC) the deployment belongs to")
	fl.StringVar(&details, "details", "", "free JSON details (a log excerpt, a pipeline URL)")

	var f client.DeploymentFilter
	list := &cobra.Command{
		Use:   "list [--product p [--version v]] [--env e] [--target t]",
		Short: "List deployment records, newest first",
		Example: `  reliquary deploy list --product hr --version 1.4.2     # where is 1.4.2 installed?
  reliquary deploy list --env production -o json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			page, err := c.Deployments(cmd.Context(), f)
			if err != nil {
				return err
			}
			return o.emit(cmd, page.Deployments, func(w io.Writer) {
				fmt.Fprintln(w, "ID\tRELEASE\tENVIRONMENT\tTARGET\tSTATUS\tCHANGE\tBY\tAT")
				for _, d := range page.Deployments {
					fmt.Fprintf(w, "%d\t%s@%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Product, d.Version, d.Environment, d.Target, d.Status,
						dash(d.ChangeID), d.RecordedBy, shortTime(d.RecordedAt))
				}
			})
		},
	}
	lf := list.Flags()
	lf.StringVar(&f.Product, "product", "", "only this product")
	lf.StringVar(&f.Version, "version", "", "only this version (needs --product)")
	lf.StringVar(&f.Environment, "env", "", "only this environment")
	lf.StringVar(&f.Target, "target", "", "only this target")
	lf.IntVar(&f.Limit, "limit", 0, "at most this many records (default: the server's page)")

	env := &cobra.Command{
		Use:     "env <environment>",
		Short:   "Show what runs in an environment, flagging superseded and withdrawn releases",
		Example: `  reliquary deploy env production`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			e, err := c.Environment(cmd.Context(), a[0])
			if err != nil {
				return err
			}
			return o.emit(cmd, e, func(w io.Writer) {
				fmt.Fprintln(w, "PRODUCT\tTARGET\tVERSION\tSTATUS\tRELEASE NOW\tDEPLOYED BY\tAT")
				for _, i := range e.Installs {
					now := i.State
					switch {
					case i.Withdrawn:
						now = "WITHDRAWN"
					case i.Superseded:
						now = "superseded by " + i.SupersededBy
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", i.Product, i.Target, i.Version, i.Status, now, i.DeployedBy, shortTime(i.DeployedAt))
				}
			})
		},
	}
	cmd.AddCommand(record, list, env)
	return o.bind(cmd)
}
