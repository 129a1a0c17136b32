package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vsphere-conformance/vsphere-conformance/reports"
	"github.com/vsphere-conformance/vsphere-conformance/sim/defects"
	"github.com/vsphere-conformance/vsphere-conformance/sim/stack"
	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// A selftest proves the suites can fail: for each defect profile of the
// hermetic vCenter (sim/defects) it brings a target up with that defect,
// runs the specs that claim to catch it (label catches-NAME) and records
// whether one failed naming the symptom; then one clean run of every
// catcher must pass. The result is a detection matrix, profile x spec.

type selftestOptions struct {
	profiles []string
	quick    bool
	list     bool
	out      string
	procs    int
}

// quickProfiles are the profiles of `selftest --quick`, CI's subset: one
// of each side the suites check (the CNS volume's policy, the disk on the
// node VM, the CPI's view of a VM), each caught in under a minute
// (measured: 36 s, 44 s and 29 s with their bring-ups).
var quickProfiles = []string{"create-ignores-policy", "attach-adds-no-disk", "destroy-does-nothing"}

const (
	selftestJSONFile = "selftest.json"
	selftestHTMLFile = "selftest.html"
	selftestTextFile = "selftest.txt"
	// Outcomes of a catcher spec under a profile.
	outcomeCaught    = "caught"         // failed in the spec, naming the symptom
	outcomeUnnamed   = "failed-unnamed" // failed in the spec without naming it
	outcomeCleanup   = "failed-cleanup" // failed only in cleanup: not a catch
	outcomePassed    = "passed"         // the defect went unseen
	outcomeSkipped   = "skipped"        // the spec did not run
	outcomeNotInRun  = "not-run"        // the run has no result for it
	verdictCaught    = "caught"
	verdictMissed    = "missed"
	verdictError     = "error" // the target did not come up or the run did not run
	selftestRunIDPre = "selftest-"
	// defaultSelftestProcs: a catcher under a defect spends most of its
	// time in a bounded wait for what never happens.
	defaultSelftestProcs = 3
)

func newSelftestCommand() *cobra.Command {
	var o selftestOptions
	var paths simPaths
	cmd := &cobra.Command{
		Use:   "selftest",
		Short: "Prove the suites fail on a broken integration: run each defect profile's catcher specs against it, then a clean run",
		Long: `For each defect profile of the hermetic vCenter (sim/defects; --list shows them
and the specs that claim to catch them), bring the hermetic target up with
'sim up --defect NAME', run the specs labelled catches-NAME, and record per spec
whether it caught the defect: it failed in the spec (not in its cleanup) with a
message that names the profile's symptom. Then bring a clean target up and run
every catcher of the selected profiles: none may fail.

Writes selftest.json, selftest.txt and selftest.html (the detection matrix,
profile x spec) to --out, with each run's results below it.

Exit codes: 0 every profile caught and the clean run passed; 1 a profile
missed, a profile's target did not come up, or the clean run failed; 2 usage
error (a hermetic target already running in the state directory included);
130/143 stopped by SIGINT/SIGTERM (the partial report is written).`,
		Example: `  vsconform selftest --list
  vsconform selftest --quick
  vsconform selftest --profile delete-leaves-fcd --profile detach-leaves-disk`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.out == "" && !o.list {
				o.out = filepath.Join(soakResultsDir, "selftest-"+time.Now().UTC().Format("20060102-150405"))
			}
			if err := o.check(cmd.Flags().Changed("profile")); err != nil {
				return err
			}
			self, err := paths.resolve()
			if err != nil {
				return usageErr("%v", err)
			}
			catchers, err := selftestCatchers()
			if err != nil {
				return err
			}
			if o.list {
				printProfiles(cmd.OutOrStdout(), catchers)
				return nil
			}
			if st := hermeticRunning(paths.stateDir); st != nil {
				return usageErr("a %s is running; selftest brings its own targets up: `vsconform sim down` first", st)
			}
			if err := ensureWritableDir("--out", o.out); err != nil {
				return err
			}
			return runSelftest(cmd, o, self, &paths, catchers)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.profiles, "profile", nil, "test only this defect profile (repeatable; default: all)")
	f.BoolVar(&o.quick, "quick", false, "test only the quick subset CI runs ("+strings.Join(quickProfiles, ", ")+")")
	f.BoolVar(&o.list, "list", false, "list the profiles, what each breaks and the specs that catch it, and exit")
	f.IntVar(&o.procs, "procs", defaultSelftestProcs, "parallel processes of each run (run --procs): the catchers mostly wait for what a defect never does")
	f.StringVar(&o.out, "out", "", "directory of the selftest report and the runs' results (default: "+soakResultsDir+"/selftest-<UTC time>)")
	paths.addFlags(cmd)
	cmd.RegisterFlagCompletionFunc("profile", cobra.FixedCompletions(defects.Names(), cobra.ShellCompDirectiveNoFileComp))
	cmd.MarkFlagDirname("out")
	return cmd
}

// check validates the flags before anything starts.
func (o *selftestOptions) check(profilesGiven bool) error {
	if o.procs < 1 {
		return usageErr("--procs %d: want 1 or more", o.procs)
	}
	if o.quick && profilesGiven {
		return usageErr("--quick and --profile both choose the profiles: give one")
	}
	seen := map[string]bool{}
	for _, p := range o.profiles {
		if err := defects.Check(p); err != nil {
			return usageErr("--profile: %v", err)
		}
		if seen[p] {
			return usageErr("--profile %s given twice", p)
		}
		seen[p] = true
	}
	if o.quick {
		o.profiles = slices.Clone(quickProfiles)
	}
	if len(o.profiles) == 0 {
		o.profiles = defects.Names()
	}
	if o.out != "" {
		if _, err := os.Stat(filepath.Join(o.out, selftestJSONFile)); err == nil {
			return usageErr("--out %s: holds a selftest already (%s); give a new directory", o.out, selftestJSONFile)
		}
	}
	return nil
}

// selftestCatchers maps each profile to the specs labelled as catching it
// that the hermetic target would run, from a dry run in this process (it
// runs no spec itself: its children do).
func selftestCatchers() (map[string][]string, error) {
	cfg, err := stack.PlannedConfig("")
	if err != nil {
		return nil, usageErr("%v", err)
	}
	target.Use(target.DryRun(cfg))
	dryRunning = true
	outcome := runGinkgo(ginkgoOptions{labelFilter: "/^" + labels.CatchesPrefix + "/", timeout: 2 * time.Minute,
		progress: io.Discard, quiet: true})
	out := map[string][]string{}
	for _, s := range planFrom(outcome.report).specs {
		if s.action != "run" {
			continue
		}
		for _, l := range s.labels {
			if p, ok := labels.IsCatches(l); ok {
				out[p] = append(out[p], s.name)
			}
		}
	}
	return out, nil
}

func printProfiles(w io.Writer, catchers map[string][]string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, p := range defects.All() {
		fmt.Fprintf(tw, "%s\t%s\n", p.Name, p.Breaks)
		fmt.Fprintf(tw, "\tsymptom: /%s/\n", p.Symptom)
		if len(catchers[p.Name]) == 0 {
			fmt.Fprintf(tw, "\tcaught by: no spec (a selftest misses it)\n")
		}
		for _, s := range catchers[p.Name] {
			fmt.Fprintf(tw, "\tcaught by: %s\n", s)
		}
	}
	tw.Flush()
}

// selftestReport is selftest.json.
type selftestReport struct {
	StartedAt   time.Time         `json:"startedAt"`
	FinishedAt  time.Time         `json:"finishedAt"`
	WallSeconds float64           `json:"wallSeconds"`
	Quick       bool              `json:"quick,omitempty"`
	Profiles    []selftestProfile `json:"profiles"`
	Caught      int               `json:"caught"`
	Total       int               `json:"total"`
	Clean       *selftestClean    `json:"clean,omitempty"`
	StoppedBy   string            `json:"stoppedBy,omitempty"`
	Passed      bool              `json:"passed"`
}

type selftestProfile struct {
	Name        string         `json:"name"`
	Breaks      string         `json:"breaks"`
	Symptom     string         `json:"symptom"`
	Verdict     string         `json:"verdict"`
	Why         string         `json:"why,omitempty"`
	Specs       []selftestCell `json:"specs"`
	Dir         string         `json:"dir,omitempty"`
	WallSeconds float64        `json:"wallSeconds"`
}

// selftestCell is one catcher spec's outcome under one profile.
type selftestCell struct {
	Spec    string `json:"spec"`
	Outcome string `json:"outcome"`
	Message string `json:"message,omitempty"`
}

type selftestClean struct {
	Dir         string   `json:"dir"`
	ExitCode    int      `json:"exitCode"`
	Specs       int      `json:"specs"`
	Failures    []string `json:"failures,omitempty"`
	Problem     string   `json:"problem,omitempty"`
	Passed      bool     `json:"passed"`
	WallSeconds float64  `json:"wallSeconds"`
}

type selftester struct {
	o        selftestOptions
	self     string
	paths    simPaths
	catchers map[string][]string
	log      io.Writer
	kids     *children
	rep      selftestReport
}

func runSelftest(cmd *cobra.Command, o selftestOptions, self string, paths *simPaths, catchers map[string][]string) error {
	s := &selftester{o: o, self: self, paths: *paths, catchers: catchers, log: cmd.ErrOrStderr(),
		rep: selftestReport{StartedAt: time.Now(), Quick: o.quick}}
	s.kids = watchSignals(s.log, "selftest")
	defer s.kids.close()
	fmt.Fprintf(s.log, "selftest: %d profiles, results in %s\n", len(o.profiles), o.out)
	for i, name := range o.profiles {
		if s.kids.stopped() != nil {
			break
		}
		p, _ := defects.Lookup(name)
		fmt.Fprintf(s.log, "selftest: profile %d/%d %s\n", i+1, len(o.profiles), name)
		r := s.profile(p)
		fmt.Fprintf(s.log, "selftest: %s: %s%s (%s)\n", name, r.Verdict, suffix(r.Why), seconds(r.WallSeconds))
		s.rep.Profiles = append(s.rep.Profiles, r)
		s.write()
	}
	if s.kids.stopped() == nil {
		s.rep.Clean = s.clean()
		fmt.Fprintf(s.log, "selftest: clean run: passed %v (%s)\n", s.rep.Clean.Passed, seconds(s.rep.Clean.WallSeconds))
	}
	s.finish()
	if err := s.write(); err != nil {
		return usageErr("selftest report: %v", err)
	}
	out := cmd.OutOrStdout()
	fmt.Fprintln(out, selftestSummary(s.rep))
	for _, p := range s.rep.Profiles {
		if p.Verdict != verdictCaught {
			fmt.Fprintf(out, "  - %s %s: %s\n", p.Name, p.Verdict, p.Why)
		}
	}
	if c := s.rep.Clean; c != nil && !c.Passed {
		fmt.Fprintf(out, "  - the clean run failed: %s\n", strings.Join(append(c.Failures, c.Problem), "; "))
	}
	fmt.Fprintf(out, "selftest report: %s (and %s, %s)\n", filepath.Join(o.out, selftestHTMLFile), selftestJSONFile, selftestTextFile)
	if sig := s.kids.stopped(); sig != nil {
		return &exitError{code: signalExitCode(sig), err: fmt.Errorf("selftest stopped by %s: the partial report is written", signalName(sig))}
	}
	if !s.rep.Passed {
		return &exitError{code: exitFailed, err: errors.New("selftest failed")}
	}
	return nil
}

func suffix(why string) string {
	if why == "" {
		return ""
	}
	return ": " + why
}

func (s *selftester) finish() {
	r := &s.rep
	r.FinishedAt = time.Now()
	r.WallSeconds = roundSeconds(r.FinishedAt.Sub(r.StartedAt))
	r.Caught, r.Total = 0, len(s.o.profiles)
	for _, p := range r.Profiles {
		if p.Verdict == verdictCaught {
			r.Caught++
		}
	}
	if sig := s.kids.stopped(); sig != nil {
		r.StoppedBy = signalName(sig)
	}
	r.Passed = r.StoppedBy == "" && r.Caught == r.Total && r.Clean != nil && r.Clean.Passed
}

func roundSeconds(d time.Duration) float64 {
	return float64(d.Round(100*time.Millisecond)) / float64(time.Second)
}

func (s *selftester) pathArgs() []string {
	return []string{"--state-dir", s.paths.stateDir, "--bin-dir", s.paths.binDir}
}

// up brings a hermetic target up, with defect ("" for a clean one); the
// reason it did not, or "".
func (s *selftester) up(dir, defect string) string {
	args := append([]string{"sim", "up"}, s.pathArgs()...)
	if defect != "" {
		args = append(args, "--defect", defect)
	}
	log := filepath.Join(dir, "sim-up.log")
	res := s.kids.run(s.self, args, log, 0)
	if res.err == nil && res.exit == exitPassed {
		return ""
	}
	// Once more: a bring-up that fails by chance (a component slow to be
	// ready) is no verdict on the profile; a defect that breaks the
	// bring-up fails both times.
	if s.kids.stopped() == nil {
		s.down()
		os.Rename(log, filepath.Join(dir, "sim-up-1.log"))
		fmt.Fprintf(s.log, "selftest: the target did not come up (exit %d, see %s): once more\n", res.exit, filepath.Join(dir, "sim-up-1.log"))
		if res = s.kids.run(s.self, args, log, 0); res.err == nil && res.exit == exitPassed {
			return ""
		}
	}
	return fmt.Sprintf("the hermetic target did not come up twice (exit %d, see %s)", res.exit, log)
}

// down stops the target the selftest brought up.
func (s *selftester) down() {
	if err := stack.Down(s.paths.stateDir); err != nil && !errors.Is(err, stack.ErrNotRunning) {
		fmt.Fprintf(s.log, "selftest: sim down: %s\n", errorLine(err.Error()))
	}
}

// runSpecs runs the specs of filter on the target up, as a child, and
// loads its report.
func (s *selftester) runSpecs(dir, runID, filter string) (childResult, reports.Run, error) {
	args := append([]string{"run", "--target", "hermetic", "--keep", "--results-dir", dir, "--run-id", runID,
		"--label-filter", filter, "--procs", strconv.Itoa(s.o.procs)}, s.pathArgs()...)
	res := s.kids.run(s.self, args, filepath.Join(dir, "run.log"), 0)
	rep, err := loadRunReport(filepath.Join(dir, runID))
	return res, rep, err
}

// profile tests one profile on a target of its own.
func (s *selftester) profile(p defects.Profile) (r selftestProfile) {
	r = selftestProfile{Name: p.Name, Breaks: p.Breaks, Symptom: p.Symptom, Dir: p.Name}
	start := time.Now()
	defer func() { r.WallSeconds = roundSeconds(time.Since(start)) }()
	specs := s.catchers[p.Name]
	if len(specs) == 0 {
		r.Verdict, r.Why = verdictMissed, "no spec the hermetic target runs is labelled "+labels.CatchesPrefix+p.Name
		return r
	}
	dir := filepath.Join(s.o.out, r.Dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.Verdict, r.Why = verdictError, err.Error()
		return r
	}
	if why := s.up(dir, p.Name); why != "" {
		s.down() // whatever a failed bring-up left
		r.Verdict, r.Why = verdictError, why
		return r
	}
	res, rep, err := s.runSpecs(dir, selftestRunIDPre+p.Name, labels.CatchesPrefix+p.Name)
	s.down()
	if err != nil {
		r.Verdict, r.Why = verdictError, fmt.Sprintf("the run left no report (exit %d, see %s): %s", res.exit, filepath.Join(dir, "run.log"), errorLine(err.Error()))
		return r
	}
	r.Specs = judgeCatchers(p, specs, rep)
	r.Verdict, r.Why = profileVerdict(r.Specs)
	return r
}

// judgeCatchers is each catcher's outcome in rep under p.
func judgeCatchers(p defects.Profile, specs []string, rep reports.Run) []selftestCell {
	byName := map[string]reports.Spec{}
	for _, sp := range rep.Specs {
		byName[sp.Name] = sp
	}
	var cells []selftestCell
	for _, name := range specs {
		c := selftestCell{Spec: name, Outcome: outcomeNotInRun}
		if sp, ok := byName[name]; ok {
			c.Outcome, c.Message = catcherOutcome(p, sp)
		}
		cells = append(cells, c)
	}
	return cells
}

// catcherOutcome judges one spec's result: a catch is a failure of the
// spec itself, not of its cleanup, whose message names the symptom.
func catcherOutcome(p defects.Profile, sp reports.Spec) (string, string) {
	switch sp.State {
	case "passed":
		return outcomePassed, ""
	case "skipped", "pending":
		return outcomeSkipped, sp.SkipReason
	}
	if sp.Failure == nil {
		return outcomeUnnamed, "state " + sp.State + " without a failure message"
	}
	msg := firstLines(sp.Failure.Message, 3)
	if inCleanup(sp.Failure.Location) {
		return outcomeCleanup, msg
	}
	if !p.Matches(sp.Failure.Message) {
		return outcomeUnnamed, msg
	}
	return outcomeCaught, msg
}

// inCleanup says whether a failure location (reports.Failure) is in a
// cleanup node: the report appends "(in [NodeType])" for any node but It.
func inCleanup(location string) bool {
	for _, n := range []string{"[DeferCleanup", "[AfterEach]", "[JustAfterEach]", "[AfterAll]", "[ReportAfterEach]", "[AfterSuite]", "[SynchronizedAfterSuite]"} {
		if strings.Contains(location, "(in "+n) {
			return true
		}
	}
	return false
}

// profileVerdict: caught when one catcher caught it; else what the
// catchers did instead.
func profileVerdict(cells []selftestCell) (string, string) {
	count := map[string]int{}
	for _, c := range cells {
		count[c.Outcome]++
	}
	if count[outcomeCaught] > 0 {
		return verdictCaught, ""
	}
	var parts []string
	for _, o := range []string{outcomePassed, outcomeUnnamed, outcomeCleanup, outcomeSkipped, outcomeNotInRun} {
		if count[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", count[o], o))
		}
	}
	return verdictMissed, "no catcher failed naming the symptom (" + strings.Join(parts, ", ") + ")"
}

// clean runs every catcher of the tested profiles on a clean target.
func (s *selftester) clean() (c *selftestClean) {
	c = &selftestClean{Dir: "clean"}
	start := time.Now()
	defer func() { c.WallSeconds = roundSeconds(time.Since(start)) }()
	var terms []string
	for _, p := range s.o.profiles {
		if len(s.catchers[p]) > 0 {
			terms = append(terms, labels.CatchesPrefix+p)
		}
	}
	if len(terms) == 0 {
		c.Problem = "no profile has a catcher: nothing to run"
		return c
	}
	dir := filepath.Join(s.o.out, c.Dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.Problem = err.Error()
		return c
	}
	fmt.Fprintln(s.log, "selftest: clean run of every catcher")
	if why := s.up(dir, ""); why != "" {
		s.down()
		c.Problem = why
		return c
	}
	res, rep, err := s.runSpecs(dir, selftestRunIDPre+"clean", strings.Join(terms, " || "))
	s.down()
	c.ExitCode = res.exit
	if err != nil {
		c.Problem = fmt.Sprintf("the run left no report (exit %d): %s", res.exit, errorLine(err.Error()))
		return c
	}
	for _, sp := range rep.Specs {
		if sp.State == "skipped" || sp.State == "pending" {
			continue
		}
		c.Specs++
		if sp.State != "passed" {
			msg := sp.State
			if sp.Failure != nil {
				// Enough lines to hold the error under Gomega's
				// "Unexpected error:" header, and where it was raised.
				msg = firstLines(sp.Failure.Message, 8)
				if sp.Failure.Location != "" {
					msg += "\n(at " + sp.Failure.Location + ")"
				}
			}
			c.Failures = append(c.Failures, sp.Name+": "+msg)
		}
	}
	c.Passed = res.exit == exitPassed && len(c.Failures) == 0 && c.Specs > 0
	if !c.Passed && len(c.Failures) == 0 {
		c.Problem = fmt.Sprintf("exit %d with %d specs run", res.exit, c.Specs)
	}
	return c
}

func selftestSummary(r selftestReport) string {
	clean := "not run"
	if r.Clean != nil {
		clean = "failed"
		if r.Clean.Passed {
			clean = fmt.Sprintf("passed (%d specs)", r.Clean.Specs)
		}
	}
	verdict := "FAILED"
	if r.Passed {
		verdict = "passed"
	}
	return fmt.Sprintf("selftest %s: %d of %d defect profiles caught, clean run %s, in %s", verdict, r.Caught, r.Total, clean, seconds(r.WallSeconds))
}

func (s *selftester) write() error {
	if s.rep.FinishedAt.IsZero() {
		// A partial report: the counts so far.
		r := s.rep
		r.WallSeconds = roundSeconds(time.Since(r.StartedAt))
		r.Total = len(s.o.profiles)
		for _, p := range r.Profiles {
			if p.Verdict == verdictCaught {
				r.Caught++
			}
		}
		return writeSelftestReport(s.o.out, r)
	}
	return writeSelftestReport(s.o.out, s.rep)
}

// matrixSpecs is every catcher spec in the report, sorted: the matrix's columns.
func matrixSpecs(r selftestReport) []string {
	set := map[string]bool{}
	for _, p := range r.Profiles {
		for _, c := range p.Specs {
			set[c.Spec] = true
		}
	}
	var out []string
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
