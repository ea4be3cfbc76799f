package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/replcheck/replcheck/reports"
)

func newReportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "report RUN_DIR...",
		Short: "Render a run folder's junit.xml and report.html again",
		Long: `Render junit.xml and report.html again from a run folder's result.json,
as the run itself wrote them, and print the report's path. Nothing is
re-checked (replcheck verify does that): the files show the verdict and the
measurements the run recorded.

report.html is one self-contained page that opens offline: the verdict
and its reasons, the workload, replication lag per direction, plots of lag
(cumulative, over time with the fault windows, against object size with
the SLO and the fitted bandwidth) and of pending writes over time, the
anomalies with their evidence, and the faults. junit.xml has one test case
per check, for CI systems.

Exit codes: 0 rendered, 2 a folder is not a run folder or its result.json
cannot be read, 3 the files cannot be written.`,
		Example: `  replcheck report runs/quickstart-20261122-101500
  replcheck report runs/*/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, dir := range args {
				res, err := reports.ReadResult(dir)
				if err != nil {
					return &exitError{exitUsage, err}
				}
				if err := reports.WriteReports(dir, res); err != nil {
					return infraErr(err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), filepath.Join(dir, reports.ReportFile))
			}
			return nil
		},
	}
}
