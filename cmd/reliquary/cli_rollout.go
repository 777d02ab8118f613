package main

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/reliquary/reliquary/api/client"
)

// Rollout: pilots, canaries and deadlines (DESIGN.md §14).

func newRolloutCmd(o *cliOpts) *cobra.Command {
	cmd := groupCmd("rollout", "Release to pilots first, widen by percentage, set a deadline (release manager)",
		`  reliquary rollout set hr@1.3.0 --percent 10 --pilot web-01 --environment staging
  reliquary rollout show hr@1.3.0`)

	var (
		in            client.RolloutInput
		percent       int
		requiredAfter string
	)
	set := &cobra.Command{
		Use:   "set <product>@<version> [--percent N] [--pilot target]... [--environment env]... [--required-after time]",
		Short: "Replace the rollout plan of a released release (release manager)",
		Long: `Replace the rollout plan of a released release. Below 100%, installers resolving the product get
this release only when they are one of its pilots, resolve for one of its environments, or their
target falls in the percentage (a stable per-target bucket, so raising the percentage only adds
targets); everyone else keeps the newest fully rolled-out release. --percent defaults to 0 (pilots
and environments only). --required-after (an RFC 3339 time, or a duration from now such as 72h)
makes resolve answer "required" for targets still below this release after that time. The plan
replaces the previous one whole, and clears an automatic halt.`,
		Example: `  reliquary rollout set hr@1.3.0 --pilot web-01 --pilot web-02          # pilots only
  reliquary rollout set hr@1.3.0 --percent 25 --environment staging
  reliquary rollout set hr@1.3.0 --percent 100 --required-after 2026-12-24T00:00:00Z`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			r, err := parseRef(a[0], true)
			if err != nil {
				return err
			}
			if percent < 0 || percent > 100 {
				return usageError{fmt.Errorf("--percent %d: use 0 to 100", percent)}
			}
			in.Percent = &percent
			if in.RequiredAfter, err = parseDeadline(requiredAfter, time.Now()); err != nil {
				return usageError{err}
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			v, err := c.SetRollout(cmd.Context(), r.product, r.version, in)
			if err != nil {
				return err
			}
			return o.emit(cmd, v, rolloutTable(v))
		},
	}
	fl := set.Flags()
	fl.IntVar(&percent, "percent", 0, "share of targets that get the release (0-100)")
	fl.StringSliceVar(&in.Pilots, "pilot", nil, "a target that always gets the release (repeat, or comma-separated)")
	fl.StringSliceVar(&in.Environments, "environment", nil, "an environment whose installers always get the release (repeat)")
	fl.StringVar(&requiredAfter, "required-after", "", "deadline after which the release is required: RFC 3339 time or a duration from now (72h)")

	show := &cobra.Command{
		Use:     "show <product>@<version>",
		Short:   "Show a release's rollout plan and deployment counts per environment",
		Example: `  reliquary rollout show hr@1.3.0 -o json`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			r, c, err := o.refAndClient(a[0])
			if err != nil {
				return err
			}
			v, err := c.Rollout(cmd.Context(), r.product, r.version)
			if err != nil {
				return err
			}
			return o.emit(cmd, v, rolloutTable(v))
		},
	}
	cmd.AddCommand(o.bind(set), o.bind(show))
	return cmd
}

// parseDeadline turns --required-after into RFC 3339: "" stays "", a
// duration counts from now, anything else must be RFC 3339 already.
func parseDeadline(s string, now time.Time) (string, error) {
	if s == "" {
		return "", nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(d).UTC().Format(time.RFC3339), nil
	}
	if _, err := time.Parse(time.RFC3339, s); err != nil {
		return "", fmt.Errorf("--required-after %q: give an RFC 3339 time (2026-12-24T00:00:00Z) or a duration (72h)", s)
	}
	return s, nil
}

func rolloutTable(v *client.RolloutView) func(io.Writer) {
	return func(w io.Writer) {
		state := fmt.Sprintf("%d%%", v.Percent)
		if v.FullyRolledOut {
			state = "100% (fully rolled out)"
		}
		if v.Halted != nil {
			state = fmt.Sprintf("%d%% (HALTED at %s: %d of %d deployments failed, was %d%%)", v.Percent, shortTime(v.Halted.At),
				v.Halted.Failed, v.Halted.Deployments, v.Halted.PreviousPercent)
		}
		fmt.Fprintf(w, "RELEASE\t%s@%s (%s)\n", v.Product, v.Version, v.State)
		fmt.Fprintf(w, "ROLLOUT\t%s\n", state)
		fmt.Fprintf(w, "PILOTS\t%s\n", dash(strings.Join(v.Pilots, ", ")))
		fmt.Fprintf(w, "ENVIRONMENTS\t%s\n", dash(strings.Join(v.Environments, ", ")))
		if v.RequiredAfter != nil {
			fmt.Fprintf(w, "REQUIRED AFTER\t%s\n", v.RequiredAfter.UTC().Format(time.RFC3339))
		}
		fmt.Fprintf(w, "UPDATED\t%s by %s\n", shortTime(v.UpdatedAt), dash(v.UpdatedBy))
		fmt.Fprintln(w, "\nENVIRONMENT\tSUCCEEDED\tFAILED\tROLLED BACK")
		envs := make([]string, 0, len(v.Deployments))
		for e := range v.Deployments {
			envs = append(envs, e)
		}
		slices.Sort(envs)
		for _, e := range envs {
			c := v.Deployments[e]
			fmt.Fprintf(w, "%s\t%d\t%d\t%d\n", e, c.Succeeded, c.Failed, c.RolledBack)
		}
		fmt.Fprintf(w, "(total)\t%d\t%d\t%d\n", v.Totals.Succeeded, v.Totals.Failed, v.Totals.RolledBack)
	}
}

// targetPattern is the server's rule for targets (library.ValidateTarget).
var targetPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,252}$`)

// defaultTarget is what get resolves as when --target is not given: the
// host's machine id (/etc/machine-id), else its host name, else none.
func defaultTarget() string {
	if b, err := os.ReadFile("/etc/machine-id"); err == nil {
		if id := strings.TrimSpace(string(b)); targetPattern.MatchString(id) {
			return id
		}
	}
	if h, err := os.Hostname(); err == nil && targetPattern.MatchString(h) {
		return h
	}
	return ""
}

// promoteRollout are promote's flags for a first rollout plan: without any
// of them the release is fully rolled out.
type promoteRollout struct {
	percent              int
	pilots, environments []string
	requiredAfter        string
}

func (p *promoteRollout) bind(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.IntVar(&p.percent, "rollout-percent", 0, "release to this share of targets only (0-100; see reliquary rollout)")
	fl.StringSliceVar(&p.pilots, "rollout-pilot", nil, "release to this pilot target first (repeat)")
	fl.StringSliceVar(&p.environments, "rollout-environment", nil, "release to this environment first (repeat)")
	fl.StringVar(&p.requiredAfter, "rollout-required-after", "", "deadline: RFC 3339 time or a duration from now (72h)")
}

// input is the rollout of the promote body, nil when no --rollout-* flag
// was given.
func (p *promoteRollout) input(cmd *cobra.Command) (*client.RolloutInput, error) {
	fl := cmd.Flags()
	if !fl.Changed("rollout-percent") && !fl.Changed("rollout-pilot") && !fl.Changed("rollout-environment") && !fl.Changed("rollout-required-after") {
		return nil, nil
	}
	if p.percent < 0 || p.percent > 100 {
		return nil, usageError{fmt.Errorf("--rollout-percent %d: use 0 to 100", p.percent)}
	}
	deadline, err := parseDeadline(p.requiredAfter, time.Now())
	if err != nil {
		return nil, usageError{err}
	}
	percent := p.percent
	if !fl.Changed("rollout-percent") && !fl.Changed("rollout-pilot") && !fl.Changed("rollout-environment") {
		percent = 100 // only a deadline: everyone gets it
	}
	return &client.RolloutInput{Percent: &percent, Pilots: p.pilots, Environments: p.environments, RequiredAfter: deadline}, nil
}
