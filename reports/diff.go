package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// DefaultThreshold is the relative change (20%) a measurement's median or
// p99 must exceed to count as moved.
const DefaultThreshold = 0.2

// Stats compared between runs. Min, max and p90 are left out: min and max
// are single samples and too noisy, p90 sits between the two we keep.
const (
	StatMedian = "median"
	StatP99    = "p99"
)

// Comparison is what changed from an old run (the baseline) to a new one.
// Every list is sorted by suite, then spec name, then measurement and stat.
type Comparison struct {
	Old       RunRef  `json:"old"`
	New       RunRef  `json:"new"`
	Threshold float64 `json:"threshold"`
	// Regressed specs did not fail in the old run (passed, skipped,
	// pending) and fail in the new one.
	Regressed []SpecChange `json:"regressed"`
	// Fixed specs failed in the old run and pass in the new one.
	Fixed       []SpecChange `json:"fixed"`
	Appeared    []SpecChange `json:"appeared"`
	Disappeared []SpecChange `json:"disappeared"`
	// Changed specs changed state in any other way, e.g. passed -> skipped.
	Changed []SpecChange `json:"changed"`
	// Measurements holds one entry per measurement statistic that moved by
	// more than Threshold.
	Measurements []MeasurementChange `json:"measurements"`
}

// RunRef names a compared run.
type RunRef struct {
	ID        string    `json:"id"`
	Target    string    `json:"target,omitempty"`
	StartedAt time.Time `json:"startedAt"`
}

// SpecChange is one spec whose state differs between the runs, or that is
// in only one of them (then OldState or NewState is empty).
type SpecChange struct {
	Suite    string `json:"suite"`
	Name     string `json:"name"`
	OldState string `json:"oldState,omitempty"`
	NewState string `json:"newState,omitempty"`
	// SkipReason and Failure come from the new run, to say why at a glance.
	SkipReason string `json:"skipReason,omitempty"`
	Failure    string `json:"failure,omitempty"`
}

// MeasurementChange is one statistic of one measurement that moved.
type MeasurementChange struct {
	Suite string `json:"suite"`
	Spec  string `json:"spec"`
	Name  string `json:"name"`
	Units string `json:"units,omitempty"`
	Stat  string `json:"stat"`
	// Old is nil when the old value is not a number.
	Old *float64 `json:"old"`
	New float64  `json:"new"`
	// RelativeChange is (new-old)/|old|; nil when the old value is zero or
	// not a number, as there is no meaningful ratio then.
	RelativeChange *float64 `json:"relativeChange"`
	Worse          bool     `json:"worse"`
}

// Regressions counts regressed specs plus measurement statistics that got
// worse; it is what a CI gate should look at.
func (c Comparison) Regressions() int {
	n := len(c.Regressed)
	for _, m := range c.Measurements {
		if m.Worse {
			n++
		}
	}
	return n
}

// WorseMeasurements counts the moved measurement statistics that got worse.
func (c Comparison) WorseMeasurements() int {
	return c.Regressions() - len(c.Regressed)
}

// Empty reports whether nothing at all differs.
func (c Comparison) Empty() bool {
	return len(c.Regressed)+len(c.Fixed)+len(c.Appeared)+len(c.Disappeared)+len(c.Changed)+len(c.Measurements) == 0
}

// MarshalJSON adds the regression count, so that JSON consumers need not
// recompute it, and writes empty lists as [] rather than null.
func (c Comparison) MarshalJSON() ([]byte, error) {
	type plain Comparison // without methods, so no recursion
	p := plain(c)
	for _, l := range []*[]SpecChange{&p.Regressed, &p.Fixed, &p.Appeared, &p.Disappeared, &p.Changed} {
		if *l == nil {
			*l = []SpecChange{}
		}
	}
	if p.Measurements == nil {
		p.Measurements = []MeasurementChange{}
	}
	return json.Marshal(struct {
		plain
		Regressions int `json:"regressions"`
	}{p, c.Regressions()})
}

// Compare matches the specs of two runs by suite and name, and their
// measurements by name, and classifies what changed. A threshold that is not
// a positive number falls back to DefaultThreshold.
func Compare(oldRun, newRun Run, threshold float64) Comparison {
	if !(threshold > 0) || math.IsInf(threshold, 0) {
		threshold = DefaultThreshold
	}
	c := Comparison{Old: refOf(oldRun), New: refOf(newRun), Threshold: threshold}

	// Walk both runs in their own order, never a map's, so that entries
	// with equal sort keys come out in the same order every time.
	oldKeys, oldSpecs := bySpecKey(oldRun.Specs)
	newKeys, newSpecs := bySpecKey(newRun.Specs)
	for _, key := range newKeys {
		ns := newSpecs[key]
		ps, ok := oldSpecs[key]
		if !ok {
			c.Appeared = append(c.Appeared, specChange(Spec{}, ns))
			continue
		}
		c.Measurements = append(c.Measurements, compareMeasurements(ps, ns, threshold)...)
		if ps.State == ns.State {
			continue
		}
		ch := specChange(ps, ns)
		switch {
		case !ps.Failed() && ns.Failed(): // passed, skipped or pending before
			c.Regressed = append(c.Regressed, ch)
		case ps.Failed() && ns.State == StatePassed:
			c.Fixed = append(c.Fixed, ch)
		default:
			c.Changed = append(c.Changed, ch)
		}
	}
	for _, key := range oldKeys {
		if _, ok := newSpecs[key]; !ok {
			c.Disappeared = append(c.Disappeared, specChange(oldSpecs[key], Spec{}))
		}
	}

	for _, l := range [][]SpecChange{c.Regressed, c.Fixed, c.Appeared, c.Disappeared, c.Changed} {
		sortSpecChanges(l)
	}
	sort.SliceStable(c.Measurements, func(i, j int) bool {
		a, b := c.Measurements[i], c.Measurements[j]
		if a.Suite != b.Suite {
			return a.Suite < b.Suite
		}
		if a.Spec != b.Spec {
			return a.Spec < b.Spec
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Stat < b.Stat // "median" < "p99"
	})
	return c
}

func refOf(r Run) RunRef {
	return RunRef{ID: r.ID, Target: r.Target, StartedAt: r.StartedAt}
}

// specKey identifies a spec across runs. Seq numbers repeated suite+name
// pairs (table entries with the same text) so that the n-th occurrence in one
// run is matched with the n-th in the other.
type specKey struct {
	suite, name string
	seq         int
}

// bySpecKey returns the keys in run order and the specs by key.
func bySpecKey(specs []Spec) ([]specKey, map[specKey]Spec) {
	keys := make([]specKey, 0, len(specs))
	byKey := make(map[specKey]Spec, len(specs))
	seen := map[[2]string]int{}
	for _, s := range specs {
		id := [2]string{s.Suite, s.Name}
		key := specKey{s.Suite, s.Name, seen[id]}
		seen[id]++
		keys = append(keys, key)
		byKey[key] = s
	}
	return keys, byKey
}

// specChange describes a spec across the runs; a zero Spec stands for a
// spec absent from that run.
func specChange(oldSpec, newSpec Spec) SpecChange {
	ch := SpecChange{Suite: newSpec.Suite, Name: newSpec.Name, OldState: oldSpec.State, NewState: newSpec.State, SkipReason: newSpec.SkipReason}
	if newSpec.State == "" {
		ch.Suite, ch.Name = oldSpec.Suite, oldSpec.Name
	}
	if newSpec.State != "" && newSpec.Failed() && newSpec.Failure != nil {
		ch.Failure = firstLine(newSpec.Failure.Message)
	}
	return ch
}

// sortSpecChanges sorts by suite and name; stable, so repeated names keep
// their order of occurrence.
func sortSpecChanges(l []SpecChange) {
	sort.SliceStable(l, func(i, j int) bool {
		if l[i].Suite != l[j].Suite {
			return l[i].Suite < l[j].Suite
		}
		return l[i].Name < l[j].Name
	})
}

func compareMeasurements(oldSpec, newSpec Spec, threshold float64) []MeasurementChange {
	type measurementKey struct {
		name string
		seq  int
	}
	index := func(ms []Measurement) map[measurementKey]Measurement {
		out := make(map[measurementKey]Measurement, len(ms))
		seen := map[string]int{}
		for _, m := range ms {
			out[measurementKey{m.Name, seen[m.Name]}] = m
			seen[m.Name]++
		}
		return out
	}
	oldMs := index(oldSpec.Measurements)
	var out []MeasurementChange
	// Walk the new run's order so the result does not depend on map order.
	seen := map[string]int{}
	for _, nm := range newSpec.Measurements {
		key := measurementKey{nm.Name, seen[nm.Name]}
		seen[nm.Name]++
		om, ok := oldMs[key]
		if !ok {
			continue
		}
		rate := isRate(nm.Units)
		for _, st := range []struct {
			stat     string
			old, new float64
		}{{StatMedian, om.Median, nm.Median}, {StatP99, om.P99, nm.P99}} {
			mc, moved := compareStat(st.old, st.new, rate, threshold)
			if !moved {
				continue
			}
			mc.Suite, mc.Spec, mc.Name, mc.Units, mc.Stat = newSpec.Suite, newSpec.Name, nm.Name, nm.Units, st.stat
			out = append(out, mc)
		}
	}
	return out
}

// thresholdSlack keeps a change of exactly the threshold (say 10 -> 12 at
// 20%) from counting as "more than" it through floating-point rounding.
const thresholdSlack = 1e-9

// compareStat decides whether one statistic moved and whether that is worse:
// higher is worse, except for rates. A value that is not a number counts as
// missing: a missing new value says nothing, a missing old value makes the
// new one "new" with no direction.
func compareStat(oldValue, newValue float64, rate bool, threshold float64) (MeasurementChange, bool) {
	if !isNumber(newValue) {
		return MeasurementChange{}, false
	}
	mc := MeasurementChange{New: newValue}
	if !isNumber(oldValue) {
		return mc, true
	}
	if oldValue == newValue {
		return MeasurementChange{}, false
	}
	mc.Old = &oldValue
	if oldValue != 0 {
		rel := (newValue - oldValue) / math.Abs(oldValue)
		if math.Abs(rel) <= threshold*(1+thresholdSlack) {
			return MeasurementChange{}, false
		}
		mc.RelativeChange = &rel
	}
	// From zero any change is infinitely large, so it always counts as moved.
	if rate {
		mc.Worse = newValue < oldValue
	} else {
		mc.Worse = newValue > oldValue
	}
	return mc, true
}

func isNumber(f float64) bool {
	return !math.IsNaN(f) && !math.IsInf(f, 0)
}

// isRate reports whether units are a rate ("ops/s", "volumes per second"),
// for which a lower value is worse.
func isRate(units string) bool {
	u := strings.ToLower(strings.TrimSpace(units))
	return strings.HasSuffix(u, "/s") || strings.Contains(u, "per second")
}

// firstLine keeps a failure message to one short line for summaries.
func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return shorten(strings.TrimSpace(line), 160)
}

// Text forms shared by the text summary and the HTML page.

// OldText is the old value, or "-" when it was not a number.
func (m MeasurementChange) OldText() string {
	if m.Old == nil {
		return "-"
	}
	return formatNumber(*m.Old)
}

// NewText is the new value.
func (m MeasurementChange) NewText() string { return formatNumber(m.New) }

// ChangeText is the relative change as a signed percentage, or "new" when
// there is no ratio (old value zero or not a number).
func (m MeasurementChange) ChangeText() string {
	if m.RelativeChange == nil {
		return "new"
	}
	return fmt.Sprintf("%+.1f%%", *m.RelativeChange*100)
}

// Verdict is "worse" or "better"; "new" when the old value was not a number.
func (m MeasurementChange) Verdict() string {
	switch {
	case m.Worse:
		return "worse"
	case m.Old == nil:
		return "new"
	}
	return "better"
}

// States is "old -> new", or the one state of a spec in only one run.
func (s SpecChange) States() string {
	switch {
	case s.OldState == "":
		return s.NewState
	case s.NewState == "":
		return s.OldState
	}
	return s.OldState + " -> " + s.NewState
}

// Note is the new run's failure message or skip reason, if any.
func (s SpecChange) Note() string {
	if s.Failure != "" {
		return s.Failure
	}
	return s.SkipReason
}

// WriteText writes a short summary: the runs, the counts per class, one
// line per entry and the number of regressions last.
func (c Comparison) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "old %s -> new %s (measurement threshold %s)\n", runName(c.Old), runName(c.New), formatPercent(c.Threshold))
	fmt.Fprintf(&b, "regressed %d, fixed %d, appeared %d, disappeared %d, changed %d, measurements moved %d (%d worse)\n",
		len(c.Regressed), len(c.Fixed), len(c.Appeared), len(c.Disappeared), len(c.Changed), len(c.Measurements), c.WorseMeasurements())
	for _, class := range []struct {
		label string
		specs []SpecChange
	}{{"regressed", c.Regressed}, {"fixed", c.Fixed}, {"appeared", c.Appeared}, {"disappeared", c.Disappeared}, {"changed", c.Changed}} {
		for _, s := range class.specs {
			fmt.Fprintf(&b, "%-12s [%s] %s: %s", class.label, s.Suite, s.Name, s.States())
			if note := s.Note(); note != "" {
				fmt.Fprintf(&b, " (%s)", note)
			}
			b.WriteString("\n")
		}
	}
	for _, m := range c.Measurements {
		units := ""
		if m.Units != "" {
			units = " " + m.Units
		}
		fmt.Fprintf(&b, "%-12s [%s] %s: %s %s %s -> %s%s (%s)\n", m.Verdict(), m.Suite, m.Spec, m.Name, m.Stat, m.OldText(), m.NewText(), units, m.ChangeText())
	}
	switch n := c.Regressions(); n {
	case 0:
		b.WriteString("no regressions\n")
	case 1:
		b.WriteString("1 regression\n")
	default:
		fmt.Fprintf(&b, "%d regressions\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func runName(r RunRef) string {
	if r.ID == "" {
		return "(run without id)"
	}
	return r.ID
}

func formatPercent(f float64) string {
	return fmt.Sprintf("%g%%", math.Round(f*1e6)/1e4)
}

// LoadPath reads a run from a run folder (its report.json) or from a
// report.json file of any name, e.g. a baseline kept outside results/.
func LoadPath(path string) (Run, error) {
	info, err := os.Stat(path)
	if err != nil {
		return Run{}, fmt.Errorf("reports: %s: %w", path, cause(err))
	}
	var run Run
	if info.IsDir() {
		if run, err = Load(path); err != nil {
			return Run{}, err
		}
		path = filepath.Join(path, JSONFile)
	} else {
		data, err := os.ReadFile(path)
		if err != nil {
			return Run{}, fmt.Errorf("reports: %s: %w", path, cause(err))
		}
		if err := json.Unmarshal(data, &run); err != nil {
			return Run{}, fmt.Errorf("reports: %s: %s", path, describeJSONError(err))
		}
	}
	// Any JSON object decodes into a Run; one with neither an id nor a spec
	// list is some other file, and comparing against it would report every
	// spec as appeared.
	if run.ID == "" && run.Specs == nil {
		return Run{}, fmt.Errorf("reports: %s: not a vsconform report (no \"id\" and no \"specs\")", path)
	}
	return run, nil
}
