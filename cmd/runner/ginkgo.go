package main

import (
	"fmt"
	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"io"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/formatter"
	"github.com/onsi/ginkgo/v2/types"
	"github.com/onsi/gomega"

	"github.com/vsphere-conformance/vsphere-conformance/target"

	// The suites: every spec is linked into this one binary.
	_ "github.com/vsphere-conformance/vsphere-conformance/suites/cpi"
	_ "github.com/vsphere-conformance/vsphere-conformance/suites/csi"
	_ "github.com/vsphere-conformance/vsphere-conformance/suites/desktop"
	_ "github.com/vsphere-conformance/vsphere-conformance/suites/migration"
)

type ginkgoOptions struct {
	labelFilter string
	focus, skip []string
	timeout     time.Duration
	verbose     bool
	progress    io.Writer
	seed        int64
	observer    specObserver // may be nil
	status      *statusLine  // the live status line; may be nil
	quiet       bool         // no Ginkgo reporter output (a dry run prints its own list)
}

// specObserver hears of the run as it goes (Sonobuoy progress updates).
type specObserver interface {
	SuiteWillRun(total int)
	SpecDone(r types.SpecReport)
}

type ginkgoOutcome struct {
	report    types.Report
	succeeded bool
}

// Ginkgo's suite-level nodes must be declared before RunSpecs; they read
// these variables, which runGinkgo sets.
var (
	progressOut  io.Writer = io.Discard
	status       *statusLine
	suiteReport  types.Report
	inventoryPre target.Inventory
	// specLeakCheck is --leak-check spec: the per-spec check runs.
	specLeakCheck = true
	observer      specObserver
)

// The leak check: what the run created must be gone at its end (DESIGN
// rule 4, the orphaned-vmdk problem).
var _ = ginkgo.BeforeSuite(func(ctx ginkgo.SpecContext) {
	if shard.total > 1 || shard.serialPass || dryRunning {
		return // the parallel run's parent checks around all processes
	}
	inv, err := target.Current().Inventory(ctx)
	gomega.Expect(err).NotTo(gomega.HaveOccurred(), "inventory of the target before the run")
	inventoryPre = inv
}, ginkgo.NodeTimeout(2*time.Minute))

var _ = ginkgo.AfterSuite(func(ctx ginkgo.SpecContext) {
	if shard.total > 1 || shard.serialPass || dryRunning {
		return
	}
	after, err := target.Current().Inventory(ctx)
	gomega.Expect(err).NotTo(gomega.HaveOccurred(), "inventory of the target after the run")
	if leaks := inventoryPre.Leaked(after); !leaks.Empty() {
		ginkgo.Fail("the run leaked objects on the target:\n" + leaks.String())
	}
}, ginkgo.NodeTimeout(2*time.Minute))

// specLeakWait bounds how long the per-spec leak check waits for what the
// spec made to be gone: a PV's deletion, a disk's detach and deletion go on
// asynchronously after the namespace that held the claim is gone. A spec
// that failed already gets failedSpecLeakWait, so a negative control (a
// driver that leaves the disk behind) does not cost two more minutes.
const (
	specLeakWait       = 2 * time.Minute
	failedSpecLeakWait = 30 * time.Second
)

// The per-spec leak check: what a spec made must be gone once every cleanup
// it registered has run (DESIGN rule 4). This node is top-level, so its
// DeferCleanup is registered before any of the spec's and runs after them
// all. Not in a parallel run, whose processes share the target (there the
// run-level check around all processes judges), nor in a dry run (no
// target), nor for a spec in an Ordered container, which may leave objects
// to the next one (BeforeAll): the run-level check judges those. The leak
// audit spec (labels.Audit) plants orphans on purpose and removes them
// itself, so it is checked too.
var _ = ginkgo.BeforeEach(func(ctx ginkgo.SpecContext) {
	if shard.total > 1 || shard.serialPass || dryRunning || !specLeakCheck || ginkgo.CurrentSpecReport().IsInOrderedContainer {
		return
	}
	t := target.Current()
	before, err := t.WaitForInventory(ctx, time.Minute)
	gomega.Expect(err).NotTo(gomega.HaveOccurred(), "inventory of the target before the spec")
	ginkgo.GinkgoWriter.Printf("leak check: %d objects on the target before the spec (inventory took %s)\n",
		before.Count(), before.Took.Round(time.Millisecond))
	ginkgo.DeferCleanup(func(ctx ginkgo.SpecContext) {
		r := ginkgo.CurrentSpecReport()
		if r.State.Is(types.SpecStateInterrupted | types.SpecStateAborted) {
			return // the run is stopping
		}
		wait := specLeakWait
		if r.Failed() {
			wait = failedSpecLeakWait
		}
		leaks, err := t.WaitForNoLeaks(ctx, before, wait)
		if err != nil {
			msg := "leak check after the spec: " + err.Error()
			if !leaks.Empty() {
				msg += "\nlast seen leaked:\n" + leaks.String()
			}
			ginkgo.Fail(msg)
		}
		if !leaks.Empty() {
			ginkgo.Fail("the spec leaked objects on the target:\n" + leaks.String())
		}
	}, ginkgo.NodeTimeout(specLeakWait+time.Minute))
}, ginkgo.NodeTimeout(2*time.Minute))

var _ = ginkgo.ReportBeforeEach(func(r types.SpecReport) {
	if r.State.Is(types.SpecStateSkipped) || r.State.Is(types.SpecStatePending) || shard.total > 1 || shard.serialPass {
		return // in a parallel run, a process learns a spec is its own only in setup
	}
	fmt.Fprintf(progressOut, "▶ %s %s\n", labelText(r.Labels()), r.FullText())
})

var _ = ginkgo.ReportBeforeSuite(func(r types.Report) {
	if observer != nil {
		observer.SuiteWillRun(r.PreRunStats.SpecsThatWillRun)
	}
	if status != nil {
		status.begin(r.PreRunStats.SpecsThatWillRun)
	}
})

var _ = ginkgo.ReportAfterEach(func(r types.SpecReport) {
	if r.State.Is(types.SpecStateSkipped) && r.Failure.Message == shardSkipReason {
		return
	}
	if observer != nil {
		observer.SpecDone(r)
	}
	if r.State.Is(types.SpecStateSkipped) && r.Failure.Message == "" {
		return // not selected by the filters: one line each would bury the rest
	}
	if status != nil {
		status.specDone(r.FullText(), r.State.Is(types.SpecStateFailureStates))
	}
	mark := map[types.SpecState]string{
		types.SpecStatePassed: "✓ passed", types.SpecStateSkipped: "- skipped", types.SpecStatePending: "- pending",
	}[r.State]
	if mark == "" {
		mark = "✗ " + r.State.String()
	}
	line := fmt.Sprintf("%s (%s) %s", mark, r.RunTime.Round(10*time.Millisecond), r.FullText())
	if r.State.Is(types.SpecStateSkipped) && r.Failure.Message != "" {
		line += ": " + firstLine(r.Failure.Message)
	}
	if r.State.Is(types.SpecStateFailureStates) {
		line += "\n    " + firstLine(r.Failure.Message) + "\n    at " + r.Failure.Location.String()
	}
	switch {
	case shard.serialPass:
		line = "[serial] " + line
	case shard.total > 1:
		line = fmt.Sprintf("[p%d] %s", shard.index+1, line)
	}
	fmt.Fprintln(progressOut, line)
})

var _ = ginkgo.ReportAfterSuite("vsconform reports", func(r types.Report) {
	suiteReport = r
})

// failRecorder is the GinkgoTestingT of an in-process run.
type failRecorder struct{ failed bool }

func (f *failRecorder) Fail() { f.failed = true }

// runGinkgo runs the linked specs once, in this process, as the Kubernetes
// e2e.test binary does.
func runGinkgo(o ginkgoOptions) ginkgoOutcome {
	progressOut, observer, status = o.progress, o.observer, o.status
	if status != nil {
		progressOut = status
		defer status.end()
	}
	suiteConfig, reporterConfig := ginkgo.GinkgoConfiguration()
	suiteConfig.LabelFilter = o.labelFilter
	suiteConfig.FocusStrings = o.focus
	suiteConfig.SkipStrings = o.skip
	suiteConfig.Timeout = o.timeout
	suiteConfig.RandomizeAllSpecs = false
	if o.seed != 0 {
		suiteConfig.RandomSeed = o.seed
	}
	reporterConfig.Succinct = !o.verbose
	reporterConfig.Verbose = o.verbose
	reporterConfig.NoColor = true
	// Our spec lines (and the status line on a terminal) say what Ginkgo's
	// succinct dots would, which only break those lines; -v keeps Ginkgo's
	// verbose output (steps, spec output).
	if o.quiet || !o.verbose {
		formatter.ColorableStdOut = io.Discard
	}
	gomega.RegisterFailHandler(ginkgo.Fail)
	t := &failRecorder{}
	ok := ginkgo.RunSpecs(t, "vsphere-conformance", suiteConfig, reporterConfig)
	return ginkgoOutcome{report: suiteReport, succeeded: ok && !t.failed}
}

// labelText is a spec's labels as its line shows them: the catches-*
// labels of the defect profiles are left to `selftest --list` and the
// reports, or they would crowd out what the spec is about.
func labelText(l []string) string {
	var shown []string
	for _, s := range l {
		if _, catches := labels.IsCatches(s); !catches {
			shown = append(shown, s)
		}
	}
	if len(shown) == 0 {
		return ""
	}
	return "[" + strings.Join(shown, ", ") + "]"
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
