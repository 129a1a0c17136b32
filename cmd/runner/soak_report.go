package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/vsphere-conformance/vsphere-conformance/reports"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// Run kinds of a soak.
const (
	kindClean       = "clean"
	kindInterrupted = "interrupted"
	kindFaults      = "faults"
)

// Files of a soak: the report in --out, the logs in each run's folder.
const (
	soakJSONFile   = "soak.json"
	soakTextFile   = "soak.txt"
	soakRunLog     = "run.log"
	soakCleanupLog = "cleanup.log"
)

// Where a leak was found: a leak check's failure in the run's report, or
// what `vsconform cleanup` removed after an interrupted run (its own
// cleanup should have left nothing).
const (
	leakFromReport  = "report"
	leakFromCleanup = "cleanup"
)

// soakHeader is what a soak was asked to do and how it ended.
type soakHeader struct {
	Seed           int64     `json:"seed"`
	Repeat         string    `json:"repeat"` // the command line that repeats the schedule
	RunsRequested  int       `json:"runsRequested"`
	InterruptEvery int       `json:"interruptEvery"`
	FaultsEvery    int       `json:"faultsEvery"`
	LabelFilter    string    `json:"labelFilter,omitempty"`
	Focus          []string  `json:"focus,omitempty"`
	StartedAt      time.Time `json:"startedAt"`
	FinishedAt     time.Time `json:"finishedAt"`
	StoppedBy      string    `json:"stoppedBy,omitempty"` // the signal that stopped it early
	Aborted        string    `json:"aborted,omitempty"`   // why it stopped early otherwise
	// FaultsUnavailable is why fault runs ran plain (no endpoint).
	FaultsUnavailable string `json:"faultsUnavailable,omitempty"`
	// Problems of the soak itself, such as a failed `sim down`.
	Problems []string `json:"problems,omitempty"`
}

func newSoakHeader(o soakOptions, now time.Time) soakHeader {
	return soakHeader{Seed: o.seed, Repeat: soakRepeatCommand(o), RunsRequested: o.runs,
		InterruptEvery: o.interruptEvery, FaultsEvery: o.faultsEvery,
		LabelFilter: o.labelFilter, Focus: o.focus, StartedAt: now}
}

// soakReport is soak.json.
type soakReport struct {
	soakHeader
	RunsDone               int        `json:"runsDone"`
	MedianCleanWallSeconds float64    `json:"medianCleanWallSeconds"`
	Passed                 bool       `json:"passed"`
	Reasons                []string   `json:"reasons,omitempty"` // why it did not pass
	Flakes                 int        `json:"flakes"`
	Specs                  []soakSpec `json:"specs"`
	Runs                   []soakRun  `json:"runs"`
}

// soakCounts are outcomes by state; pending counts as skipped, and every
// state that is not passed, skipped, pending or interrupted as failed.
type soakCounts struct {
	Passed      int `json:"passed"`
	Failed      int `json:"failed"`
	Skipped     int `json:"skipped"`
	Interrupted int `json:"interrupted"`
}

func (c *soakCounts) add(state string) {
	switch state {
	case reports.StatePassed:
		c.Passed++
	case reports.StateSkipped, reports.StatePending:
		c.Skipped++
	case reports.StateInterrupted:
		c.Interrupted++
	default:
		c.Failed++
	}
}

// soakSpec is one spec over the soak's runs.
type soakSpec struct {
	Suite string `json:"suite"`
	Name  string `json:"name"`
	soakCounts
	// Flake: it failed in one run and passed in another.
	Flake    bool  `json:"flake"`
	FailedIn []int `json:"failedIn,omitempty"` // run indexes
}

// soakLeak is one leak finding of a run.
type soakLeak struct {
	Source string `json:"source"`         // leakFromReport or leakFromCleanup
	Spec   string `json:"spec,omitempty"` // the spec whose leak check failed
	Detail string `json:"detail"`
}

// soakRun is one run of a soak.
type soakRun struct {
	Index       int     `json:"index"`
	Kind        string  `json:"kind"`
	RunID       string  `json:"runID"`
	Dir         string  `json:"dir"` // relative to the soak's --out
	LabelFilter string  `json:"labelFilter,omitempty"`
	GinkgoSeed  int64   `json:"ginkgoSeed"`
	ExitCode    int     `json:"exitCode"`
	WallSeconds float64 `json:"wallSeconds"`
	// BroughtUpTarget: no target was running, so this run's wall time
	// includes the bring-up.
	BroughtUpTarget    bool    `json:"broughtUpTarget,omitempty"`
	InterruptAtSeconds float64 `json:"interruptAtSeconds,omitempty"`
	// Interrupted: the scheduled SIGINT took effect (the run had not ended).
	Interrupted bool `json:"interrupted,omitempty"`
	// StoppedBy is the signal the soak forwarded to the run.
	StoppedBy        string                   `json:"stoppedBy,omitempty"`
	Faults           []target.FaultRuleStatus `json:"faults,omitempty"`
	Counts           soakCounts               `json:"counts"`
	Failed           []string                 `json:"failed,omitempty"`
	InterruptedSpecs []string                 `json:"interruptedSpecs,omitempty"`
	Leaks            []soakLeak               `json:"leaks,omitempty"`
	CleanupRemoved   []string                 `json:"cleanupRemoved,omitempty"`
	// Problems fail the soak (a missing report, an exit code the report
	// does not explain, a failed cleanup); notes do not.
	Problems []string `json:"problems,omitempty"`
	Notes    []string `json:"notes,omitempty"`

	specs []specOutcome // for the per-spec table
	span  time.Duration // the report's own start to finish
}

type specOutcome struct{ suite, name, state string }

// judged tells whether the run's failures count: not when it was
// interrupted, on schedule or by the user.
func (r soakRun) judged() bool { return !r.Interrupted && r.StoppedBy == "" }

// loadRunReport reads a run's report.json.
func loadRunReport(dir string) (reports.Run, error) { return reports.Load(dir) }

// recordOutcome fills r from how its child ended and from its report.
func recordOutcome(r *soakRun, res childResult, rep reports.Run, repErr error) {
	r.ExitCode = res.exit
	r.WallSeconds = math.Round(res.wall.Seconds()*10) / 10
	if res.err != nil {
		r.Problems = append(r.Problems, "the run did not run: "+errorLine(res.err.Error()))
		return
	}
	judgeInterrupt(r, res)
	if repErr != nil {
		r.Problems = append(r.Problems, "no report: "+errorLine(repErr.Error()))
		return
	}
	tallyRun(r, rep)
	checkExit(r, rep)
}

// judgeInterrupt decides whether a scheduled interrupt took effect; a run
// that ended before it is judged as a plain run.
func judgeInterrupt(r *soakRun, res childResult) {
	if r.Kind != kindInterrupted {
		return
	}
	at := seconds(r.InterruptAtSeconds)
	switch {
	case !res.interruptSent:
		r.Notes = append(r.Notes, fmt.Sprintf("ended after %s, before its interrupt at %s: judged as a plain run", seconds(r.WallSeconds), at))
	case res.exit == exitPassed || res.exit == exitFailed:
		r.Notes = append(r.Notes, fmt.Sprintf("the interrupt at %s came as the run ended (exit %d): judged as a plain run", at, res.exit))
	default:
		r.Interrupted = true
		if want := signalExitCode(syscall.SIGINT); res.exit != want {
			r.Problems = append(r.Problems, fmt.Sprintf("interrupted at %s: exit %d, want %d", at, res.exit, want))
		}
	}
}

// tallyRun counts the run's specs and picks out failures and leaks.
func tallyRun(r *soakRun, rep reports.Run) {
	r.span = rep.FinishedAt.Sub(rep.StartedAt)
	for _, sp := range rep.Specs {
		r.Counts.add(sp.State)
		r.specs = append(r.specs, specOutcome{sp.Suite, sp.Name, sp.State})
		switch {
		case sp.State == reports.StateInterrupted:
			r.InterruptedSpecs = append(r.InterruptedSpecs, sp.Name)
		case sp.Failed():
			r.Failed = append(r.Failed, sp.Name)
		}
	}
	r.Leaks = append(r.Leaks, reportLeaks(rep)...)
}

// checkExit records an exit code the report does not explain.
func checkExit(r *soakRun, rep reports.Run) {
	if !r.judged() {
		return
	}
	failing := len(r.Failed) + len(r.InterruptedSpecs)
	switch {
	case r.ExitCode != exitPassed && rep.Passed():
		r.Problems = append(r.Problems, fmt.Sprintf("exit %d, but its report says all %d specs passed", r.ExitCode, r.Counts.Passed))
	case r.ExitCode != exitPassed && failing == 0:
		r.Problems = append(r.Problems, fmt.Sprintf("exit %d with no failed spec: preflight errors %s", r.ExitCode, strings.Join(preflightErrors(rep), ", ")))
	case r.ExitCode == exitPassed && !rep.Passed():
		r.Problems = append(r.Problems, "exit 0, but its report has "+plural(failing, "failed spec"))
	}
}

func preflightErrors(rep reports.Run) []string {
	var ids []string
	for _, f := range rep.Preflight {
		if f.Severity == reports.SeverityError {
			ids = append(ids, f.ID)
		}
	}
	return ids
}

// leakMarks are how the harness's leak checks fail (ginkgo.go, parallel.go):
// the check after each spec and the one around the whole run.
var leakMarks = []string{"leaked objects on the target", "leak check after the spec"}

// maxLeakLines bounds a leak's detail: the objects, not a novel.
const maxLeakLines = 20

// reportLeaks are the failed leak checks of a report.
func reportLeaks(rep reports.Run) []soakLeak {
	var out []soakLeak
	for _, sp := range rep.Specs {
		if sp.Failure == nil {
			continue
		}
		for _, m := range leakMarks {
			if strings.Contains(sp.Failure.Message, m) {
				out = append(out, soakLeak{Source: leakFromReport, Spec: sp.Name, Detail: firstLines(sp.Failure.Message, maxLeakLines)})
				break
			}
		}
	}
	return out
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], fmt.Sprintf("... %d more lines", len(lines)-n))
	}
	return strings.Join(lines, "\n")
}

// buildSoakReport aggregates the runs done so far.
func buildSoakReport(h soakHeader, runs []soakRun) soakReport {
	rep := soakReport{soakHeader: h, RunsDone: len(runs), Runs: runs, Specs: tallySpecs(runs)}
	if rep.Runs == nil {
		rep.Runs = []soakRun{}
	}
	rep.MedianCleanWallSeconds = medianCleanWall(runs)
	rep.Passed, rep.Reasons = soakVerdict(h, runs)
	for _, s := range rep.Specs {
		if s.Flake {
			rep.Flakes++
		}
	}
	return rep
}

// tallySpecs counts each spec's outcomes over the runs: flakes first, then
// the most failures, then by name.
func tallySpecs(runs []soakRun) []soakSpec {
	out := []soakSpec{}
	at := map[[2]string]int{}
	for _, r := range runs {
		for _, o := range r.specs {
			k := [2]string{o.suite, o.name}
			i, ok := at[k]
			if !ok {
				i = len(out)
				at[k] = i
				out = append(out, soakSpec{Suite: o.suite, Name: o.name})
			}
			s := &out[i]
			s.add(o.state)
			if isFailure(o.state) && !slices.Contains(s.FailedIn, r.Index) {
				s.FailedIn = append(s.FailedIn, r.Index)
			}
		}
	}
	for i := range out {
		out[i].Flake = out[i].Failed > 0 && out[i].Passed > 0
	}
	sort.SliceStable(out, func(a, b int) bool {
		x, y := out[a], out[b]
		if x.Flake != y.Flake {
			return x.Flake
		}
		if x.Failed != y.Failed {
			return x.Failed > y.Failed
		}
		if x.Suite != y.Suite {
			return x.Suite < y.Suite
		}
		return x.Name < y.Name
	})
	return out
}

// isFailure is soakCounts' idea of failed.
func isFailure(state string) bool {
	var c soakCounts
	c.add(state)
	return c.Failed == 1
}

// medianCleanWall is the median wall time of the clean runs that ran to
// their end, in seconds; the run that brought the target up only when
// there is no other.
func medianCleanWall(runs []soakRun) float64 {
	var warm, all []float64
	for _, r := range runs {
		if r.Kind != kindClean || !r.judged() || (r.ExitCode != exitPassed && r.ExitCode != exitFailed) {
			continue
		}
		all = append(all, r.WallSeconds)
		if !r.BroughtUpTarget {
			warm = append(warm, r.WallSeconds)
		}
	}
	if len(warm) > 0 {
		return median(warm)
	}
	return median(all)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// soakVerdict fails the soak for a failed spec in a run that was not
// interrupted, any leak, and any problem of a run or of the soak.
func soakVerdict(h soakHeader, runs []soakRun) (bool, []string) {
	var reasons []string
	if h.Aborted != "" {
		reasons = append(reasons, "aborted: "+h.Aborted)
	}
	reasons = append(reasons, h.Problems...)
	for _, r := range runs {
		run := fmt.Sprintf("run %02d", r.Index)
		if n := len(r.Failed) + len(r.InterruptedSpecs); r.judged() && n > 0 {
			reasons = append(reasons, fmt.Sprintf("%s: %s failed", run, plural(n, "spec")))
		}
		if n := len(r.Leaks); n > 0 {
			reasons = append(reasons, fmt.Sprintf("%s: %s", run, plural(n, "leak")))
		}
		for _, p := range r.Problems {
			reasons = append(reasons, run+": "+p)
		}
	}
	return len(reasons) == 0, reasons
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// writeSoakReport writes soak.json and soak.txt into dir.
func writeSoakReport(dir string, rep soakReport) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rep); err != nil {
		return err
	}
	if err := reports.WriteFileAtomic(filepath.Join(dir, soakJSONFile), buf.Bytes()); err != nil {
		return err
	}
	return reports.WriteFileAtomic(filepath.Join(dir, soakTextFile), []byte(soakText(rep)))
}

// soakText is soak.txt: the verdict, the flakes, the other failing specs,
// one line per run, then each run's details.
func soakText(rep soakReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "vsconform soak, seed %d (repeat: %s)\n", rep.Seed, rep.Repeat)
	fmt.Fprintf(&b, "%d of %d runs done; median wall time of clean runs %s\n", rep.RunsDone, rep.RunsRequested, seconds(rep.MedianCleanWallSeconds))
	if rep.StoppedBy != "" {
		fmt.Fprintf(&b, "stopped by %s: a partial report\n", rep.StoppedBy)
	}
	if rep.FaultsUnavailable != "" {
		fmt.Fprintf(&b, "fault runs ran plain: %s\n", rep.FaultsUnavailable)
	}
	if rep.Passed {
		b.WriteString("result: PASSED\n")
	} else {
		b.WriteString("result: FAILED\n")
		for _, r := range rep.Reasons {
			b.WriteString("  - " + oneLineText(r) + "\n")
		}
	}
	var flakes, failing []soakSpec
	for _, s := range rep.Specs {
		switch {
		case s.Flake:
			flakes = append(flakes, s)
		case s.Failed > 0:
			failing = append(failing, s)
		}
	}
	writeSpecTable(&b, "FLAKES (failed in one run, passed in another)", flakes)
	writeSpecTable(&b, "FAILED, NEVER PASSED", failing)
	writeRunTable(&b, rep.Runs)
	writeRunDetails(&b, rep.Runs)
	return b.String()
}

func writeSpecTable(b *strings.Builder, title string, specs []soakSpec) {
	fmt.Fprintf(b, "\n%s\n", title)
	if len(specs) == 0 {
		b.WriteString("(none)\n")
		return
	}
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PASSED\tFAILED\tSKIPPED\tINTERRUPTED\tFAILED IN RUNS\tSPEC")
	for _, s := range specs {
		var in []string
		for _, i := range s.FailedIn {
			in = append(in, fmt.Sprintf("%02d", i))
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%s\t[%s] %s\n", s.Passed, s.Failed, s.Skipped, s.Interrupted, strings.Join(in, ","), s.Suite, s.Name)
	}
	tw.Flush()
}

func writeRunTable(b *strings.Builder, runs []soakRun) {
	b.WriteString("\nRUNS\n")
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tKIND\tEXIT\tWALL\tPASSED\tFAILED\tSKIPPED\tINTERRUPTED\tLEAKS\tRUN ID\tNOTE")
	for _, r := range runs {
		fmt.Fprintf(tw, "%02d\t%s\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", r.Index, r.Kind, r.ExitCode, seconds(r.WallSeconds),
			r.Counts.Passed, r.Counts.Failed, r.Counts.Skipped, r.Counts.Interrupted, len(r.Leaks), r.RunID, runNote(r))
	}
	tw.Flush()
}

// runNote is the short remark of a run's table line.
func runNote(r soakRun) string {
	var n []string
	if r.BroughtUpTarget {
		n = append(n, "brought the target up")
	}
	if r.Interrupted {
		n = append(n, "SIGINT at "+seconds(r.InterruptAtSeconds).String())
	}
	if len(r.Faults) > 0 {
		n = append(n, plural(len(r.Faults), "fault rule"))
	}
	if r.StoppedBy != "" {
		n = append(n, "stopped by "+r.StoppedBy)
	}
	if len(r.Problems) > 0 {
		n = append(n, plural(len(r.Problems), "problem"))
	}
	return strings.Join(n, ", ")
}

func writeRunDetails(b *strings.Builder, runs []soakRun) {
	for _, r := range runs {
		var lines []string
		for _, f := range r.Faults {
			lines = append(lines, fmt.Sprintf("fault rule: %s %s on %s, skip %d, times %d: hit %d", f.Rule.Fault, f.Rule.Method, f.Rule.Object, f.Rule.Skip, f.Rule.Times, f.Hits))
		}
		for _, s := range r.Failed {
			lines = append(lines, "failed: "+s)
		}
		for _, s := range r.InterruptedSpecs {
			lines = append(lines, "interrupted: "+s)
		}
		for _, l := range r.Leaks {
			what := "leak (" + l.Source + ")"
			if l.Spec != "" {
				what += " in " + l.Spec
			}
			lines = append(lines, what+": "+oneLineText(l.Detail))
		}
		for _, p := range r.Problems {
			lines = append(lines, "problem: "+p)
		}
		for _, n := range r.Notes {
			lines = append(lines, "note: "+n)
		}
		if len(lines) == 0 {
			continue
		}
		fmt.Fprintf(b, "\nrun %02d (%s, %s, log %s)\n", r.Index, r.Kind, r.RunID, filepath.Join(r.Dir, soakRunLog))
		for _, l := range lines {
			b.WriteString("  " + l + "\n")
		}
	}
}

// oneLineText joins a message's lines with "; " for a table or list line.
func oneLineText(s string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}

// runLine is a run's progress line.
func runLine(r soakRun) string {
	line := fmt.Sprintf("run %02d %s: exit %d in %s: %d passed, %d failed, %d skipped, %d interrupted",
		r.Index, r.Kind, r.ExitCode, seconds(r.WallSeconds), r.Counts.Passed, r.Counts.Failed, r.Counts.Skipped, r.Counts.Interrupted)
	if len(r.Leaks) > 0 {
		line += ", " + plural(len(r.Leaks), "leak")
	}
	if len(r.Problems) > 0 {
		line += "; " + r.Problems[0]
	}
	return line
}

// soakSummaryLine is the soak's last word on stdout.
func soakSummaryLine(rep soakReport) string {
	leaks, failed := 0, 0
	for _, r := range rep.Runs {
		leaks += len(r.Leaks)
	}
	for _, s := range rep.Specs {
		if s.Failed > 0 {
			failed++
		}
	}
	verdict := "passed"
	if !rep.Passed {
		verdict = "FAILED"
	}
	return fmt.Sprintf("soak %s: %d of %d runs, %s, %s failed at least once, %s",
		verdict, rep.RunsDone, rep.RunsRequested, plural(rep.Flakes, "flake"), plural(failed, "spec"), plural(leaks, "leak"))
}

// soakRepeatCommand is the command line that repeats a soak's schedule.
func soakRepeatCommand(o soakOptions) string {
	args := []string{"vsconform", "soak", "--runs", strconv.Itoa(o.runs), "--seed", strconv.FormatInt(o.seed, 10),
		"--interrupt-every", strconv.Itoa(o.interruptEvery), "--faults-every", strconv.Itoa(o.faultsEvery)}
	if o.labelFilter != "" {
		args = append(args, "--label-filter", shellQuote(o.labelFilter))
	}
	for _, f := range o.focus {
		args = append(args, "--focus", shellQuote(f))
	}
	return strings.Join(args, " ")
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// seconds is a number of seconds as a duration, for people.
func seconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(time.Second)
}
