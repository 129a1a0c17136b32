package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vsphere-conformance/vsphere-conformance/reports"
	"github.com/vsphere-conformance/vsphere-conformance/sim/stack"
	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

type runOptions struct {
	target      string
	config      string
	labelFilter string
	focus       []string
	skip        []string
	timeout     time.Duration
	keep        bool
	resultsDir  string
	model       string
	verbose     bool
	procs       int
	leakCheck   string
	// Set by a parallel run's parent for each of its processes.
	shard string
	seed  int64
	runID string
	// Sonobuoy: package the run as a results tarball too; plugin mode (set
	// by `sonobuoy run`) posts progress and writes the done file.
	sonobuoyTarball string
	plugin          *pluginMode
	dryRun          bool
	with            []string // --with NAME=PATH for a hermetic target this run starts
}

func newRunCommand() *cobra.Command {
	var o runOptions
	var paths simPaths
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the conformance suites and write JUnit, JSON and HTML reports",
		Long: `Run every conformance suite linked into vsconform (in-process, through
Ginkgo v2) against the hermetic target (default: brought up if needed and
torn down after unless --keep) or an existing vCenter and cluster.

Exit codes: 0 all specs passed, 1 a spec failed, 2 usage, config or
connection error.`,
		Example: `  vsconform run
  vsconform run --label-filter 'csi && !scale'
  KUBECONFIG=~/.kube/config GOVC_URL=vc.example.com GOVC_USERNAME=u GOVC_PASSWORD=p \
    vsconform run --target existing --config target.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSuites(cmd, o, &paths)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.target, "target", "hermetic", "hermetic (vcsim + the real components, started if needed) or existing (a real vCenter and cluster)")
	f.StringVar(&o.config, "config", "", "target config YAML (existing target; env KUBECONFIG and GOVC_* fill what it leaves empty)")
	f.StringVar(&o.labelFilter, "label-filter", "", "Ginkgo label filter, e.g. 'csi && !scale'")
	f.StringArrayVar(&o.focus, "focus", nil, "run only specs whose text matches this regular expression (repeatable)")
	f.StringArrayVar(&o.skip, "skip", nil, "skip specs whose text matches this regular expression (repeatable)")
	f.DurationVar(&o.timeout, "timeout", time.Hour, "overall timeout of the run")
	f.BoolVar(&o.keep, "keep", false, "leave the hermetic target running after the run")
	f.StringVar(&o.resultsDir, "results-dir", "results", "where results/<run-id>/ is written")
	f.StringVar(&o.model, "model", "", "vcsim model YAML for a hermetic target started by this run")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "print each spec's steps and output")
	f.IntVar(&o.procs, "procs", 1, "run specs in this many parallel processes against the same target")
	f.StringVar(&o.shard, "shard", "", "INDEX/TOTAL: run only this process's share of the specs (set by --procs)")
	f.Int64Var(&o.seed, "seed", 0, "Ginkgo random seed (0: from the clock)")
	f.StringVar(&o.runID, "run-id", "", "name of the run's results folder (default: the UTC time)")
	f.StringVar(&o.leakCheck, "leak-check", "spec", "spec: inventory the target around every spec and the run; run: around the run only (a shared cluster where others create objects meanwhile)")
	f.BoolVar(&o.dryRun, "dry-run", false, "list the specs the filters and the target's declared capabilities select, with skip reasons; touches no target")
	f.StringVar(&o.sonobuoyTarball, "sonobuoy-tarball", "", "also package the run as a Sonobuoy results tarball `FILE` (read by 'sonobuoy results FILE')")
	for _, hidden := range []string{"shard", "seed", "run-id"} {
		f.MarkHidden(hidden)
	}
	addWithFlag(cmd, &o.with)
	paths.addFlags(cmd)
	// Shell completion (`vsconform completion bash|zsh|fish|powershell`).
	cmd.RegisterFlagCompletionFunc("target", cobra.FixedCompletions([]string{"hermetic", "existing"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.RegisterFlagCompletionFunc("label-filter", cobra.FixedCompletions(labels.Known, cobra.ShellCompDirectiveNoFileComp))
	cmd.MarkFlagFilename("config", "yaml", "yml")
	cmd.MarkFlagFilename("model", "yaml", "yml")
	cmd.MarkFlagDirname("results-dir")
	return cmd
}

func runSuites(cmd *cobra.Command, o runOptions, paths *simPaths) (err error) {
	stderr := cmd.ErrOrStderr()
	// Every flag is checked before anything starts.
	if err := o.check(); err != nil {
		return err
	}
	specLeakCheck = o.leakCheck == "spec"
	if o.shard != "" {
		if shard.index, shard.total, err = parseShard(o.shard); err != nil {
			return usageErr("%v", err)
		}
		shard.serialPass = o.shard == serialShard
	}
	if o.dryRun {
		if o.procs > 1 || o.sonobuoyTarball != "" || o.keep {
			return usageErr("--dry-run runs nothing: it takes no --procs, --keep or --sonobuoy-tarball")
		}
		return dryRun(cmd, o, paths)
	}
	ctx, interrupted, stopWatching := watchInterrupts(stderr)
	defer stopWatching()

	var configPath string
	var sim *stack.State
	switch o.target {
	case "hermetic":
		if o.config != "" {
			return usageErr("--config is for --target existing; the hermetic target writes its own")
		}
		with, werr := stack.ParseWith(o.with)
		if werr != nil {
			return usageErr("%v", werr)
		}
		var started bool
		sim, started, err = ensureHermetic(ctx, cmd, paths, o.model, with)
		if err != nil {
			return err
		}
		if started && !o.keep {
			defer func() {
				fmt.Fprintln(stderr, "stopping the hermetic target (use --keep to leave it running)")
				if derr := stack.Down(sim.Dir); derr != nil && err == nil {
					err = usageErr("sim down: %v", derr)
				}
			}()
		}
		configPath = sim.TargetConfig
	case "existing":
		configPath = o.config
	default:
		return usageErr("--target %q: want hermetic or existing", o.target)
	}

	cfg, t, err := connectTarget(ctx, configPath)
	if err != nil {
		return err
	}
	defer t.Close()

	runID := o.runID
	if runID == "" {
		runID = time.Now().UTC().Format("20060102-150405")
	}
	dir := filepath.Join(o.resultsDir, runID)
	target.SetRunID(runID)
	if sim != nil {
		target.SetDefectProfile(sim.Defect)
	}
	interrupted.setRunID(runID)
	target.Use(t)
	fmt.Fprintf(stderr, "run %s against %s (label filter %q)\n", runID, cfg.Name, o.labelFilter)
	// What is under test, read before the specs change anything.
	var qualified *reports.Qualified
	if o.shard == "" {
		qualified = qualification(ctx, t, sim)
		fmt.Fprintf(stderr, "qualifying Kubernetes %s, %s, %d components\n", orUnknown(qualified.Kubernetes), orUnknown(qualified.VCenter), len(qualified.Components))
	}
	// The environment's preflight: its errors fail the run, the specs run
	// anyway (what they find says more than the finding alone).
	var findings []reports.Finding
	if o.shard == "" {
		pf := runPreflight(ctx, t)
		for _, f := range pf.Findings {
			fmt.Fprintln(stderr, "preflight: "+f.String())
		}
		fmt.Fprintf(stderr, "preflight: %d errors, %d warnings\n", pf.Errors(), pf.Warnings())
		findings = reportFindings(pf)
	}

	var run reports.Run
	succeeded := true
	seed := o.seed
	if o.procs > 1 && o.shard == "" {
		if seed == 0 {
			seed = time.Now().UnixNano() % 1_000_000_000
		}
		o.seed = seed
		if run, err = runShards(ctx, o, configPath, dir, runID, t); err != nil {
			return usageErr("%v", err)
		}
	} else {
		var sl *statusLine
		if o.shard == "" {
			sl = newStatusLine(stderr, lastRunDurations(o.resultsDir, cfg.Name, o.labelFilter, strings.Join(o.focus, " | ")))
		}
		outcome := runGinkgo(ginkgoOptions{
			labelFilter: o.labelFilter, focus: o.focus, skip: o.skip, timeout: o.timeout,
			verbose: o.verbose, progress: stderr, seed: o.seed, observer: o.plugin.observer(), status: sl,
		})
		run = reports.FromGinkgo(outcome.report, runID, cfg.Name)
		attachChecked(&run)
		run.LabelFilter, run.Focus = o.labelFilter, strings.Join(o.focus, " | ")
		succeeded = outcome.succeeded
		seed = outcome.report.SuiteConfig.RandomSeed
	}
	if qualified != nil {
		qualified.Seed = seed
		run.Qualified = qualified
	}
	run.Preflight = findings
	red := reports.NewRedactor(cfg.Secrets()...)
	if o.shard == "" {
		run.Logs = copyLogs(dir, logSources(cfg, sim), red)
	}
	if err := reports.Write(dir, run, red); err != nil {
		return usageErr("writing reports: %v", err)
	}
	sum := run.Summary().Totals
	fmt.Fprintf(cmd.OutOrStdout(), "%d passed, %d failed, %d skipped\n", sum.Passed, sum.Failures(), sum.Skipped+sum.Pending)
	fmt.Fprintf(cmd.OutOrStdout(), "report: %s\n", filepath.Join(dir, reports.HTMLFile))
	if err := finishSonobuoy(cmd, o, dir, runID); err != nil {
		return err
	}
	if sig := interrupted.signal(); sig != nil {
		return &exitError{code: signalExitCode(sig), err: fmt.Errorf("interrupted by %s: the report marks the interrupted spec; `vsconform cleanup --run-id %s` removes anything left", signalName(sig), runID)}
	}
	if !succeeded || !run.Passed() {
		return &exitError{code: exitFailed, err: errors.New("some specs failed")}
	}
	return nil
}

// ensureHermetic reuses a running hermetic target or starts one.
func ensureHermetic(ctx context.Context, cmd *cobra.Command, paths *simPaths, model string, with map[string]string) (*stack.State, bool, error) {
	if _, err := paths.resolve(); err != nil {
		return nil, false, usageErr("%v", err)
	}
	if s, err := stack.Load(paths.stateDir); err == nil && s.Ready && s.AnyAlive() {
		if len(with) > 0 && !maps.Equal(with, s.Replaced) {
			return nil, false, usageErr("--with needs a hermetic target started with it; %s runs other binaries: `vsconform sim down` first", s)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "using the running %s\n", s)
		return s, false, nil
	}
	s, err := simUp(ctx, paths, stack.Options{Model: model, With: with}, cmd)
	return s, err == nil, err
}

// logSources lists the component logs to attach to the report.
func logSources(cfg *target.Config, sim *stack.State) []string {
	if sim != nil {
		return sim.LogFiles()
	}
	if cfg.LogDir == "" {
		return nil
	}
	files, _ := filepath.Glob(filepath.Join(cfg.LogDir, "*.log"))
	return files
}

// copyLogs copies each log into DIR/logs with secrets scrubbed and returns
// their paths relative to dir.
func copyLogs(dir string, files []string, red reports.Redactor) []string {
	if len(files) == 0 {
		return nil
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		name := filepath.Base(f)
		for seen[name] {
			name = "x-" + name
		}
		seen[name] = true
		rel := filepath.Join("logs", name)
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(red.Redact(string(data))), 0o644); err == nil {
			out = append(out, rel)
		}
	}
	return out
}
