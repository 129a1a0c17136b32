package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// cleanupTimeout bounds a cleanup: namespaces wait for their volumes.
const cleanupTimeout = 15 * time.Minute

func newCleanupCommand() *cobra.Command {
	var paths simPaths
	var targetKind, config, runID string
	var allStale bool
	cmd := &cobra.Command{
		Use:   "cleanup (--run-id ID | --all-stale)",
		Short: "Remove what a killed run left on the target",
		Long: `Remove the objects a run made and could not remove itself (it was killed with
SIGKILL, or its machine went away): every object the harness creates carries
the run's ID (label vsconform.io/run, or a "vsconform.io/run=ID" line in a VM's
annotation). Removes the run's namespaces (and with them its claims, pods and
the volumes provisioned for them), PVs kept from those claims with their CNS
volume, StorageClasses, Nodes and VMs, and prints each.

--all-stale removes the objects of every run: use it only when no run is in
progress against the target.

Exit codes: 0 done (also when nothing was left), 2 usage, config, connection
or removal error.`,
		Example: `  vsconform cleanup --run-id 20261203-091101
  vsconform cleanup --all-stale --target existing --config target.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (runID == "") == !allStale {
				return usageErr("cleanup: give exactly one of --run-id ID and --all-stale")
			}
			if runID != "" {
				if err := checkRunID(runID); err != nil {
					return err
				}
			}
			ctx, _, t, done, err := connectReadOnly(&paths, targetKind, config)
			if err != nil {
				return err
			}
			defer done()
			ctx, stop := context.WithTimeout(ctx, cleanupTimeout)
			defer stop()
			out := cmd.OutOrStdout()
			removed, err := t.CleanupRun(ctx, runID, func(r target.Removed) { fmt.Fprintln(out, "removed "+r.String()) })
			if err != nil {
				return usageErr("cleanup: %v (removed %d objects before that)", err, len(removed))
			}
			what := "run " + runID
			if allStale {
				what = "every run"
			}
			fmt.Fprintf(out, "%s: removed %d objects\n", what, len(removed))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&runID, "run-id", "", "the run whose objects to remove (the name of its results folder)")
	f.BoolVar(&allStale, "all-stale", false, "remove the objects of every run (only when none is in progress)")
	f.StringVar(&targetKind, "target", "hermetic", "hermetic (the running hermetic target) or existing")
	f.StringVar(&config, "config", "", "target config YAML (existing target; env KUBECONFIG and GOVC_* fill what it leaves empty)")
	paths.addFlags(cmd)
	return cmd
}
