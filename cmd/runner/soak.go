package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vsphere-conformance/vsphere-conformance/sim/stack"
	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// A soak runs the hermetic suite many times, each run a `vsconform run`
// child of its own, some interrupted and some under transient vCenter
// faults, and reports what one run cannot show: flaky specs, leaks of the
// interrupt path, the spread of wall times.

type soakOptions struct {
	runs           int
	out            string
	seed           int64
	interruptEvery int
	faultsEvery    int
	labelFilter    string
	focus          []string
}

const (
	defaultSoakRuns = 20
	// soakResultsDir is run's default --results-dir, where --out goes by default.
	soakResultsDir = "results"
	// An interrupt lands between minInterruptAt and interruptShare of the
	// last clean run's wall time: late enough that specs are under way,
	// early enough that the run has not ended.
	minInterruptAt = 20 * time.Second
	interruptShare = 0.8
	// defaultInterruptRef stands in for the last clean run until one has
	// finished; a full run of every suite takes longer.
	defaultInterruptRef = 10 * time.Minute
	// faultRunExclusion keeps out of a fault run the specs a stray fault
	// would break by design: those that count vCenter calls or inject
	// faults of their own.
	faultRunExclusion = "!" + labels.Cost + " && !" + labels.Disruptive
	// faultAdminTimeout bounds each call to the fault endpoint.
	faultAdminTimeout = 30 * time.Second
	// maxPrintedReasons keeps the last words short; soak.txt has them all.
	maxPrintedReasons = 10
)

// soakFaultMethods are the CNS calls the CSI driver retries after a
// SystemError: a transient fault there must not fail a spec.
var soakFaultMethods = []string{"CnsCreateVolume", "CnsAttachVolume", "CnsDetachVolume", "CnsDeleteVolume", "CnsExtendVolume"}

const soakFaultObject = "CnsVolumeManager"

func newSoakCommand() *cobra.Command {
	var o soakOptions
	var paths simPaths
	cmd := &cobra.Command{
		Use:   "soak",
		Short: "Run the hermetic suite many times, some runs interrupted or under transient faults; report flakes and leaks",
		Long: `Run the suites on the hermetic target --runs times, each as a 'vsconform run'
child with its results in --out/run-NN. Every --interrupt-every-th run gets
SIGINT at a seeded random point (from 20 s to 80% of the last clean run's wall
time), then 'vsconform cleanup --run-id' removes what it left. Every
--faults-every-th run first gets a seeded set of transient SystemError rules on
the CNS calls the driver retries, and leaves out the 'cost' and 'disruptive'
specs. The first run brings the target up if none is running (soak then stops
it at the end); later runs reuse it.

Writes soak.json and soak.txt to --out: per spec its outcomes and whether it
flaked, per run its kind, exit code, wall time, counts, failures and leaks.
--seed repeats a soak's schedule, fault rules, spec orders and interrupt points
(relative to the runs' wall times). SIGINT or SIGTERM interrupts the current
run and stops the soak after writing the partial report.

Exit codes: 0 no spec failed in a run that was not interrupted, nothing
leaked and every run's exit code matches its report; 1 otherwise; 2 usage
error; 130/143 stopped by SIGINT/SIGTERM.`,
		Example: `  vsconform soak
  vsconform soak --runs 4 --interrupt-every 2 --faults-every 3 --label-filter 'csi && provisioning'
  vsconform soak --seed 123456789 --runs 20   # repeat an earlier soak's schedule`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("seed") {
				o.seed = time.Now().UnixNano() % 1_000_000_000
			}
			if o.out == "" {
				o.out = filepath.Join(soakResultsDir, "soak-"+time.Now().UTC().Format("20060102-150405"))
			}
			// Every flag is checked before anything starts.
			if err := o.check(); err != nil {
				return err
			}
			self, err := paths.resolve()
			if err != nil {
				return usageErr("%v", err)
			}
			return runSoak(cmd, o, self, paths)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.runs, "runs", defaultSoakRuns, "how many runs")
	f.StringVar(&o.out, "out", "", "directory of the soak report and the runs' results (default: "+soakResultsDir+"/soak-<UTC time>)")
	f.Int64Var(&o.seed, "seed", 0, "seed of the schedule, fault rules, spec orders and interrupt points (default: from the clock; printed)")
	f.IntVar(&o.interruptEvery, "interrupt-every", 4, "interrupt every K-th run with SIGINT, then clean up after it (0: never)")
	f.IntVar(&o.faultsEvery, "faults-every", 3, "inject transient CNS faults into every K-th run (0: never)")
	f.StringVar(&o.labelFilter, "label-filter", "", "Ginkgo label filter of every run, e.g. 'csi && !scale'")
	f.StringArrayVar(&o.focus, "focus", nil, "run only specs whose text matches this regular expression (repeatable)")
	paths.addFlags(cmd)
	cmd.RegisterFlagCompletionFunc("label-filter", cobra.FixedCompletions(labels.Known, cobra.ShellCompDirectiveNoFileComp))
	cmd.MarkFlagDirname("out")
	return cmd
}

// check validates soak's flags in the order a user reads them; it creates
// --out last, so that a bad flag leaves nothing behind.
func (o *soakOptions) check() error {
	if o.runs < 1 {
		return usageErr("--runs %d: want 1 or more", o.runs)
	}
	if o.interruptEvery < 0 {
		return usageErr("--interrupt-every %d: want K >= 1 (every K-th run) or 0 (never)", o.interruptEvery)
	}
	if o.faultsEvery < 0 {
		return usageErr("--faults-every %d: want K >= 1 (every K-th run) or 0 (never)", o.faultsEvery)
	}
	if err := labels.Validate(o.labelFilter); err != nil {
		return usageErr("%v", err)
	}
	if err := checkRegexps("--focus", o.focus); err != nil {
		return err
	}
	if err := checkRunID(soakRunID(o.seed, o.runs)); err != nil {
		return usageErr("--seed %d: gives run IDs such as %q that are no valid label value", o.seed, soakRunID(o.seed, o.runs))
	}
	return checkSoakOut(o.out)
}

// checkSoakOut refuses an --out that holds an earlier soak, whose report
// and runs this one would mix with, and creates it.
func checkSoakOut(dir string) error {
	if dir != "" {
		if _, err := os.Stat(filepath.Join(dir, soakJSONFile)); err == nil {
			return usageErr("--out %s: holds a soak already (%s); give a new directory", dir, soakJSONFile)
		}
		if runs, _ := filepath.Glob(filepath.Join(dir, "run-*")); len(runs) > 0 {
			return usageErr("--out %s: holds runs already (%s); give a new directory", dir, filepath.Base(runs[0]))
		}
	}
	return ensureWritableDir("--out", dir)
}

// soakRunID names a soak's run: its results folder, the label on what it
// creates and the run of the fault rules made for it, so `vsconform cleanup
// --run-id` finds all of it.
func soakRunID(seed int64, index int) string {
	return fmt.Sprintf("soak-%d-%02d", seed, index)
}

// soakKind is what run index (1-based) is: an interrupt wins over faults,
// so an interrupted run's leftovers are never blamed on a fault.
func soakKind(index, interruptEvery, faultsEvery int) string {
	switch {
	case interruptEvery > 0 && index%interruptEvery == 0:
		return kindInterrupted
	case faultsEvery > 0 && index%faultsEvery == 0:
		return kindFaults
	}
	return kindClean
}

// Random streams of a run: each draw has its own, so that a soak repeated
// with its seed gets the same values whatever else changed.
const (
	streamGinkgo = iota + 1
	streamInterrupt
	streamFaults
)

func soakRand(seed int64, index int, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), uint64(index)<<8|stream))
}

// soakGinkgoSeed is the Ginkgo seed of a run (never 0, which means "from
// the clock" to run).
func soakGinkgoSeed(seed int64, index int) int64 {
	return 1 + soakRand(seed, index, streamGinkgo).Int64N(999_999_999)
}

// soakInterruptAt is when an interrupted run gets its SIGINT, after its
// start: a seeded point between minInterruptAt and interruptShare of ref.
func soakInterruptAt(seed int64, index int, ref time.Duration) time.Duration {
	hi := max(time.Duration(float64(ref)*interruptShare), minInterruptAt)
	frac := soakRand(seed, index, streamInterrupt).Float64()
	return (minInterruptAt + time.Duration(frac*float64(hi-minInterruptAt))).Round(time.Second)
}

// soakFaultProfile is a fault run's rules: two or three of the retried CNS
// methods, each failing once or twice with SystemError after letting 0-5
// calls through.
func soakFaultProfile(seed int64, index int) []target.FaultRule {
	rng := soakRand(seed, index, streamFaults)
	runID := soakRunID(seed, index)
	n := 2 + rng.IntN(2)
	var rules []target.FaultRule
	for _, i := range rng.Perm(len(soakFaultMethods))[:n] {
		rules = append(rules, target.FaultRule{
			Method:  soakFaultMethods[i],
			Object:  soakFaultObject,
			Fault:   "SystemError",
			Message: "transient fault of soak run " + runID,
			Times:   1 + rng.IntN(2),
			Skip:    rng.IntN(6),
			Run:     runID,
		})
	}
	return rules
}

// faultRunFilter is a fault run's label filter: the user's, without the
// specs faultRunExclusion names.
func faultRunFilter(user string) string {
	if strings.TrimSpace(user) == "" {
		return faultRunExclusion
	}
	return "(" + user + ") && " + faultRunExclusion
}

// soaker is one soak in progress.
type soaker struct {
	o     soakOptions
	self  string
	paths simPaths
	log   io.Writer // progress lines (stderr)
	kids  *children
	head  soakHeader
	runs  []soakRun
	// startedTarget: a child of this soak brought the hermetic target up,
	// so the soak brings it down at the end.
	startedTarget bool
	// lastCleanRef is the wall time of the last clean run, for the next
	// interrupt point.
	lastCleanRef time.Duration
	aborted      string // why the soak stopped before its last run
}

func runSoak(cmd *cobra.Command, o soakOptions, self string, paths simPaths) error {
	s := &soaker{o: o, self: self, paths: paths, log: cmd.ErrOrStderr(), head: newSoakHeader(o, time.Now())}
	s.kids = watchSoakSignals(s.log)
	defer s.kids.close()
	fmt.Fprintf(s.log, "soak: %d runs, seed %d (repeat: %s), results in %s\n", o.runs, o.seed, s.head.Repeat, o.out)
	for i := 1; i <= o.runs && s.kids.stopped() == nil && s.aborted == ""; i++ {
		r, ok := s.runOne(i)
		if !ok {
			break
		}
		s.runs = append(s.runs, r)
		// After every run, so a soak that is killed still leaves its report.
		if err := s.write(); err != nil {
			fmt.Fprintf(s.log, "soak: writing the report so far: %v\n", err)
		}
	}
	s.bringDown()
	rep := s.report()
	if err := writeSoakReport(o.out, rep); err != nil {
		return usageErr("soak report: %v", err)
	}
	out := cmd.OutOrStdout()
	fmt.Fprintln(out, soakSummaryLine(rep))
	for i, r := range rep.Reasons {
		if i == maxPrintedReasons {
			fmt.Fprintf(out, "  ... %d more in %s\n", len(rep.Reasons)-i, soakTextFile)
			break
		}
		fmt.Fprintln(out, "  - "+oneLineText(r))
	}
	fmt.Fprintf(out, "soak report: %s (and %s)\n", filepath.Join(o.out, soakTextFile), soakJSONFile)
	if sig := s.kids.stopped(); sig != nil {
		return &exitError{code: signalExitCode(sig), err: fmt.Errorf("soak stopped by %s after %d of %d runs: the partial report is written", signalName(sig), len(s.runs), o.runs)}
	}
	if !rep.Passed {
		return &exitError{code: exitFailed, err: errors.New("soak failed")}
	}
	return nil
}

func (s *soaker) report() soakReport {
	h := s.head
	h.FinishedAt = time.Now()
	h.Aborted = s.aborted
	if sig := s.kids.stopped(); sig != nil {
		h.StoppedBy = signalName(sig)
	}
	return buildSoakReport(h, s.runs)
}

func (s *soaker) write() error { return writeSoakReport(s.o.out, s.report()) }

// runOne runs the soak's index-th run; false when it did not start (the
// soak was stopped, or the target could not be brought up).
func (s *soaker) runOne(index int) (soakRun, bool) {
	kind := soakKind(index, s.o.interruptEvery, s.o.faultsEvery)
	r := soakRun{Index: index, Kind: kind, RunID: soakRunID(s.o.seed, index), Dir: fmt.Sprintf("run-%02d", index),
		LabelFilter: s.o.labelFilter, GinkgoSeed: soakGinkgoSeed(s.o.seed, index)}
	dir := filepath.Join(s.o.out, r.Dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.aborted = fmt.Sprintf("run %02d: %v", index, err)
		return r, false
	}
	// An interrupt or fault rules need the target up before the run
	// starts: the run's own bring-up would eat the interrupt's time, and
	// the rules need the endpoint.
	if kind != kindClean && !s.ensureUp(dir) {
		return r, false
	}
	if hermeticRunning(s.paths.stateDir) == nil {
		r.BroughtUpTarget = true
		s.startedTarget = true
	}
	var admin *faultAdmin
	if kind == kindFaults {
		admin = s.injectFaults(&r)
	}
	var interruptAt time.Duration
	if kind == kindInterrupted {
		interruptAt = soakInterruptAt(s.o.seed, index, s.interruptRef())
		r.InterruptAtSeconds = interruptAt.Seconds()
	}
	s.progress(r, interruptAt)
	res := s.kids.run(s.self, s.runArgs(r), filepath.Join(dir, soakRunLog), interruptAt)
	s.liftFaults(&r, admin)
	if errors.Is(res.err, errSoakStopped) {
		return r, false
	}
	if res.stoppedBy != nil {
		r.StoppedBy = signalName(res.stoppedBy)
	}
	rep, repErr := loadRunReport(filepath.Join(dir, r.RunID))
	recordOutcome(&r, res, rep, repErr)
	// Exit 2 without a report is a usage, config or connection error: the
	// next run would only repeat it.
	if res.exit == exitUsage && repErr != nil && r.judged() {
		s.aborted = fmt.Sprintf("run %02d exited 2 without a report (see %s)", index, filepath.Join(dir, soakRunLog))
	}
	if r.Interrupted {
		s.cleanupAfter(&r, dir)
	}
	s.noteCleanRef(r)
	fmt.Fprintln(s.log, "soak: "+runLine(r))
	return r, true
}

func (s *soaker) progress(r soakRun, interruptAt time.Duration) {
	what := r.Kind
	switch {
	case interruptAt > 0:
		what += fmt.Sprintf(", SIGINT at %s", interruptAt)
	case len(r.Faults) > 0:
		what += fmt.Sprintf(", %d fault rules", len(r.Faults))
	}
	fmt.Fprintf(s.log, "soak: run %02d/%02d (%s): log %s\n", r.Index, s.o.runs, what, filepath.Join(s.o.out, r.Dir, soakRunLog))
}

// runArgs is the child `vsconform run` of r: --keep, so that the next run
// reuses the target the first one brought up.
func (s *soaker) runArgs(r soakRun) []string {
	args := []string{"run", "--target", "hermetic", "--keep",
		"--results-dir", filepath.Join(s.o.out, r.Dir), "--run-id", r.RunID,
		"--seed", strconv.FormatInt(r.GinkgoSeed, 10)}
	if r.LabelFilter != "" {
		args = append(args, "--label-filter", r.LabelFilter)
	}
	for _, f := range s.o.focus {
		args = append(args, "--focus", f)
	}
	return append(args, s.pathArgs()...)
}

func (s *soaker) pathArgs() []string {
	return []string{"--state-dir", s.paths.stateDir, "--bin-dir", s.paths.binDir}
}

// interruptRef is the wall time the next interrupt point is a share of.
func (s *soaker) interruptRef() time.Duration {
	if s.lastCleanRef > 0 {
		return s.lastCleanRef
	}
	return defaultInterruptRef
}

// noteCleanRef keeps a clean run's wall time for the next interrupt; for
// the run that brought the target up, the report's own span, which leaves
// the bring-up out.
func (s *soaker) noteCleanRef(r soakRun) {
	if r.Kind != kindClean || !r.judged() || (r.ExitCode != exitPassed && r.ExitCode != exitFailed) {
		return
	}
	ref := time.Duration(r.WallSeconds * float64(time.Second))
	if r.BroughtUpTarget && r.span > 0 {
		ref = r.span
	}
	s.lastCleanRef = ref
}

// ensureUp brings the hermetic target up with a `vsconform sim up` child
// if none is running; false (and the soak aborted) if that failed.
func (s *soaker) ensureUp(dir string) bool {
	if hermeticRunning(s.paths.stateDir) != nil {
		return true
	}
	log := filepath.Join(dir, "sim-up.log")
	fmt.Fprintf(s.log, "soak: starting the hermetic target (log %s)\n", log)
	s.startedTarget = true
	res := s.kids.run(s.self, append([]string{"sim", "up"}, s.pathArgs()...), log, 0)
	if s.kids.stopped() != nil {
		return false
	}
	if res.err != nil || res.exit != exitPassed {
		s.aborted = fmt.Sprintf("the hermetic target did not come up (exit %d, see %s)", res.exit, log)
		return false
	}
	return true
}

// bringDown stops the hermetic target if this soak brought it up.
func (s *soaker) bringDown() {
	if !s.startedTarget {
		return
	}
	fmt.Fprintln(s.log, "soak: stopping the hermetic target it started")
	if err := stack.Down(s.paths.stateDir); err != nil && !errors.Is(err, stack.ErrNotRunning) {
		s.head.Problems = append(s.head.Problems, "sim down: "+errorLine(err.Error()))
	}
}

// hermeticRunning is the running hermetic target in stateDir, as run
// decides whether to reuse one, or nil.
func hermeticRunning(stateDir string) *stack.State {
	if st, err := stack.Load(stateDir); err == nil && st.Ready && st.AnyAlive() {
		return st
	}
	return nil
}

// injectFaults posts r's fault rules; without an endpoint the run is a
// plain one and says so.
func (s *soaker) injectFaults(r *soakRun) *faultAdmin {
	admin, why := s.faultAdmin()
	if admin == nil {
		r.Kind = kindClean
		r.Notes = append(r.Notes, "scheduled for faults, run plain: "+why)
		s.head.FaultsUnavailable = why
		return nil
	}
	r.LabelFilter = faultRunFilter(s.o.labelFilter)
	for _, rule := range soakFaultProfile(s.o.seed, r.Index) {
		st, err := admin.add(rule)
		if err != nil {
			r.Problems = append(r.Problems, "fault endpoint: "+errorLine(err.Error()))
			break
		}
		r.Faults = append(r.Faults, st)
	}
	return admin
}

// liftFaults removes r's rules after the run, with how often each hit, so
// that none outlives its run.
func (s *soaker) liftFaults(r *soakRun, admin *faultAdmin) {
	if admin == nil || len(r.Faults) == 0 {
		return
	}
	if held, err := admin.list(); err == nil {
		hits := map[string]int64{}
		for _, h := range held {
			hits[h.ID] = h.Hits
		}
		for i := range r.Faults {
			r.Faults[i].Hits = hits[r.Faults[i].ID]
		}
	}
	for _, f := range r.Faults {
		if err := admin.remove(f.ID); err != nil {
			r.Problems = append(r.Problems, "fault rule "+f.ID+" not removed: "+errorLine(err.Error()))
		}
	}
}

// faultAdmin is a client of the running target's fault endpoint, or nil
// and why there is none.
func (s *soaker) faultAdmin() (*faultAdmin, string) {
	st := hermeticRunning(s.paths.stateDir)
	if st == nil {
		return nil, "no hermetic target is running"
	}
	// The file alone: the environment's KUBECONFIG and GOVC_* are not the
	// hermetic target's.
	cfg, err := target.LoadConfig(st.TargetConfig, func(string) string { return "" })
	if err != nil {
		return nil, errorLine(err.Error())
	}
	if cfg.Faults == nil {
		return nil, "the target config " + st.TargetConfig + " has no faults endpoint (faults.url, faults.tokenFile)"
	}
	admin, err := newFaultAdmin(cfg.Faults)
	if err != nil {
		return nil, errorLine(err.Error())
	}
	return admin, ""
}

// cleanupAfter runs `vsconform cleanup --run-id` after an interrupted run
// and records what it removed: what the interrupt path left.
func (s *soaker) cleanupAfter(r *soakRun, dir string) {
	log := filepath.Join(dir, soakCleanupLog)
	res := s.kids.run(s.self, append([]string{"cleanup", "--run-id", r.RunID}, s.pathArgs()...), log, 0)
	if errors.Is(res.err, errSoakStopped) {
		r.Notes = append(r.Notes, "no cleanup, the soak was stopped: `vsconform cleanup --run-id "+r.RunID+"` removes what the run left")
		return
	}
	out, _ := os.ReadFile(log)
	recordCleanup(r, res, out)
}

// recordCleanup records the "removed ..." lines of a cleanup's output and
// whether it failed.
func recordCleanup(r *soakRun, res childResult, out []byte) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if obj, ok := strings.CutPrefix(sc.Text(), "removed "); ok {
			r.CleanupRemoved = append(r.CleanupRemoved, obj)
			r.Leaks = append(r.Leaks, soakLeak{Source: leakFromCleanup, Detail: obj})
		}
	}
	if res.err != nil || res.exit != exitPassed {
		r.Problems = append(r.Problems, fmt.Sprintf("cleanup --run-id %s: exit %d (see %s)", r.RunID, res.exit, filepath.Join(r.Dir, soakCleanupLog)))
	}
}

// children runs the soak's child processes, one at a time, and forwards
// the soak's SIGINT and SIGTERM to the current one. The soak itself never
// exits on a signal: it writes the partial report first.
type children struct {
	mu        sync.Mutex
	current   *os.Process
	signaled  int       // signals the current child got
	stoppedBy os.Signal // the first signal forwarded to the current child
	first     os.Signal
	sigs      chan os.Signal
	done      chan struct{}
	log       io.Writer
	who       string // the command, in its messages: soak, selftest
}

func watchSoakSignals(log io.Writer) *children { return watchSignals(log, "soak") }

func watchSignals(log io.Writer, who string) *children {
	c := &children{sigs: make(chan os.Signal, 2), done: make(chan struct{}), log: log, who: who}
	signal.Notify(c.sigs, os.Interrupt, syscall.SIGTERM)
	go c.forward()
	return c
}

func (c *children) forward() {
	for {
		select {
		case <-c.done:
			return
		case sig := <-c.sigs:
			c.mu.Lock()
			first := c.first == nil
			if first {
				c.first = sig
				fmt.Fprintf(c.log, "%s: %s: interrupting the current run and stopping after it; the partial report is written (a second signal stops the run at once)\n", c.who, signalName(sig))
			}
			// A child interrupted on schedule is stopping already: the
			// first signal would be its second, which skips its cleanup.
			if c.current != nil && (!first || c.signaled == 0) {
				c.current.Signal(sig)
				c.signaled++
				if c.stoppedBy == nil {
					c.stoppedBy = sig
				}
			}
			c.mu.Unlock()
		}
	}
}

func (c *children) close() {
	signal.Stop(c.sigs)
	close(c.done)
}

// stopped is the first signal the soak got, or nil.
func (c *children) stopped() os.Signal {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.first
}

// childResult is how a child process ended.
type childResult struct {
	exit          int // -1: killed by a signal, or never started
	wall          time.Duration
	interruptSent bool
	stoppedBy     os.Signal // the soak's own signal, forwarded to it
	err           error     // it could not be started or waited for
}

// errSoakStopped: a child is not started once the soak got a signal.
var errSoakStopped = errors.New("the soak was stopped")

// run runs self with args, its output to logPath, and waits for it; with
// interruptAt > 0 it gets SIGINT that long after its start.
func (c *children) run(self string, args []string, logPath string, interruptAt time.Duration) childResult {
	logFile, err := os.Create(logPath)
	if err != nil {
		return childResult{exit: -1, err: err}
	}
	defer logFile.Close()
	cmd := exec.Command(self, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// A group of its own: a Ctrl-C on the terminal reaches the soak alone,
	// which forwards it once, not twice (the second would stop at once).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Under the lock, so that a signal either stops the soak before the
	// start or is forwarded to the child.
	c.mu.Lock()
	if c.first != nil {
		c.mu.Unlock()
		return childResult{exit: -1, err: errSoakStopped}
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		c.mu.Unlock()
		return childResult{exit: -1, err: err}
	}
	c.current, c.signaled, c.stoppedBy = cmd.Process, 0, nil
	c.mu.Unlock()
	sent := false
	if interruptAt > 0 {
		timer := time.AfterFunc(interruptAt, func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.current == cmd.Process && c.signaled == 0 && cmd.Process.Signal(os.Interrupt) == nil {
				c.signaled++
				sent = true
			}
		})
		defer timer.Stop()
	}
	werr := cmd.Wait()
	c.mu.Lock()
	c.current = nil
	res := childResult{exit: -1, wall: time.Since(start), interruptSent: sent, stoppedBy: c.stoppedBy}
	c.mu.Unlock()
	if cmd.ProcessState != nil {
		res.exit = cmd.ProcessState.ExitCode()
	}
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		res.err = werr
	}
	return res
}

// faultAdmin is a small client of the hermetic target's fault endpoint:
// target's own is unexported and fails a Ginkgo spec on error, and soak
// runs outside any spec. The token only ever goes into the header.
type faultAdmin struct {
	base  *url.URL
	token string
	http  *http.Client
}

func newFaultAdmin(e *target.FaultsEndpoint) (*faultAdmin, error) {
	u, err := url.Parse(e.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("faults.url %q: want http://127.0.0.1:PORT", e.URL)
	}
	tok, err := os.ReadFile(e.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("faults.tokenFile %s: %s", e.TokenFile, fileReason(err))
	}
	token := strings.TrimSpace(string(tok))
	if token == "" {
		return nil, fmt.Errorf("faults.tokenFile %s: empty", e.TokenFile)
	}
	return &faultAdmin{base: u, token: token, http: &http.Client{Timeout: faultAdminTimeout}}, nil
}

func (a *faultAdmin) add(r target.FaultRule) (target.FaultRuleStatus, error) {
	var st target.FaultRuleStatus
	err := a.do(http.MethodPost, target.FaultsPath, r, &st)
	return st, err
}

func (a *faultAdmin) list() ([]target.FaultRuleStatus, error) {
	var rules []target.FaultRuleStatus
	err := a.do(http.MethodGet, target.FaultsPath, nil, &rules)
	return rules, err
}

func (a *faultAdmin) remove(id string) error {
	return a.do(http.MethodDelete, target.FaultsPath+"/"+url.PathEscape(id), nil, nil)
}

// do is one call; not bound to the soak's signals, so that rules are
// lifted after a stopped run too.
func (a *faultAdmin) do(method, path string, in, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), faultAdminTimeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base.JoinPath(path).String(), body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}
