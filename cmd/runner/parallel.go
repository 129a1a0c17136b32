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
var shard struct {
	index, total int
	next         int
}

// parseShard parses "INDEX/TOTAL" (1-based index).
func parseShard(s string) (int, int, error) {
	i, n, ok := strings.Cut(s, "/")
	index, err1 := strconv.Atoi(i)
	total, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || total < 1 || index < 1 || index > total {
		return 0, 0, fmt.Errorf("--shard %q: want INDEX/TOTAL, 1 <= INDEX <= TOTAL", s)
	}
	return index - 1, total, nil
}

// Every process counts the specs that reach setup in the same order, so
// each spec is run by exactly one of them; Serial specs all go to the first.
var _ = ginkgo.BeforeEach(func() {
	if shard.total <= 1 {
		return
	}
	n := shard.next
	shard.next++
	if ginkgo.CurrentSpecReport().IsSerial {
		n = 0
	}
	if n%shard.total != shard.index {
		ginkgo.Skip(shardSkipReason)
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
	seed := strconv.FormatInt(int64(os.Getpid())*7919+int64(len(runID)), 10)
	shardDir := filepath.Join(dir, "shards")
	var wg sync.WaitGroup
	errs := make([]error, o.procs)
	for i := 0; i < o.procs; i++ {
		args := []string{"run", "--target", "existing", "--config", configPath,
			"--shard", fmt.Sprintf("%d/%d", i+1, o.procs), "--seed", seed,
			"--results-dir", shardDir, "--run-id", fmt.Sprintf("p%d", i+1),
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
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == exitFailed {
				err = nil // failures are in its report
			}
			errs[i] = err
		}(i)
	}
	wg.Wait()
	merged := reports.Run{ID: runID, Target: t.Config.Name, LabelFilter: o.labelFilter, Focus: strings.Join(o.focus, " | ")}
	for i := 0; i < o.procs; i++ {
		if errs[i] != nil {
			return merged, fmt.Errorf("parallel process %d: %v", i+1, errs[i])
		}
		part, err := reports.Load(filepath.Join(shardDir, fmt.Sprintf("p%d", i+1)))
		if err != nil {
			return merged, err
		}
		if merged.StartedAt.IsZero() || part.StartedAt.Before(merged.StartedAt) {
			merged.StartedAt = part.StartedAt
		}
		if part.FinishedAt.After(merged.FinishedAt) {
			merged.FinishedAt = part.FinishedAt
		}
		for _, s := range part.Specs {
			if s.State == reports.StateSkipped && s.SkipReason == shardSkipReason {
				continue
			}
			merged.Specs = append(merged.Specs, s)
		}
	}
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
