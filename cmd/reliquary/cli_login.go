package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/reliquary/reliquary/api/client"
)

// Trusted publishing from CI (DESIGN §11): the job's OIDC ID token is
// exchanged for a short-lived token scoped to one product, so no secret
// is stored in the CI system.

func newLoginCmd(o *cliOpts) *cobra.Command {
	var useOIDC bool
	var envFile, product string
	cmd := &cobra.Command{
		Use:   "login --oidc",
		Short: "Exchange the CI job's OIDC ID token for a short-lived token",
		Long: `Exchange the CI job's OIDC ID token for a token scoped to the product whose trusted publisher
accepts it (POST /auth/oidc). The ID token is RELIQUARY_ID_TOKEN (GitLab CI id_tokens:, any CI), else
one requested from GitHub Actions (ACTIONS_ID_TOKEN_REQUEST_URL, needs permissions: id-token: write)
for the audience RELIQUARY_OIDC_AUDIENCE (default reliquary).

The token is printed on stdout (export RELIQUARY_TOKEN=$(reliquary login --oidc)), or appended as
RELIQUARY_TOKEN=<token> to --write-env (e.g. "$GITHUB_ENV", so later steps use it). reliquary push
does this by itself when RELIQUARY_TOKEN is not set.`,
		Example: `  export RELIQUARY_TOKEN=$(reliquary login --oidc)
  reliquary login --oidc --write-env "$GITHUB_ENV"
  reliquary login --oidc -o json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !useOIDC {
				return usageError{errors.New("login needs --oidc (the only way to log in from CI); people use tokens from `reliquary token create`")}
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			ex, err := exchangeIDToken(cmd, o, c, product)
			if err != nil {
				return err
			}
			if envFile != "" {
				f, err := os.OpenFile(envFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
				if err != nil {
					return fmt.Errorf("--write-env: %w", err)
				}
				_, werr := fmt.Fprintf(f, "RELIQUARY_TOKEN=%s\n", ex.Token)
				if err := errors.Join(werr, f.Close()); err != nil {
					return fmt.Errorf("--write-env: %w", err)
				}
				o.info(cmd, "wrote RELIQUARY_TOKEN to %s", envFile)
				if !o.json() {
					return nil
				}
			}
			return o.emit(cmd, ex, func(w io.Writer) { fmt.Fprintln(w, ex.Token) })
		},
	}
	cmd.Flags().BoolVar(&useOIDC, "oidc", false, "exchange the CI job's OIDC ID token (required)")
	cmd.Flags().StringVar(&product, "product", "", "the product to log in to, when several trust the workflow (default: the one that matches)")
	cmd.Flags().StringVar(&envFile, "write-env", "", "append RELIQUARY_TOKEN=<token> to this file instead of printing it (e.g. $GITHUB_ENV)")
	return o.bind(cmd)
}

// exchangeIDToken finds the job's ID token and exchanges it.
func exchangeIDToken(cmd *cobra.Command, o *cliOpts, c *client.Client, product string) (*client.OIDCExchange, error) {
	ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
	defer cancel()
	idToken, source, err := client.IDTokenFromEnv(ctx, os.Getenv, nil)
	if err != nil {
		return nil, err
	}
	ex, err := c.ExchangeOIDC(ctx, idToken, product)
	if err != nil {
		return nil, fmt.Errorf("exchange the ID token from %s: %w", source, err)
	}
	o.info(cmd, "exchanged the ID token from %s: %s on %s until %s", source, ex.Role, ex.Product, ex.ExpiresAt.Local().Format(time.RFC3339))
	return ex, nil
}

// oidcFallback is push's hook: with no token given (--token or
// RELIQUARY_TOKEN) but a CI ID token in the environment, it exchanges the
// ID token and returns a client that uses the minted token.
func (o *cliOpts) oidcFallback(cmd *cobra.Command, c *client.Client, product string) (*client.Client, error) {
	if o.token != "" || os.Getenv("RELIQUARY_TOKEN") != "" {
		return c, nil
	}
	if strings.TrimSpace(os.Getenv("RELIQUARY_ID_TOKEN")) == "" && os.Getenv("ACTIONS_ID_TOKEN_REQUEST_URL") == "" {
		return c, nil
	}
	ex, err := exchangeIDToken(cmd, o, c, product)
	if err != nil {
		return nil, err
	}
	return c.WithToken(ex.Token), nil
}
