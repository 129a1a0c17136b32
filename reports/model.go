// Package reports holds the neutral result model of a vsconform run and
// renders it as junit.xml, report.json and report.html.
//
// The model deliberately does not depend on Ginkgo types so that a run can be
// re-rendered later from report.json alone (see Load and Rerender).
package reports

import (
	"encoding/json"
	"math"
	"sort"
	"time"
)

// Spec states. They mirror Ginkgo's states, minus "aborted", which is folded
// into StateFailed because an aborted spec is a failed spec.
const (
	StatePassed      = "passed"
	StateFailed      = "failed"
	StateSkipped     = "skipped"
	StatePending     = "pending"
	StateInterrupted = "interrupted"
	StateTimedOut    = "timedout"
	StatePanicked    = "panicked"
)

// Run is one vsconform run: everything needed to render its reports.
type Run struct {
	ID          string    `json:"id"`
	Target      string    `json:"target"`
	StartedAt   time.Time `json:"startedAt"`
	FinishedAt  time.Time `json:"finishedAt"`
	LabelFilter string    `json:"labelFilter,omitempty"`
	Focus       string    `json:"focus,omitempty"`
	Specs       []Spec    `json:"specs"`
	// Logs are component log files, as paths relative to the run directory.
	Logs []string `json:"logs,omitempty"`
	// Qualified says what was under test; nil in reports from before it.
	Qualified *Qualified `json:"qualified,omitempty"`
	// Preflight holds the environment checks' findings (vsconform
	// preflight), run before the specs; an error finding fails the run.
	Preflight []Finding `json:"preflight,omitempty"`
}

// Finding is one preflight finding: what is set up other than the vSphere
// CSI driver's and CPI's documentation require, and how to fix it.
type Finding struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Severity string `json:"severity"` // error, warning or info
	Object   string `json:"object,omitempty"`
	Message  string `json:"message"`
	Fix      string `json:"fix,omitempty"`
}

// SeverityError is the severity of a finding that fails the run.
const SeverityError = "error"

// Qualified is what a run qualified, for the people who sign it off.
type Qualified struct {
	Vsconform    string   `json:"vsconform"`
	Seed         int64    `json:"seed"`
	Kubernetes   string   `json:"kubernetes,omitempty"`
	VCenter      string   `json:"vcenter,omitempty"` // About.FullName
	VCenterBuild string   `json:"vcenterBuild,omitempty"`
	Capabilities []string `json:"capabilities"` // declared by the target
	// Components are the pieces under test with their versions.
	Components []Component `json:"components,omitempty"`
	// Unknown lists what could not be found out, and why.
	Unknown []string `json:"unknown,omitempty"`
	// Defect is the defect profile the hermetic vCenter ran with: the run
	// was a negative control (vsconform selftest), its failures expected.
	Defect string `json:"defect,omitempty"`
}

// Component is one piece under test: name, version and where the version
// was read (an image reference, a binary's build info and checksum).
type Component struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Source  string `json:"source,omitempty"`
}

// Spec is one executed (or skipped) test case.
type Spec struct {
	Suite string `json:"suite"`
	// Name is the container texts and the leaf text joined by spaces.
	Name       string    `json:"name"`
	Labels     []string  `json:"labels,omitempty"`
	State      string    `json:"state"`
	SkipReason string    `json:"skipReason,omitempty"`
	Failure    *Failure  `json:"failure,omitempty"`
	StartedAt  time.Time `json:"startedAt"`
	// Duration is written as "durationSeconds" (see specJSON).
	Duration     time.Duration `json:"-"`
	Evidence     []Evidence    `json:"evidence,omitempty"`
	Measurements []Measurement `json:"measurements,omitempty"`
	Output       string        `json:"output,omitempty"`
}

// specJSON is Spec as report.json holds it: the duration in seconds, for
// people and tools that read the file. Reports written before carry
// "duration" in nanoseconds; they still load.
type specJSON struct {
	specFields
	DurationSeconds *float64 `json:"durationSeconds,omitempty"`
	LegacyDuration  *int64   `json:"duration,omitempty"`
}

// specFields has Spec's fields without its methods (no recursion).
type specFields Spec

// MarshalJSON writes the duration as seconds (millisecond precision).
func (s Spec) MarshalJSON() ([]byte, error) {
	secs := math.Round(s.Duration.Seconds()*1000) / 1000
	return json.Marshal(specJSON{specFields: specFields(s), DurationSeconds: &secs})
}

// UnmarshalJSON reads "durationSeconds", or a legacy "duration" in ns.
func (s *Spec) UnmarshalJSON(data []byte) error {
	var j specJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	*s = Spec(j.specFields)
	switch {
	case j.DurationSeconds != nil:
		s.Duration = time.Duration(math.Round(*j.DurationSeconds * float64(time.Second)))
	case j.LegacyDuration != nil:
		s.Duration = time.Duration(*j.LegacyDuration)
	}
	return nil
}

// Failure says why and where a spec failed.
type Failure struct {
	Message  string `json:"message"`
	Location string `json:"location,omitempty"`
}

// Evidence kinds; other kinds are kept and rendered as-is.
const (
	EvidenceKubernetes = "kubernetes"
	EvidenceVCenter    = "vcenter"
)

// Evidence is state collected from the cluster or vCenter to explain a result.
type Evidence struct {
	Kind  string `json:"kind"`
	Title string `json:"title"`
	Body  string `json:"body"`
}

// Measurement summarises the samples of one named measurement.
type Measurement struct {
	Name    string  `json:"name"`
	Units   string  `json:"units,omitempty"`
	Samples int     `json:"samples"`
	Min     float64 `json:"min"`
	Median  float64 `json:"median"`
	P90     float64 `json:"p90"`
	P99     float64 `json:"p99"`
	Max     float64 `json:"max"`
}

// Failed reports whether the spec counts as a failure. Unknown states count
// as failures so that a malformed report can never look green.
func (s Spec) Failed() bool {
	switch s.State {
	case StatePassed, StateSkipped, StatePending:
		return false
	}
	return true
}

// Counts are spec totals per state.
type Counts struct {
	Total       int           `json:"total"`
	Passed      int           `json:"passed"`
	Failed      int           `json:"failed"` // includes unknown states
	Skipped     int           `json:"skipped"`
	Pending     int           `json:"pending"`
	Interrupted int           `json:"interrupted"`
	TimedOut    int           `json:"timedout"`
	Panicked    int           `json:"panicked"`
	Duration    time.Duration `json:"duration"`
}

// Failures is the number of specs in any failing state.
func (c Counts) Failures() int {
	return c.Failed + c.Interrupted + c.TimedOut + c.Panicked
}

func (c *Counts) add(s Spec) {
	c.Total++
	c.Duration += s.Duration
	switch s.State {
	case StatePassed:
		c.Passed++
	case StateSkipped:
		c.Skipped++
	case StatePending:
		c.Pending++
	case StateInterrupted:
		c.Interrupted++
	case StateTimedOut:
		c.TimedOut++
	case StatePanicked:
		c.Panicked++
	default:
		c.Failed++
	}
}

// NoLabel is the ByLabel key for specs without any label, so that the label
// table accounts for every spec.
const NoLabel = "(no label)"

// Summary holds totals for the whole run, per suite and per label. A spec with
// several labels is counted under each of them.
type Summary struct {
	Totals  Counts            `json:"totals"`
	BySuite map[string]Counts `json:"bySuite"`
	ByLabel map[string]Counts `json:"byLabel"`
}

// Summary computes the totals of the run.
func (r Run) Summary() Summary {
	sum := Summary{BySuite: map[string]Counts{}, ByLabel: map[string]Counts{}}
	for _, s := range r.Specs {
		sum.Totals.add(s)
		addTo(sum.BySuite, s.Suite, s)
		if len(s.Labels) == 0 {
			addTo(sum.ByLabel, NoLabel, s)
		}
		for _, l := range uniq(s.Labels) {
			addTo(sum.ByLabel, l, s)
		}
	}
	return sum
}

// Passed reports whether no spec failed. Skipped and pending specs do not
// make a run fail.
func (r Run) Passed() bool {
	for _, f := range r.Preflight {
		if f.Severity == SeverityError {
			return false
		}
	}
	for _, s := range r.Specs {
		if s.Failed() {
			return false
		}
	}
	return true
}

func addTo(m map[string]Counts, key string, s Spec) {
	c := m[key]
	c.add(s)
	m[key] = c
}

// uniq drops duplicate labels so a spec is counted once per label.
func uniq(labels []string) []string {
	seen := make(map[string]bool, len(labels))
	out := labels[:0:0]
	for _, l := range labels {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}

// sortedKeys returns the keys of a summary map in a stable order.
func sortedKeys(m map[string]Counts) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
