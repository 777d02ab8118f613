package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/reliquary/reliquary/api/client"
)

func newPublisherCmd(o *cliOpts) *cobra.Command {
	cmd := groupCmd("publisher", "Trusted publishers: CI workflows that publish with their OIDC ID token (admin)",
		`  reliquary publisher create hr --issuer https://token.actions.githubusercontent.com \
      --claim repository=org/hr --claim 'ref=refs/tags/v*' --role publisher
  reliquary publisher list hr
  reliquary publisher delete hr tp_0123`)
	var in client.PublisherInput
	var claims []string
	create := &cobra.Command{
		Use:   "create <product> --issuer <url> --claim name=value... [--audience reliquary] [--role publisher] [--versions <constraint>]",
		Short: "Let a CI workflow's ID tokens publish to a product",
		Long: `Register a trusted publisher: ID tokens of --issuer whose aud contains --audience and whose claims
match every --claim (exactly, or by * globs) may be exchanged for a short-lived token with --role on
the product. --versions limits the releases those tokens may create.`,
		Example: `  reliquary publisher create hr --issuer https://token.actions.githubusercontent.com \
      --claim repository=org/hr --claim 'ref=refs/tags/v*' --versions '^1'
  reliquary publisher create hr --issuer https://gitlab.example.com --claim project_path=org/hr --claim ref_protected=true`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			in.Claims = map[string]string{}
			for _, kv := range claims {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return usageError{fmt.Errorf("--claim %q: expected name=value", kv)}
				}
				in.Claims[k] = v
			}
			if in.Issuer == "" || len(in.Claims) == 0 {
				return usageError{errors.New("--issuer and at least one --claim are required")}
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			p, err := c.CreatePublisher(cmd.Context(), a[0], in)
			if err != nil {
				return err
			}
			return o.emit(cmd, p, func(w io.Writer) { publisherTable(w, []client.Publisher{*p}) })
		},
	}
	f := create.Flags()
	f.StringVar(&in.Issuer, "issuer", "", "the ID tokens' iss, e.g. https://token.actions.githubusercontent.com (required)")
	f.StringVar(&in.Audience, "audience", client.DefaultOIDCAudience, "the aud the CI job requests")
	f.StringArrayVar(&claims, "claim", nil, "name=value a claim must match; * globs (repeatable, at least one)")
	f.StringVar(&in.Role, "role", "publisher", "publisher or deployer")
	f.StringVar(&in.Versions, "versions", "", "SemVer constraint on the releases the minted tokens may create")

	list := &cobra.Command{
		Use:     "list <product>",
		Short:   "List a product's trusted publishers",
		Example: `  reliquary publisher list hr -o json`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			ps, err := c.Publishers(cmd.Context(), a[0])
			if err != nil {
				return err
			}
			return o.emit(cmd, ps, func(w io.Writer) { publisherTable(w, ps) })
		},
	}
	del := &cobra.Command{
		Use:     "delete <product> <id>",
		Short:   "Delete a trusted publisher",
		Example: `  reliquary publisher delete hr tp_0123456789abcdef`,
		Args:    args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			if err := c.DeletePublisher(cmd.Context(), a[0], a[1]); err != nil {
				return err
			}
			return o.emit(cmd, map[string]any{"id": a[1], "deleted": true}, func(w io.Writer) {
				fmt.Fprintf(w, "deleted trusted publisher %s of %s\n", a[1], a[0])
			})
		},
	}
	cmd.AddCommand(create, list, del)
	return o.bind(cmd)
}

func publisherTable(w io.Writer, ps []client.Publisher) {
	fmt.Fprintln(w, "ID\tROLE\tISSUER\tAUDIENCE\tCLAIMS\tVERSIONS")
	for _, p := range ps {
		var cl []string
		for _, k := range slices.Sorted(maps.Keys(p.Claims)) {
			cl = append(cl, k+"="+p.Claims[k])
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.Role, p.Issuer, p.Audience, strings.Join(cl, " "), dash(p.Versions))
	}
}

// optTime formats an optional time ("-" for none).
func optTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return shortTime(*t)
}
