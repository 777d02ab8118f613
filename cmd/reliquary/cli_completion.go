package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newCompletionCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script",
		Long: `Print the completion script for a shell. Load it in the current shell, or install it where
the shell loads completions from.`,
		Example: `  source <(reliquary completion bash)
  reliquary completion bash > /etc/bash_completion.d/reliquary
  reliquary completion zsh > "${fpath[1]}/_reliquary"
  reliquary completion fish > ~/.config/fish/completions/reliquary.fish`,
		ValidArgs: []string{"bash", "zsh", "fish"},
		Args:      args(cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs)),
		RunE: func(cmd *cobra.Command, a []string) error {
			w := cmd.OutOrStdout()
			switch a[0] {
			case "bash":
				return root.GenBashCompletionV2(w, true)
			case "zsh":
				return root.GenZshCompletion(w)
			case "fish":
				return root.GenFishCompletion(w, true)
			}
			return usageError{fmt.Errorf("unknown shell %q", a[0])}
		},
	}
}
