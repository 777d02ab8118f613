// Command reliquary is the Definitive Software Library: `reliquary serve`
// runs the service; the other commands are its clients and tools.
//
// Exit codes: 0 ok, 1 failure, 2 usage (a command-line mistake), 3
// verification failed (a digest or signature does not match), 4 not found.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "reliquary:", err)
		os.Exit(exitCode(err))
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "reliquary",
		Short: "Reliquary, the definitive software library",
		Long: `Reliquary keeps an organisation's approved software releases: CI pushes packages into it,
release managers seal, approve and promote them, installers fetch exactly the approved versions
and prove what they got.

The client commands talk to the server at --url (default $RELIQUARY_URL, else ` + DefaultURL + `)
with the token --token (default $RELIQUARY_TOKEN). Every client command takes -o json for
machines (tables are for people) and --quiet.

Exit codes: 0 ok, 1 failure, 2 usage error, 3 verification failed, 4 not found.`,
		Example: `  export RELIQUARY_URL=https://reliquary.example.com RELIQUARY_TOKEN=rlq_...
  reliquary push hr@1.2.0 dist/hr.tar.gz --change-id CHG-1 --seal
  reliquary approve hr@1.2.0
  reliquary promote hr@1.2.0 --to released --change-id CHG-1
  reliquary get hr@^1 -d /opt/hr`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.Version = readBuildVersion().String()
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	o := &cliOpts{}
	root.AddCommand(newServeCmd())
	root.AddCommand(newAuditCmd(), newIndexCmd(), newFsckCmd(), newBackupCmd())
	root.AddCommand(newPushCmd(o), newReleasesCmd(o), newShowCmd(o))
	root.AddCommand(newApproveCmd(o), newPromoteCmd(o), newWithdrawCmd(o))
	root.AddCommand(newGetCmd(o), newVerifyCmd(o))
	root.AddCommand(newProductCmd(o), newPolicyCmd(o), newTokenCmd(o))
	root.AddCommand(newEventsCmd(o), newWebhookCmd(o), newSearchCmd(o))
	root.AddCommand(newBaselineCmd(o), newDeployCmd(o))
	root.AddCommand(newRolloutCmd(o))
	root.AddCommand(newReleaseCmd(o), newRetentionCmd(o))
	root.AddCommand(newAttestCmd(o))
	root.AddCommand(newUILoginCmd(o))
	root.AddCommand(newLogCmd(o))
	root.AddCommand(newCompletionCmd(root))
	root.AddCommand(newLoginCmd(o), newPublisherCmd(o))
	root.AddCommand(newURLCmd(o), newVersionCmd(), newHealthcheckCmd())
	return root
}
