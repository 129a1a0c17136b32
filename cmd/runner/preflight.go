package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/vsphere-conformance/vsphere-conformance/preflight"
	"github.com/vsphere-conformance/vsphere-conformance/reports"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

func newPreflightCommand() *cobra.Command {
	var paths simPaths
	var targetKind, config string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "preflight",
		Short: "Check the environment against what the vSphere CSI driver and CPI documentation require",
		Long: `Check, before any test: the vCenter version, the configured user's privileges on
the datacenter, clusters, hosts, datastores and node VMs (read with the
AuthorizationManager, never by trying operations), the node VMs' disk.EnableUUID,
hardware version and SCSI controllers, each Node's VM by BIOS UUID, every
StorageClass's policy and datastore, and the zone/region tag categories.
'vsconform run' runs the same checks first and puts the findings in its report.

Exit codes: 0 no error finding, 1 an error finding, 2 usage, config or
connection error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, _, t, done, err := connectReadOnly(&paths, targetKind, config)
			if err != nil {
				return err
			}
			defer done()
			r := runPreflight(ctx, t)
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(r); err != nil {
					return usageErr("%v", err)
				}
			} else {
				printFindings(out, r)
			}
			if r.Errors() > 0 {
				return &exitError{code: exitFailed, err: errors.New("preflight found errors")}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&targetKind, "target", "hermetic", "hermetic (the running hermetic target) or existing")
	f.StringVar(&config, "config", "", "target config YAML (existing target; env KUBECONFIG and GOVC_* fill what it leaves empty)")
	f.BoolVar(&asJSON, "json", false, "print the findings as JSON")
	paths.addFlags(cmd)
	return cmd
}

// preflightTimeout bounds the checks: a preflight must not hold up a run.
const preflightTimeout = 2 * time.Minute

// runPreflight runs the checks within preflightTimeout.
func runPreflight(ctx context.Context, t *target.Target) preflight.Report {
	ctx, cancel := context.WithTimeout(ctx, preflightTimeout)
	defer cancel()
	return preflight.Run(ctx, t)
}

func printFindings(w io.Writer, r preflight.Report) {
	for _, f := range r.Findings {
		fmt.Fprintln(w, f.String())
	}
	fmt.Fprintf(w, "preflight: %d errors, %d warnings, %d findings\n", r.Errors(), r.Warnings(), len(r.Findings))
}

// reportFindings converts the findings for the run's reports.
func reportFindings(r preflight.Report) []reports.Finding {
	var out []reports.Finding
	for _, f := range r.Findings {
		out = append(out, reports.Finding{ID: f.ID, Name: f.Name, Severity: string(f.Severity), Object: f.Object, Message: f.Message, Fix: f.Fix})
	}
	return out
}
