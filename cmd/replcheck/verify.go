package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/replcheck/replcheck/reports"
)

func newVerifyCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify RUN_DIR...",
		Short: "Re-check recorded runs offline",
		Long: `Re-check a run folder without the sites: read its history and the final
state it recorded, find the anomalies again and judge them with the run's
checks and convergence measurements. A run re-checked by the same version
of replcheck reaches the same verdict; a different one is reported.

Exit codes: 0 every run passes, 1 a verdict failed or was undecided, 2 a
folder is not a run folder or cannot be read.`,
		Example: `  replcheck run quickstart --out /tmp/runs     # leaves /tmp/runs/quickstart-<date>-<time>
  replcheck verify /tmp/runs/quickstart-*      # the same verdict, from the folder alone
  replcheck verify runs/* --json | jq -r '.scenario + " " + .verdict'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			code := exitPass
			for _, dir := range args {
				res, changed, err := reports.Recheck(dir)
				if err != nil {
					return &exitError{exitUsage, err}
				}
				printResult(cmd.OutOrStdout(), res, dir, asJSON)
				if changed != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "  re-check   differs from the recorded run: %s\n", changed)
				}
				if res.Verdict != reports.Pass {
					code = max(code, exitFail)
				}
			}
			if code != exitPass {
				return &exitError{code, errSilent}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print each result as one JSON line")
	return cmd
}
