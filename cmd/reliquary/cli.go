package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/reliquary/reliquary/api/client"
	"github.com/reliquary/reliquary/internal/library"
)

// DefaultURL is the server the client commands talk to when neither --url
// nor RELIQUARY_URL says otherwise: `reliquary serve`'s default address.
const DefaultURL = "http://127.0.0.1:8080"

// cliOpts are the flags every client command has.
type cliOpts struct {
	url, token string
	output     string
	quiet      bool
}

// bind adds the client flags to cmd (persistent, so subcommands of a group
// have them too). They are not on the root so `serve` does not show them.
func (o *cliOpts) bind(cmd *cobra.Command) *cobra.Command {
	f := cmd.PersistentFlags()
	f.StringVar(&o.url, "url", "", "server URL (default $RELIQUARY_URL, else "+DefaultURL+")")
	f.StringVar(&o.token, "token", "", "API token (default $RELIQUARY_TOKEN)")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table (for people) or json (for machines)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no tables, no progress and no informational lines (errors and -o json still print)")
	prev := cmd.PersistentPreRunE
	cmd.PersistentPreRunE = func(c *cobra.Command, args []string) error {
		if o.output != "table" && o.output != "json" {
			return usageError{fmt.Errorf("--output %q: use table or json", o.output)}
		}
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
	return cmd
}

// client builds the API client from the flags and the environment.
func (o *cliOpts) client() (*client.Client, error) {
	u := o.url
	if u == "" {
		u = os.Getenv("RELIQUARY_URL")
	}
	if u == "" {
		u = DefaultURL
	}
	tok := o.token
	if tok == "" {
		tok = os.Getenv("RELIQUARY_TOKEN")
	}
	c := client.New(u, tok, client.WithUserAgent("reliquary-cli"))
	if c.BaseURL() == "" {
		return nil, usageError{fmt.Errorf("--url / RELIQUARY_URL %q must be http(s)://host[:port]", u)}
	}
	return c, nil
}

func (o *cliOpts) json() bool { return o.output == "json" }

// emit writes v as indented JSON on stdout with -o json, otherwise calls
// table with a tabwriter on stdout (nothing with --quiet: the exit code
// tells).
func (o *cliOpts) emit(cmd *cobra.Command, v any, table func(w io.Writer)) error {
	out := cmd.OutOrStdout()
	if o.json() {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	if o.quiet || table == nil {
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// emitAlways is emit for answers that must not be lost to --quiet: a
// secret shown only once.
func (o *cliOpts) emitAlways(cmd *cobra.Command, v any, table func(w io.Writer)) error {
	q := o.quiet
	o.quiet = false
	defer func() { o.quiet = q }()
	return o.emit(cmd, v, table)
}

// info writes an informational line on stderr unless --quiet.
func (o *cliOpts) info(cmd *cobra.Command, format string, args ...any) {
	if !o.quiet {
		fmt.Fprintf(cmd.ErrOrStderr(), format+"\n", args...)
	}
}

// usageError marks a command-line mistake (exit code 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// verificationError is a failed integrity or signature check (exit code 3).
// What names the thing that failed, e.g. "manifest signature" or
// "artifact hr.tar.gz digest".
type verificationError struct {
	What string
	Err  error
}

func (e *verificationError) Error() string {
	return "verification failed: " + e.What + ": " + e.Err.Error()
}
func (e *verificationError) Unwrap() error { return e.Err }

func verifyFailed(what string, format string, args ...any) error {
	return &verificationError{What: what, Err: fmt.Errorf(format, args...)}
}

// Exit codes of the reliquary command.
const (
	exitOK           = 0
	exitFailure      = 1
	exitUsage        = 2
	exitVerification = 3
	exitNotFound     = 4
)

func exitCode(err error) int {
	var ue usageError
	var ve *verificationError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &ve):
		return exitVerification
	case client.IsNotFound(err):
		return exitNotFound
	case isCobraUsage(err):
		return exitUsage
	}
	return exitFailure
}

// isCobraUsage recognises the errors cobra returns for an unknown command.
func isCobraUsage(err error) bool {
	s := err.Error()
	return strings.HasPrefix(s, "unknown command ") || strings.HasPrefix(s, "unknown flag") ||
		strings.HasPrefix(s, "unknown shorthand flag")
}

// args wraps a cobra argument check so its failure is a usage error.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// groupCmd is a command that only holds subcommands.
func groupCmd(use, short, example string) *cobra.Command {
	return &cobra.Command{
		Use: use, Short: short, Example: example, Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{fmt.Errorf("%s needs a subcommand; see %s --help", cmd.CommandPath(), cmd.CommandPath())}
		},
	}
}

// ref is product@version (or product@constraint).
type ref struct{ product, version string }

func (r ref) String() string { return r.product + "@" + r.version }

// refAndClient parses a "product@version" argument and builds the client:
// the start of every command on one release.
func (o *cliOpts) refAndClient(arg string) (ref, *client.Client, error) {
	r, err := parseRef(arg, true)
	if err != nil {
		return ref{}, nil, err
	}
	c, err := o.client()
	return r, c, err
}

// parseRef splits "product@version". With needVersion the part after @ is
// required.
func parseRef(s string, needVersion bool) (ref, error) {
	p, v, ok := strings.Cut(s, "@")
	if p == "" || (needVersion && (!ok || v == "")) {
		if needVersion {
			return ref{}, usageError{fmt.Errorf("%q: expected <product>@<version>, e.g. hr@1.2.0", s)}
		}
		return ref{}, usageError{fmt.Errorf("%q: expected <product>[@<constraint>], e.g. hr@^1.2", s)}
	}
	if needVersion {
		v = library.NormalizeVersionInput(v) // v1.4.0, as CI tags are
	}
	return ref{product: p, version: v}, nil
}

// humanBytes formats a byte count for people: 512 B, 4.0 MiB, 192 MiB.
func humanBytes(n int64) string {
	if n < 0 {
		return fmt.Sprintf("%d B", n)
	}
	return humanize.IBytes(uint64(n))
}

func shortTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
