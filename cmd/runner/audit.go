package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/vsphere-conformance/vsphere-conformance/sim/stack"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

type auditOptions struct {
	target string
	config string
}

func newAuditCommand() *cobra.Command {
	var o auditOptions
	var paths simPaths
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "List CNS volumes, FCDs and attached disks of the cluster that Kubernetes does not explain",
		Long: `Audit the target for the orphaned-vmdk problem: CNS volumes of the cluster id
that no PV references, first-class disks that neither a CNS volume nor a PV
references, and disks on the node VMs that no VolumeAttachment explains.
It only reads; it deletes nothing.

Exit codes: 0 nothing found, 1 findings (one per line on stdout), 2 usage,
config or connection error.`,
		Example: `  vsconform audit
  vsconform audit --target existing --config target.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAudit(cmd, o, &paths)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.target, "target", "hermetic", "hermetic (the running hermetic target) or existing (a real vCenter and cluster)")
	f.StringVar(&o.config, "config", "", "target config YAML (existing target; env KUBECONFIG and GOVC_* fill what it leaves empty)")
	paths.addFlags(cmd)
	return cmd
}

func runAudit(cmd *cobra.Command, o auditOptions, paths *simPaths) error {
	ctx, cfg, t, done, err := connectReadOnly(paths, o.target, o.config)
	if err != nil {
		return err
	}
	defer done()

	auditCtx, cancelAudit := context.WithTimeout(ctx, 10*time.Minute)
	defer cancelAudit()
	findings, err := t.Audit(auditCtx)
	if err != nil {
		return usageErr("%v", err)
	}
	out := cmd.OutOrStdout()
	cluster := cfg.CSI.ClusterID
	if cluster == "" {
		cluster = "(any: csi.clusterID is not set)"
	}
	if len(findings) == 0 {
		fmt.Fprintf(out, "audit of %s, cluster %s: nothing found\n", cfg.Name, cluster)
		return nil
	}
	for _, f := range findings {
		fmt.Fprintln(out, f.String())
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "audit of %s, cluster %s: %d finding(s)\n", cfg.Name, cluster, len(findings))
	return &exitError{code: exitFailed, err: errors.New("audit found leaks")}
}

// connectReadOnly connects a command that does not start a target (audit,
// preflight, cleanup) to the running hermetic target or the user's; done
// logs out and releases the signal handler.
func connectReadOnly(paths *simPaths, kind, config string) (context.Context, *target.Config, *target.Target, func(), error) {
	configPath, err := readOnlyTargetConfig(paths, kind, config)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	ctx, cancel := signalContext()
	cfg, t, err := connectTarget(ctx, configPath)
	if err != nil {
		cancel()
		return nil, nil, nil, nil, err
	}
	return ctx, cfg, t, func() { t.Close(); cancel() }, nil
}

// readOnlyTargetConfig is the config file of a command that only reads the
// target (audit, preflight): the running hermetic target's, never started
// for it, or the user's.
func readOnlyTargetConfig(paths *simPaths, kind, config string) (string, error) {
	switch kind {
	case "hermetic":
		if config != "" {
			return "", usageErr("--config is for --target existing; the hermetic target writes its own")
		}
		if _, err := paths.resolve(); err != nil {
			return "", usageErr("%v", err)
		}
		s, err := stack.Load(paths.stateDir)
		if err != nil || !s.Ready || !s.AnyAlive() {
			return "", usageErr("no hermetic target is running in %s (start one with `vsconform sim up`)", paths.stateDir)
		}
		return s.TargetConfig, nil
	case "existing":
		if config == "" && os.Getenv("GOVC_URL") == "" {
			return "", usageErr("--target existing needs --config or the GOVC_* environment")
		}
		return config, nil
	}
	return "", usageErr("--target %q: want hermetic or existing", kind)
}
