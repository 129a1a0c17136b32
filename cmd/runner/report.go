package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vsphere-conformance/vsphere-conformance/reports"
)

func newReportCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "report DIR",
		Short: "Re-render junit.xml and report.html of a run from its report.json",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// report.json was redacted when written; nothing secret remains in it.
			if err := reports.Rerender(args[0], reports.NewRedactor()); err != nil {
				return usageErr("%v", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "report: %s/report.html\n", args[0])
			return nil
		},
	}
}
