package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reliquary/reliquary/api/client"
)

func newReleasesCmd(o *cliOpts) *cobra.Command {
	var f client.ReleaseFilter
	var limit int
	cmd := &cobra.Command{
		Use:   "releases <product>",
		Short: "List a product's releases, newest first",
		Example: `  reliquary releases hr
  reliquary releases hr --state released
  reliquary releases hr --constraint '^1.2' --type emergency -o json`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			list, err := c.AllReleases(cmd.Context(), a[0], f, limit)
			if err != nil {
				return err
			}
			if list == nil {
				list = []client.Release{}
			}
			return o.emit(cmd, list, func(w io.Writer) {
				fmt.Fprintln(w, "VERSION\tTYPE\tSTATE\tSUPERSEDED BY\tCHANGE\tCREATED BY\tCREATED")
				for _, r := range list {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Version, r.Type, r.State, dash(r.SupersededBy),
						dash(r.ChangeID), r.CreatedBy, shortTime(r.CreatedAt))
				}
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.State, "state", "", "only releases in this state (draft, candidate, approved, released, withdrawn)")
	fl.StringVar(&f.Type, "type", "", "only releases of this type (major, minor, emergency)")
	fl.StringVar(&f.Constraint, "constraint", "", "only versions matching a SemVer constraint, e.g. ^1.2")
	fl.StringVar(&f.Label, "label", "", "only releases with this label, key=value or key:value")
	fl.IntVar(&limit, "limit", 0, "at most this many releases (0: all)")
	return o.bind(cmd)
}

func newShowCmd(o *cliOpts) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show <product>@<version>",
		Short: "Show one release: state, approvals, artifacts, evidence and history",
		Example: `  reliquary show hr@1.2.0
  reliquary show hr@1.2.0 -o json | jq .artifacts`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			r, c, err := o.refAndClient(a[0])
			if err != nil {
				return err
			}
			rel, err := c.Release(cmd.Context(), r.product, r.version)
			if err != nil {
				return err
			}
			evidence, err := releaseEvidence(cmd.Context(), c, rel)
			if err != nil {
				return err
			}
			return o.emit(cmd, rel, func(w io.Writer) {
				releaseTable(w, rel)
				if len(evidence) > 0 {
					fmt.Fprintln(w, "\nEVIDENCE")
					attestationTable(w, evidence)
				}
			})
		},
	}
	return o.bind(cmd)
}

func releaseTable(w io.Writer, r *client.Release) {
	kv := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%s:\t%s\n", k, v)
		}
	}
	kv("Release", r.Product+"@"+r.Version)
	kv("Type", r.Type)
	kv("State", r.State)
	kv("Superseded by", r.SupersededBy)
	kv("Change", r.ChangeID)
	kv("CIs", strings.Join(r.CIIDs, ", "))
	if len(r.Labels) > 0 {
		var ls []string
		for k, v := range r.Labels {
			ls = append(ls, k+"="+v)
		}
		sort.Strings(ls)
		kv("Labels", strings.Join(ls, ", "))
	}
	kv("Notes", r.Notes)
	kv("Created", r.CreatedBy+" at "+shortTime(r.CreatedAt))
	if r.SealedAt != nil {
		kv("Sealed", r.SealedBy+" at "+shortTime(*r.SealedAt))
	}
	kv("Manifest", r.ManifestDigest)
	for _, a := range r.Approvals {
		kv("Approved", a.By+" at "+shortTime(a.At)+" "+a.Comment)
	}
	if r.ReleasedAt != nil {
		kv("Released", r.ReleasedBy+" at "+shortTime(*r.ReleasedAt))
	}
	if r.Withdrawn != nil {
		kv("Withdrawn", fmt.Sprintf("%s at %s: %s (%s)", r.Withdrawn.By, shortTime(r.Withdrawn.At), r.Withdrawn.Reason, dash(r.Withdrawn.ChangeID)))
	}
	fmt.Fprintln(w, "\nARTIFACT\tSIZE\tOS/ARCH\tSHA256\tMEDIA TYPE")
	for _, a := range r.Artifacts {
		fmt.Fprintf(w, "%s\t%s\t%s/%s\t%s\t%s\n", a.Name, humanBytes(a.Size), dash(a.OS), dash(a.Arch), a.SHA256, a.MediaType)
	}
	fmt.Fprintln(w, "\nTIME\tFROM\tTO\tACTOR\tCHANGE\tCOMMENT")
	for _, h := range r.History {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", shortTime(h.Time), dash(h.From), h.To, h.Actor, dash(h.ChangeID), h.Comment)
	}
}

// transitionTable is the short answer of approve, promote and withdraw.
func transitionTable(r *client.Release) func(io.Writer) {
	return func(w io.Writer) {
		fmt.Fprintf(w, "%s@%s is %s", r.Product, r.Version, r.State)
		if r.State == client.StateCandidate && len(r.Approvals) > 0 {
			fmt.Fprintf(w, " (%d approval(s); more are needed)", len(r.Approvals))
		}
		if r.SupersededBy != "" {
			fmt.Fprintf(w, ", superseded by %s", r.SupersededBy)
		}
		fmt.Fprintln(w)
	}
}

func newApproveCmd(o *cliOpts) *cobra.Command {
	var comment string
	cmd := &cobra.Command{
		Use:   "approve <product>@<version>",
		Short: "Approve a sealed release (release manager)",
		Long: `Record your approval of a sealed release. It becomes approved when the product's policy's
required number of distinct approvers is reached. With four-eyes (the default) whoever created or
sealed the release cannot approve it.`,
		Example: `  reliquary approve hr@1.2.0
  reliquary approve hr@1.2.0 --comment "tested in staging"`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			r, c, err := o.refAndClient(a[0])
			if err != nil {
				return err
			}
			rel, err := c.Approve(cmd.Context(), r.product, r.version, comment)
			if err != nil {
				return err
			}
			return o.emit(cmd, rel, transitionTable(rel))
		},
	}
	cmd.Flags().StringVar(&comment, "comment", "", "comment recorded with the approval")
	return o.bind(cmd)
}

func newPromoteCmd(o *cliOpts) *cobra.Command {
	var in client.PromoteInput
	var ro promoteRollout
	cmd := &cobra.Command{
		Use:   "promote <product>@<version> --to released --change-id <id>",
		Short: "Release an approved release (release manager)",
		Long: `Promote an approved release to released, authorised by a change (required unless the product's
policy says otherwise). Supersession is recomputed: installers asking for the current release of a
line get this one from now on.`,
		Example: `  reliquary promote hr@1.2.0 --to released --change-id CHG-1042
  reliquary promote hr@1.2.0 --change-id CHG-1042 --comment "go-live approved by CAB"`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			r, err := parseRef(a[0], true)
			if err != nil {
				return err
			}
			if in.To != client.StateReleased {
				return usageError{fmt.Errorf("--to %q: the only target is released", in.To)}
			}
			if in.Rollout, err = ro.input(cmd); err != nil {
				return err
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			rel, err := c.Promote(cmd.Context(), r.product, r.version, in)
			if err != nil {
				return err
			}
			return o.emit(cmd, rel, transitionTable(rel))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&in.To, "to", client.StateReleased, "target state (released)")
	fl.StringVar(&in.ChangeID, "change-id", "", "change (RFC) that authorises the release")
	fl.StringVar(&in.Comment, "comment", "", "comment recorded in the history")
	ro.bind(cmd)
	return o.bind(cmd)
}

func newWithdrawCmd(o *cliOpts) *cobra.Command {
	var in client.WithdrawInput
	cmd := &cobra.Command{
		Use:   "withdraw <product>@<version> --reason <text> --change-id <id>",
		Short: "Back a release out (release manager)",
		Long: `Withdraw a sealed release. It stays downloadable by exact version for forensics, but no
resolution returns it any more: installers asking for the current release get the one it had
superseded (the rollback path).`,
		Example: `  reliquary withdraw hr@1.2.1 --reason "data loss on upgrade" --change-id CHG-1050`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			r, err := parseRef(a[0], true)
			if err != nil {
				return err
			}
			if strings.TrimSpace(in.Reason) == "" {
				return usageError{errors.New("--reason is required")}
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			rel, err := c.Withdraw(cmd.Context(), r.product, r.version, in)
			if err != nil {
				return err
			}
			return o.emit(cmd, rel, transitionTable(rel))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&in.Reason, "reason", "", "why the release is withdrawn (required)")
	fl.StringVar(&in.ChangeID, "change-id", "", "change (RFC) that authorises the withdrawal")
	return o.bind(cmd)
}
