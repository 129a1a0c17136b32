package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/onsi/ginkgo/v2/types"
	"github.com/spf13/cobra"

	"github.com/vsphere-conformance/vsphere-conformance/sim/stack"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// dryRunning is set for a --dry-run: the suite-level leak check then leaves
// the (absent) target alone.
var dryRunning bool

// dryRunConfig is the config a dry run selects by: the running hermetic
// target's, the one `sim up` would write for the model, or the user's file
// (validated, never connected to).
func dryRunConfig(o runOptions, paths *simPaths) (*target.Config, string, error) {
	switch o.target {
	case "hermetic":
		if o.config != "" {
			return nil, "", usageErr("--config is for --target existing; the hermetic target writes its own")
		}
		if _, err := paths.resolve(); err != nil {
			return nil, "", usageErr("%v", err)
		}
		if s, err := stack.Load(paths.stateDir); err == nil && s.Ready && s.AnyAlive() && o.model == "" {
			cfg, err := target.LoadConfig(s.TargetConfig, func(string) string { return "" })
			if err != nil {
				return nil, "", usageErr("%v", err)
			}
			return cfg, "the running " + s.String(), nil
		}
		cfg, err := stack.PlannedConfig(o.model)
		if err != nil {
			return nil, "", usageErr("%v", err)
		}
		model := o.model
		if model == "" {
			model = "the default model"
		}
		return cfg, "a hermetic target of " + model + " (not started)", nil
	case "existing":
		cfg, err := target.LoadConfig(o.config, os.Getenv)
		if err != nil {
			return nil, "", usageErr("%v", err)
		}
		if err := cfg.Validate(); err != nil {
			return nil, "", usageErr("%v", err)
		}
		return cfg, "target " + cfg.Name + " (not contacted)", nil
	}
	return nil, "", usageErr("--target %q: want hermetic or existing", o.target)
}

// dryRun lists the specs the filters and the target's declared capabilities
// select, with the reason of each skip, without touching any target.
func dryRun(cmd *cobra.Command, o runOptions, paths *simPaths) error {
	cfg, from, err := dryRunConfig(o, paths)
	if err != nil {
		return err
	}
	target.Use(target.DryRun(cfg))
	dryRunning = true
	outcome := runGinkgo(ginkgoOptions{labelFilter: o.labelFilter, focus: o.focus, skip: o.skip,
		timeout: 2 * time.Minute, progress: io.Discard, seed: o.seed, quiet: true})
	plan := planFrom(outcome.report)
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "dry run against %s (label filter %q)\n", from, o.labelFilter)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, p := range plan.specs {
		line := p.action + "\t" + labelText(p.labels) + " " + p.name
		if p.reason != "" {
			line += ": " + p.reason
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	fmt.Fprintf(out, "%d specs: %d would run, %d skipped, %d not selected by the filters\n",
		plan.total, plan.run, plan.skipped, plan.filtered)
	return nil
}

type plannedSpec struct {
	action, name, reason string
	labels               []string
}

type specPlan struct {
	specs                         []plannedSpec
	total, run, skipped, filtered int
}

// planFrom reads a dry run's Ginkgo report: a skip with DryRunWouldRun, or
// a spec that failed at once reaching for a client it does not have (no
// capability gate before), would run; a skip with another message is
// skipped for that reason; a skip with none was not selected by the filters.
func planFrom(r types.Report) specPlan {
	var p specPlan
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		p.total++
		msg := firstLine(s.Failure.Message)
		switch {
		case s.State.Is(types.SpecStateSkipped) && msg == "":
			p.filtered++
			continue
		case s.State.Is(types.SpecStateSkipped) && msg != target.DryRunWouldRun:
			p.skipped++
			p.specs = append(p.specs, plannedSpec{action: "skip", name: s.FullText(), labels: s.Labels(), reason: msg})
		case s.State.Is(types.SpecStatePending):
			p.skipped++
			p.specs = append(p.specs, plannedSpec{action: "skip", name: s.FullText(), labels: s.Labels(), reason: "pending"})
		default:
			p.run++
			p.specs = append(p.specs, plannedSpec{action: "run", name: s.FullText(), labels: s.Labels()})
		}
	}
	sort.SliceStable(p.specs, func(i, j int) bool {
		if p.specs[i].action != p.specs[j].action {
			return p.specs[i].action == "run"
		}
		return strings.Compare(p.specs[i].name, p.specs[j].name) < 0
	})
	return p
}
