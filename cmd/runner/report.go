package main

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/vsphere-conformance/vsphere-conformance/reports"
)

func newReportCommand() *cobra.Command {
	var baseline string
	var threshold float64
	cmd := &cobra.Command{
		Use:   "report DIR",
		Short: "Re-render junit.xml and report.html of a run from its report.json",
		Long: `Re-render junit.xml and report.html of a run from its report.json.

With --baseline OLD (a run folder or a report.json file), report.html gets a
section comparing the run with OLD; "vsconform report diff" compares on the
command line and exits 1 on a regression.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			// report.json was redacted when written; nothing secret remains in it.
			red := reports.NewRedactor()
			if baseline == "" {
				if cmd.Flags().Changed("threshold") {
					return usageErr("report: --threshold needs --baseline")
				}
				if err := reports.Rerender(dir, red); err != nil {
					return usageErr("%v", err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "report: %s/report.html\n", dir)
				return nil
			}
			if err := checkThreshold(threshold); err != nil {
				return err
			}
			base, err := reports.LoadPath(baseline)
			if err != nil {
				return usageErr("%v", err)
			}
			run, err := reports.Load(dir)
			if err != nil {
				return usageErr("%v", err)
			}
			if err := reports.Write(dir, run, red, reports.WithBaseline(base, threshold)); err != nil {
				return usageErr("%v", err)
			}
			// Rendering is not a gate: regressions are reported, not an exit code.
			cmp := reports.Compare(base, run, threshold)
			fmt.Fprintf(cmd.OutOrStdout(), "report: %s (compared with baseline %s: %s)\n",
				filepath.Join(dir, reports.HTMLFile), runLabel(base), regressionCount(cmp.Regressions()))
			return nil
		},
	}
	cmd.Flags().StringVar(&baseline, "baseline", "", "earlier run (folder or report.json) to compare with in report.html")
	cmd.Flags().Float64Var(&threshold, "threshold", reports.DefaultThreshold, "with --baseline: relative change of a measurement's median or p99 that counts as moved")
	// Bad flag values (e.g. --threshold abc) are usage errors, exit 2, in
	// this command and in diff.
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr("%v", err) })
	cmd.AddCommand(newReportDiffCommand())
	return cmd
}

func newReportDiffCommand() *cobra.Command {
	var threshold float64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "Compare two runs: regressed, fixed, appeared, disappeared and changed specs, moved measurements",
		Long: `Compare two runs, each given as a run folder or a report.json file.

Specs are matched by suite and name. A regression is a spec that passed in OLD
and fails in NEW, or a measurement whose median or p99 got worse by more than
--threshold (higher is worse, lower for rates such as "ops/s").

Exit codes: 0 no regression, 1 at least one regression, 2 bad input.`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkThreshold(threshold); err != nil {
				return err
			}
			oldRun, err := reports.LoadPath(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			newRun, err := reports.LoadPath(args[1])
			if err != nil {
				return usageErr("%v", err)
			}
			cmp := reports.Compare(oldRun, newRun, threshold)
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				err = enc.Encode(cmp)
			} else {
				err = cmp.WriteText(out)
			}
			if err != nil {
				return usageErr("report diff: %v", err)
			}
			if n := cmp.Regressions(); n > 0 {
				// main prints nothing for exitFailed; the output above says what regressed.
				return &exitError{code: exitFailed, err: fmt.Errorf("%s", regressionCount(n))}
			}
			return nil
		},
	}
	cmd.Flags().Float64Var(&threshold, "threshold", reports.DefaultThreshold, "relative change of a measurement's median or p99 that counts as moved (0.2 = 20%)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the comparison as JSON")
	return cmd
}

// exactArgs is cobra.ExactArgs as a usage error (exit 2), naming the usage.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageErr("%v (usage: %s)", err, cmd.UseLine())
		}
		return nil
	}
}

func checkThreshold(t float64) error {
	if !(t > 0) || math.IsInf(t, 0) {
		return usageErr("report: --threshold must be a number > 0 (0.2 = 20%%), got %v", t)
	}
	return nil
}

func runLabel(r reports.Run) string {
	if r.ID == "" {
		return "(run without id)"
	}
	return r.ID
}

func regressionCount(n int) string {
	switch n {
	case 0:
		return "no regressions"
	case 1:
		return "1 regression"
	}
	return fmt.Sprintf("%d regressions", n)
}
