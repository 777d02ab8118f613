package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reliquary/reliquary/api/client"
)

func newProductCmd(o *cliOpts) *cobra.Command {
	cmd := groupCmd("product", "Create, list and show products (admin)", `  reliquary product create hr --owner "HR team" --ci-id CI-HR
  reliquary product list`)
	var in client.ProductInput
	create := &cobra.Command{
		Use:     "create <name>",
		Short:   "Create a product with the default policy",
		Example: `  reliquary product create hr --description "HR portal" --owner hr-team --ci-id CI-0042`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			in.Name = a[0]
			p, err := c.CreateProduct(cmd.Context(), in)
			if err != nil {
				return err
			}
			return o.emit(cmd, p, productTable(p))
		},
	}
	create.Flags().StringVar(&in.Description, "description", "", "what the product is")
	create.Flags().StringVar(&in.Owner, "owner", "", "who owns it")
	create.Flags().StringVar(&in.CIID, "ci-id", "", "its configuration item in the CMDB")

	list := &cobra.Command{
		Use:     "list",
		Short:   "List the products",
		Example: `  reliquary product list -o json`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			ps, err := c.Products(cmd.Context())
			if err != nil {
				return err
			}
			return o.emit(cmd, ps, func(w io.Writer) {
				fmt.Fprintln(w, "NAME\tOWNER\tCI\tDESCRIPTION\tCREATED")
				for _, p := range ps {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", p.Name, dash(p.Owner), dash(p.CIID), dash(p.Description), shortTime(p.CreatedAt))
				}
			})
		},
	}
	show := &cobra.Command{
		Use:     "show <name>",
		Short:   "Show a product and its policy",
		Example: `  reliquary product show hr`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			p, err := c.Product(cmd.Context(), a[0])
			if err != nil {
				return err
			}
			return o.emit(cmd, p, productTable(p))
		},
	}
	cmd.AddCommand(create, list, show)
	return o.bind(cmd)
}

func productTable(p *client.Product) func(io.Writer) {
	return func(w io.Writer) {
		fmt.Fprintf(w, "Product:\t%s\nDescription:\t%s\nOwner:\t%s\nCI:\t%s\nCreated:\t%s at %s\n",
			p.Name, dash(p.Description), dash(p.Owner), dash(p.CIID), p.CreatedBy, shortTime(p.CreatedAt))
		policyTable(&p.Policy)(w)
	}
}

func policyTable(p *client.Policy) func(io.Writer) {
	return func(w io.Writer) {
		fmt.Fprintf(w, "Required approvals:\t%d\nFour eyes:\t%t\nRequire change ID:\t%t\n", p.RequiredApprovals, p.FourEyes, p.RequireChangeID)
		fmt.Fprintf(w, "Supported majors:\t%d\nSupported minors:\t%d\n", p.SupportedMajors, p.SupportedMinors)
		fmt.Fprintf(w, "Allowed types:\t%s\nMax artifact size:\t%s\n", strings.Join(p.AllowedTypes, ", "), humanBytes(p.MaxArtifactBytes))
		if r := p.Retention; r != nil {
			fmt.Fprintf(w, "Retention, drafts:\t%s\nRetention, candidates:\t%s\n",
				orOff(r.DraftsDays, "deleted after %d days untouched"), orOff(r.CandidatesKeep, "newest %d of each minor line kept"))
		}
		policyEvidenceTable(w, p)
	}
}

// orOff formats a retention rule, "off" when zero.
func orOff(n int, format string) string {
	if n == 0 {
		return "off"
	}
	return fmt.Sprintf(format, n)
}

func newPolicyCmd(o *cliOpts) *cobra.Command {
	cmd := groupCmd("policy", "Show or change a product's release policy", `  reliquary policy get hr
  reliquary policy set hr --required-approvals 2 --allowed-types emergency`)
	get := &cobra.Command{
		Use:     "get <product>",
		Short:   "Show a product's release policy",
		Example: `  reliquary policy get hr -o json > policy.json`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			p, err := c.Product(cmd.Context(), a[0])
			if err != nil {
				return err
			}
			return o.emit(cmd, p.Policy, policyTable(&p.Policy))
		},
	}
	var (
		file                       string
		approvals, majors, minors  int
		fourEyes, changeID         bool
		types                      []string
		maxBytes                   int64
		draftsDays, candidatesKeep int
	)
	var attestationKeyFiles, requiredAttestations []string
	set := &cobra.Command{
		Use:   "set <product>",
		Short: "Change a product's release policy (admin)",
		Long: `Change a product's release policy. The flags given change those settings and keep the others;
--file replaces the whole policy with a JSON document (- for stdin; absent fields take the
defaults), as printed by policy get -o json.`,
		Example: `  reliquary policy set hr --required-approvals 2 --four-eyes=true
  reliquary policy set hr --allowed-types emergency          # a change freeze
  reliquary policy set hr --supported-majors 2 --supported-minors 2
  reliquary policy get hr -o json | jq '.require_change_id=false' | reliquary policy set hr --file -`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			fl := cmd.Flags()
			var in client.PolicyInput
			if file != "" {
				if fl.NFlag() > 0 && (fl.Changed("required-approvals") || fl.Changed("four-eyes") || fl.Changed("require-change-id") ||
					fl.Changed("supported-majors") || fl.Changed("supported-minors") || fl.Changed("allowed-types") || fl.Changed("max-artifact-bytes") ||
					fl.Changed("retention-drafts-days") || fl.Changed("retention-candidates-keep") ||
					fl.Changed("attestation-key") || fl.Changed("required-attestations")) {
					return usageError{errors.New("--file replaces the whole policy: give no other policy flags with it")}
				}
				if err := readPolicyFile(cmd, file, &in); err != nil {
					return err
				}
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			if file == "" {
				cur, err := c.Product(cmd.Context(), a[0])
				if err != nil {
					return err
				}
				in = cur.Policy.Input()
				changed := false
				setIf := func(name string, apply func()) {
					if fl.Changed(name) {
						apply()
						changed = true
					}
				}
				setIf("required-approvals", func() { in.RequiredApprovals = &approvals })
				setIf("four-eyes", func() { in.FourEyes = &fourEyes })
				setIf("require-change-id", func() { in.RequireChangeID = &changeID })
				setIf("supported-majors", func() { in.SupportedMajors = &majors })
				setIf("supported-minors", func() { in.SupportedMinors = &minors })
				setIf("allowed-types", func() { in.AllowedTypes = types })
				setIf("max-artifact-bytes", func() { in.MaxArtifactBytes = &maxBytes })
				setRetention := func(apply func(r *client.RetentionPolicy)) {
					r := client.RetentionPolicy{}
					if in.Retention != nil {
						r = *in.Retention
					}
					apply(&r)
					in.Retention = &r
					if r == (client.RetentionPolicy{}) {
						in.Retention = nil // both rules off: no retention
					}
				}
				setIf("retention-drafts-days", func() { setRetention(func(r *client.RetentionPolicy) { r.DraftsDays = draftsDays }) })
				setIf("retention-candidates-keep", func() { setRetention(func(r *client.RetentionPolicy) { r.CandidatesKeep = candidatesKeep }) })
				if fl.Changed("attestation-key") {
					keys, err := readAttestationKeys(attestationKeyFiles)
					if err != nil {
						return err
					}
					setIf("attestation-key", func() { in.AttestationKeys = keys })
				}
				setIf("required-attestations", func() { in.RequiredAttestations = requiredAttestations })
				if !changed {
					return usageError{errors.New("nothing to change: give policy flags or --file")}
				}
			}
			p, err := c.SetPolicy(cmd.Context(), a[0], in)
			if err != nil {
				return err
			}
			return o.emit(cmd, p.Policy, policyTable(&p.Policy))
		},
	}
	fl := set.Flags()
	fl.StringVar(&file, "file", "", "JSON policy document replacing the whole policy (- for stdin)")
	fl.IntVar(&draftsDays, "retention-drafts-days", 0, "retention: delete drafts untouched for more than this many days (0: never)")
	fl.IntVar(&candidatesKeep, "retention-candidates-keep", 0, "retention: keep the newest K candidate/approved releases of each minor line, delete older ones (0: keep all)")
	fl.IntVar(&approvals, "required-approvals", 1, "distinct approvals needed (1-10)")
	fl.BoolVar(&fourEyes, "four-eyes", true, "whoever created or sealed a release cannot approve it")
	fl.BoolVar(&changeID, "require-change-id", true, "promote and withdraw need a change ID")
	fl.IntVar(&majors, "supported-majors", 1, "newest major lines kept current")
	fl.IntVar(&minors, "supported-minors", 1, "newest minor lines per major kept current")
	fl.StringSliceVar(&types, "allowed-types", nil, "release types that may be created: major, minor, emergency")
	fl.Int64Var(&maxBytes, "max-artifact-bytes", 0, "largest artifact in bytes")
	fl.StringArrayVar(&attestationKeyFiles, "attestation-key", nil, "PEM public key file (cosign.pub) attestations must be signed with; repeat for several; replaces the list")
	fl.StringSliceVar(&requiredAttestations, "required-attestations", nil, "predicate types a release needs attestations of before approval (empty: none)")
	cmd.AddCommand(get, set)
	return o.bind(cmd)
}

func readPolicyFile(cmd *cobra.Command, file string, in *client.PolicyInput) error {
	var r io.Reader
	if file == "-" {
		r = cmd.InOrStdin()
	} else {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(in); err != nil {
		return usageError{fmt.Errorf("--file %s: %w", file, err)}
	}
	return nil
}

func newTokenCmd(o *cliOpts) *cobra.Command {
	cmd := groupCmd("token", "Create, list and revoke API tokens (admin)", `  reliquary token create --name ci --role publisher --product hr
  reliquary token list
  reliquary token revoke tok_0123`)
	var in client.TokenInput
	create := &cobra.Command{
		Use:   "create --name <name> --role <role> [--product <p>...]",
		Short: "Create a token; its secret is shown once",
		Long: `Create a token. The name identifies the person or pipeline behind it (the journal's actor; the
four-eyes rule compares names). Roles, each with the rights of those before it: reader, deployer,
publisher, release-manager, admin. --product confines the token to products.`,
		Example: `  reliquary token create --name alice --role release-manager
  reliquary token create --name ci-hr --role publisher --product hr -o json | jq -r .secret`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in.Name == "" || in.Role == "" {
				return usageError{errors.New("--name and --role are required")}
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			t, err := c.CreateToken(cmd.Context(), in)
			if err != nil {
				return err
			}
			return o.emitAlways(cmd, t, func(w io.Writer) {
				fmt.Fprintf(w, "ID:\t%s\nName:\t%s\nRole:\t%s\nProducts:\t%s\nSecret:\t%s\n", t.ID, t.Name, t.Role,
					dash(strings.Join(t.Products, ", ")), t.Secret)
				fmt.Fprintln(w, "\nThe secret is shown only once: store it now.")
			})
		},
	}
	create.Flags().StringVar(&in.Name, "name", "", "who the token acts for (required)")
	create.Flags().StringVar(&in.Role, "role", "", "reader, deployer, publisher, release-manager or admin (required)")
	create.Flags().StringSliceVar(&in.Products, "product", nil, "confine the token to this product (repeatable)")
	create.Flags().StringVar(&in.TTL, "ttl", "", "expire the token after this long, e.g. 720h (default: never)")

	list := &cobra.Command{
		Use:     "list",
		Short:   "List tokens (never their secrets)",
		Example: `  reliquary token list -o json`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			ts, err := c.Tokens(cmd.Context())
			if err != nil {
				return err
			}
			return o.emit(cmd, ts, func(w io.Writer) {
				fmt.Fprintln(w, "ID\tNAME\tROLE\tPRODUCTS\tCREATED BY\tCREATED\tEXPIRES\tLAST USED")
				for _, t := range ts {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, dash(strings.Join(t.Products, ",")), t.CreatedBy, shortTime(t.CreatedAt),
						optTime(t.ExpiresAt), optTime(t.LastUsedAt))
				}
			})
		},
	}
	revoke := &cobra.Command{
		Use:     "revoke <id>",
		Short:   "Revoke a token",
		Example: `  reliquary token revoke tok_0123`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			if err := c.RevokeToken(cmd.Context(), a[0]); err != nil {
				return err
			}
			return o.emit(cmd, map[string]any{"id": a[0], "revoked": true}, func(w io.Writer) {
				fmt.Fprintf(w, "revoked token %s\n", a[0])
			})
		},
	}
	cmd.AddCommand(create, list, revoke)
	cmd.AddCommand(newTokenResetAdminCmd())
	return o.bind(cmd)
}
