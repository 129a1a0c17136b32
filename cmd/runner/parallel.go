package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/onsi/ginkgo/v2"

	"github.com/vsphere-conformance/vsphere-conformance/reports"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// Parallel runs: Ginkgo's own parallel mode needs its CLI's server, so
// `run --procs N` starts N copies of vsconform instead, each running every
// N-th spec (in the same seeded order) against the same target, and merges
// their reports. The parent takes the leak inventory around all of them.

// shardSkipReason marks specs another process of the run executed.
const shardSkipReason = "run by another process of this parallel run"

// shard is this process's part of a parallel run (total 0: not parallel).
// The serial pass runs, after all others, the Serial specs (those that add
// or remove nodes or fill one up), which must not overlap other specs.
var shard struct {
	index, total int
	serialPass   bool
	next         int
}

// serialShard is the --shard value of the serial pass.
const serialShard = "serial"

// parseShard parses "INDEX/TOTAL" (1-based index); "serial" is the serial
// pass, returned as index 0 of total 1.
func parseShard(s string) (int, int, error) {
	if s == serialShard {
		return 0, 1, nil
	}
	i, n, ok := strings.Cut(s, "/")
	index, err1 := strconv.Atoi(i)
	total, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || total < 1 || index < 1 || index > total {
		return 0, 0, fmt.Errorf("--shard %q: want INDEX/TOTAL, 1 <= INDEX <= TOTAL", s)
	}
	return index - 1, total, nil
}

// Every process counts the specs that reach setup in the same order, so
// each spec is run by exactly one of them; Serial specs wait for the serial
// pass.
var _ = ginkgo.BeforeEach(func() {
	serial := ginkgo.CurrentSpecReport().IsSerial
	switch {
	case shard.serialPass:
		if !serial {
			ginkgo.Skip(shardSkipReason)
		}
	case shard.total > 1:
		n := shard.next
		shard.next++
		if serial || n%shard.total != shard.index {
			ginkgo.Skip(shardSkipReason)
		}
	}
})

// runShards runs the parallel processes and returns their merged run.
func runShards(ctx context.Context, o runOptions, configPath, dir, runID string, t *target.Target) (reports.Run, error) {
	self, err := os.Executable()
	if err != nil {
		return reports.Run{}, err
	}
	before, err := t.Inventory(ctx)
	if err != nil {
		return reports.Run{}, fmt.Errorf("inventory of the target before the run: %w", err)
	}
	// One seed for every process, so they share one spec order.
	seed := strconv.FormatInt(o.seed, 10)
	shardDir := filepath.Join(dir, "shards")
	child := func(shardArg, id string) *exec.Cmd {
		args := []string{"run", "--target", "existing", "--config", configPath,
			"--shard", shardArg, "--seed", seed,
			"--results-dir", shardDir, "--run-id", id,
			"--label-filter", o.labelFilter, "--timeout", o.timeout.String()}
		for _, f := range o.focus {
			args = append(args, "--focus", f)
		}
		for _, s := range o.skip {
			args = append(args, "--skip", s)
		}
		if o.verbose {
			args = append(args, "-v")
		}
		cmd := exec.CommandContext(ctx, self, args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		return cmd
	}
	runChild := func(cmd *exec.Cmd) error {
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == exitFailed {
			return nil // failures are in its report
		}
		return err
	}
	var wg sync.WaitGroup
	ids := make([]string, o.procs+1)
	errs := make([]error, o.procs+1)
	for i := 0; i < o.procs; i++ {
		ids[i] = fmt.Sprintf("p%d", i+1)
		cmd := child(fmt.Sprintf("%d/%d", i+1, o.procs), ids[i])
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = runChild(cmd)
		}(i)
	}
	wg.Wait()
	ids[o.procs] = "serial"
	errs[o.procs] = runChild(child(serialShard, ids[o.procs]))
	merged := reports.Run{ID: runID, Target: t.Config.Name, LabelFilter: o.labelFilter, Focus: strings.Join(o.focus, " | ")}
	var parts [][]reports.Spec
	for i, id := range ids {
		if errs[i] != nil {
			return merged, fmt.Errorf("parallel process %s: %v", id, errs[i])
		}
		part, err := reports.Load(filepath.Join(shardDir, id))
		if err != nil {
			return merged, err
		}
		if merged.StartedAt.IsZero() || part.StartedAt.Before(merged.StartedAt) {
			merged.StartedAt = part.StartedAt
		}
		if part.FinishedAt.After(merged.FinishedAt) {
			merged.FinishedAt = part.FinishedAt
		}
		parts = append(parts, part.Specs)
	}
	merged.Specs = mergeSpecs(parts)
	after, err := t.Inventory(ctx)
	if err != nil {
		return merged, fmt.Errorf("inventory of the target after the run: %w", err)
	}
	if leaks := before.Leaked(after); !leaks.Empty() {
		merged.Specs = append(merged.Specs, reports.Spec{Suite: "vsphere-conformance", Name: "[AfterSuite] leak check",
			State: reports.StateFailed, Failure: &reports.Failure{Message: "the run leaked objects on the target:\n" + leaks.String()}})
	}
	return merged, nil
}

// mergeSpecs joins the processes' specs: every spec that ran, once; a spec
// every process skipped for the same reason (label filter, focus), once, not
// once per process; and none of the skips that only mean "another process
// ran it". Equal names (table entries) are counted, not collapsed.
func mergeSpecs(parts [][]reports.Spec) []reports.Spec {
	type key struct{ suite, name, reason string }
	var out []reports.Spec
	kept := map[key]int{} // skipped specs already in out
	for _, specs := range parts {
		seen := map[key]int{}
		for _, s := range specs {
			if s.State != reports.StateSkipped {
				out = append(out, s)
				continue
			}
			if s.SkipReason == shardSkipReason {
				continue
			}
			k := key{s.Suite, s.Name, s.SkipReason}
			seen[k]++
			if seen[k] > kept[k] {
				kept[k]++
				out = append(out, s)
			}
		}
	}
	return out
}
