package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// newUILoginCmd is `reliquary ui-login`: it asks the server for a one-time
// sign-in link to the web UI for the current token, and prints it.
func newUILoginCmd(o *cliOpts) *cobra.Command {
	return o.bind(&cobra.Command{
		Use:   "ui-login",
		Short: "Print a one-time link that signs the browser in to the web UI with your token",
		Long: `Print a one-time link that signs a browser in to the web UI (/ui/) as the
holder of the current token. The link works once, within two minutes; the
token itself never appears in the browser's history.`,
		Example: `  RELIQUARY_URL=https://reliquary.example.com RELIQUARY_TOKEN=rlq_... reliquary ui-login
  xdg-open "$(reliquary ui-login --quiet)"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client() // validates --url / RELIQUARY_URL
			if err != nil {
				return err
			}
			tok := o.token
			if tok == "" {
				tok = os.Getenv("RELIQUARY_TOKEN")
			}
			if tok == "" {
				return usageError{fmt.Errorf("no token: set --token or RELIQUARY_TOKEN")}
			}
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, strings.TrimSuffix(c.BaseURL(), "/")+"/ui/tickets", nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			hc := &http.Client{Timeout: 30 * time.Second}
			resp, err := hc.Do(req)
			if err != nil {
				return fmt.Errorf("ui-login: %w", err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			if resp.StatusCode != http.StatusCreated {
				return fmt.Errorf("ui-login: the server answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
			}
			var t struct {
				URL       string    `json:"url"`
				ExpiresAt time.Time `json:"expires_at"`
			}
			if err := json.Unmarshal(body, &t); err != nil || t.URL == "" {
				return fmt.Errorf("ui-login: unexpected answer from the server")
			}
			if o.json() {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(t)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", t.URL)
			if !o.quiet {
				fmt.Fprintf(cmd.ErrOrStderr(), "Open this link within %s; it works once.\n", time.Until(t.ExpiresAt).Round(time.Second))
			}
			return nil
		},
	})
}
