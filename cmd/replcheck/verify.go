package main

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/replcheck/replcheck/reports"
	"github.com/replcheck/replcheck/verifier/history"
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
		Example: `  replcheck verify runs/quickstart-20261122-101500`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			code := exitPass
			for _, dir := range args {
				res, changed, err := verifyDir(dir)
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

// verifyDir re-checks one run folder; changed says how the re-check
// differs from the recorded result ("" when it does not).
func verifyDir(dir string) (*reports.Result, string, error) {
	res, err := reports.ReadResult(dir)
	if err != nil {
		return nil, "", err
	}
	h, err := history.ReadFile(filepath.Join(dir, reports.HistoryFile))
	if err != nil {
		return nil, "", err
	}
	fs, err := reports.ReadState(dir)
	if err != nil {
		return nil, "", err
	}
	was := *res
	was.Found = slices.Clone(res.Found)
	res.Check(h, fs)
	switch {
	case was.Verdict != res.Verdict:
		return res, fmt.Sprintf("verdict %s, recorded %s", res.Verdict, was.Verdict), nil
	case !slices.Equal(was.Found, res.Found):
		return res, fmt.Sprintf("found %v, recorded %v", res.Found, was.Found), nil
	case len(was.Anomalies) != len(res.Anomalies):
		return res, fmt.Sprintf("%d anomalies, recorded %d", len(res.Anomalies), len(was.Anomalies)), nil
	}
	return res, "", nil
}
