package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/reliquary/reliquary/internal/index"
	"github.com/reliquary/reliquary/internal/library"
)

// newTokenResetAdminCmd is `reliquary token reset-admin`: the offline
// recovery path for a lost or revoked bootstrap admin (DESIGN §8).
func newTokenResetAdminCmd() *cobra.Command {
	var sc storeCmd
	cmd := &cobra.Command{
		Use:   "reset-admin",
		Short: "Give the bootstrap admin a new secret (server stopped)",
		Long: `Recover admin access: open the index in the data directory directly (the server must be
stopped: the index is locked while it runs), give the bootstrap admin token (tok_bootstrap) a new
secret, role admin, all products, and lift a revocation. The change is journaled
(token.admin_reset). The new secret is printed once, on stdout.

--admin-token never does this: it only creates the first admin of an index that never had a token.`,
		Example: `  systemctl stop reliquary
  reliquary token reset-admin --data-dir /var/lib/reliquary
  systemctl start reliquary`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := sc.cfg.fill(cmd, sc.configFile); err != nil {
				return usageError{err}
			}
			path := sc.indexPath()
			if _, err := os.Stat(path); err != nil {
				return fmt.Errorf("no index at %s (--data-dir): %w", path, err)
			}
			ix, err := index.Open(path, index.Options{Timeout: 2 * time.Second}) // says "locked" while a server runs
			if err != nil {
				return err
			}
			defer ix.Close()
			lib := library.New(library.Config{Repo: ix})
			secret, err := lib.ResetAdmin(cmd.Context(), "reset-admin")
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "reset the bootstrap admin (%s); its new secret, shown only this once:\n", library.BootstrapTokenID)
			fmt.Fprintln(cmd.OutOrStdout(), secret)
			return nil
		},
	}
	sc.bind(cmd)
	return cmd
}
