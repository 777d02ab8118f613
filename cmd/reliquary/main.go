// Command reliquary is the Definitive Software Library: `reliquary serve`
// runs the service; the other commands are its clients and tools.
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
		Use:           "reliquary",
		Short:         "Reliquary, the definitive software library",
		Long:          "Reliquary keeps an organisation's approved software releases: CI pushes packages into it,\nrelease managers seal, approve and promote them, installers fetch exactly the approved versions\nand prove what they got.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd())
	return root
}

// usageError marks a command-line mistake (exit code 2).
type usageError struct{ error }

func exitCode(err error) int {
	if _, ok := err.(usageError); ok {
		return 2
	}
	return 1
}
