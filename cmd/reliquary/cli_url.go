package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
)

func newURLCmd(o *cliOpts) *cobra.Command {
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "url <product>@<version> <artifact>",
		Short: "Print a download link that needs no token",
		Long: `Print a URL that downloads one artifact without an Authorization header, for wget, aria2c,
a browser or any tool that cannot send a token. The link works until --ttl passes or the token
that made it is revoked, and only for that artifact.`,
		Example: `  wget "$(reliquary url hr@1.2.0 hr.tar.gz)"
  aria2c -x 4 "$(reliquary url hr@1.2.0 hr.tar.gz --ttl 1h)"
  reliquary url hr@1.2.0 hr.tar.gz -o json`,
		Args: args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			r, err := parseRef(a[0], true)
			if err != nil {
				return err
			}
			if ttl < time.Second || ttl > 7*24*time.Hour {
				return usageError{fmt.Errorf("--ttl %s must be from 1s to 168h", ttl)}
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			l, err := c.ArtifactLink(cmd.Context(), r.product, r.version, a[1], ttl)
			if err != nil {
				return err
			}
			if o.json() {
				return o.emit(cmd, l, nil)
			}
			o.info(cmd, "link valid until %s", l.ExpiresAt.Local().Format(time.RFC3339))
			_, err = io.WriteString(cmd.OutOrStdout(), l.URL+"\n")
			return err
		},
	}
	cmd.Flags().DurationVar(&ttl, "ttl", 15*time.Minute, "how long the link works (1s to 168h)")
	return o.bind(cmd)
}
