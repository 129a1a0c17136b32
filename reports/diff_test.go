package reports

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func diffSpec(name, state string) Spec {
	return Spec{Suite: "csi", Name: name, State: state}
}

func TestCompareSpecs(t *testing.T) {
	skipped := diffSpec("zones", StateSkipped)
	skipped.SkipReason = "needs capability zones"
	broken := diffSpec("attach", StateFailed)
	broken.Failure = &Failure{Message: "timed out waiting for attach\nmore detail"}
	cpi := Spec{Suite: "cpi", Name: "attach", State: StatePassed} // same name, other suite

	for _, tc := range []struct {
		name                                             string
		old, new                                         []Spec
		regressed, fixed, appeared, disappeared, changed []SpecChange
	}{
		{
			name: "nothing changed",
			old:  []Spec{diffSpec("a", StatePassed), diffSpec("b", StateFailed), diffSpec("c", StateSkipped)},
			new:  []Spec{diffSpec("c", StateSkipped), diffSpec("b", StateFailed), diffSpec("a", StatePassed)},
		},
		{
			name:      "passed to failed regresses, with the new failure's first line",
			old:       []Spec{diffSpec("attach", StatePassed), cpi},
			new:       []Spec{broken, cpi},
			regressed: []SpecChange{{Suite: "csi", Name: "attach", OldState: StatePassed, NewState: StateFailed, Failure: "timed out waiting for attach"}},
		},
		{
			name: "every failing state regresses, unknown ones too",
			old:  []Spec{diffSpec("a", StatePassed), diffSpec("b", StatePassed), diffSpec("c", StatePassed), diffSpec("d", StatePassed)},
			new:  []Spec{diffSpec("d", "aborted"), diffSpec("c", StateInterrupted), diffSpec("b", StatePanicked), diffSpec("a", StateTimedOut)},
			regressed: []SpecChange{
				{Suite: "csi", Name: "a", OldState: StatePassed, NewState: StateTimedOut},
				{Suite: "csi", Name: "b", OldState: StatePassed, NewState: StatePanicked},
				{Suite: "csi", Name: "c", OldState: StatePassed, NewState: StateInterrupted},
				{Suite: "csi", Name: "d", OldState: StatePassed, NewState: "aborted"},
			},
		},
		{
			name:  "failed to passed is fixed",
			old:   []Spec{broken},
			new:   []Spec{diffSpec("attach", StatePassed)},
			fixed: []SpecChange{{Suite: "csi", Name: "attach", OldState: StateFailed, NewState: StatePassed}},
		},
		{
			name:        "appeared and disappeared",
			old:         []Spec{diffSpec("gone", StatePassed), cpi},
			new:         []Spec{cpi, broken},
			appeared:    []SpecChange{{Suite: "csi", Name: "attach", NewState: StateFailed, Failure: "timed out waiting for attach"}},
			disappeared: []SpecChange{{Suite: "csi", Name: "gone", OldState: StatePassed}},
		},
		{
			name:      "other state changes are changed, with the new skip reason; skipped -> failed regressed",
			old:       []Spec{diffSpec("zones", StatePassed), diffSpec("b", StateSkipped), diffSpec("c", StateFailed), diffSpec("d", StateFailed), diffSpec("e", StateSkipped)},
			new:       []Spec{skipped, diffSpec("b", StatePassed), diffSpec("c", StatePanicked), diffSpec("d", StatePending), diffSpec("e", StateFailed)},
			regressed: []SpecChange{{Suite: "csi", Name: "e", OldState: StateSkipped, NewState: StateFailed}},
			changed: []SpecChange{
				{Suite: "csi", Name: "b", OldState: StateSkipped, NewState: StatePassed},
				{Suite: "csi", Name: "c", OldState: StateFailed, NewState: StatePanicked},
				{Suite: "csi", Name: "d", OldState: StateFailed, NewState: StatePending},
				{Suite: "csi", Name: "zones", OldState: StatePassed, NewState: StateSkipped, SkipReason: "needs capability zones"},
			},
		},
		{
			name:        "repeated names are matched by occurrence",
			old:         []Spec{diffSpec("entry", StatePassed), diffSpec("entry", StatePassed), diffSpec("entry", StateSkipped)},
			new:         []Spec{diffSpec("entry", StatePassed), diffSpec("entry", StateFailed)},
			regressed:   []SpecChange{{Suite: "csi", Name: "entry", OldState: StatePassed, NewState: StateFailed}},
			disappeared: []SpecChange{{Suite: "csi", Name: "entry", OldState: StateSkipped}},
		},
		{
			name:        "suite is part of the match",
			old:         []Spec{cpi},
			new:         []Spec{diffSpec("attach", StatePassed)},
			appeared:    []SpecChange{{Suite: "csi", Name: "attach", NewState: StatePassed}},
			disappeared: []SpecChange{{Suite: "cpi", Name: "attach", OldState: StatePassed}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Compare(Run{ID: "old", Specs: tc.old}, Run{ID: "new", Specs: tc.new}, DefaultThreshold)
			for _, l := range []struct {
				class     string
				got, want []SpecChange
			}{
				{"regressed", c.Regressed, tc.regressed},
				{"fixed", c.Fixed, tc.fixed},
				{"appeared", c.Appeared, tc.appeared},
				{"disappeared", c.Disappeared, tc.disappeared},
				{"changed", c.Changed, tc.changed},
			} {
				if !reflect.DeepEqual(l.got, l.want) {
					t.Errorf("%s = %+v\nwant %+v", l.class, l.got, l.want)
				}
			}
			if got := c.Regressions(); got != len(tc.regressed) {
				t.Errorf("Regressions() = %d, want %d", got, len(tc.regressed))
			}
			if c.Old.ID != "old" || c.New.ID != "new" {
				t.Errorf("runs = %+v, %+v", c.Old, c.New)
			}
		})
	}
}

// moved is the part of a MeasurementChange a test case pins down.
type moved struct {
	stat   string
	worse  bool
	change string
}

func TestCompareMeasurements(t *testing.T) {
	nan := math.NaN()
	m := func(units string, median, p99 float64) Measurement {
		return Measurement{Name: "bind latency", Units: units, Samples: 10, Median: median, P99: p99}
	}
	for _, tc := range []struct {
		name      string
		old, new  Measurement
		threshold float64
		want      []moved
	}{
		{name: "unchanged", old: m("s", 1, 2), new: m("s", 1, 2)},
		{name: "within threshold", old: m("s", 10, 100), new: m("s", 11, 90)},
		{name: "exactly the threshold is not more than it", old: m("s", 10, 100), new: m("s", 12, 80)},
		{name: "exactly the threshold despite float rounding", old: m("s", 1.1, 1), new: m("s", 1.32, 1)},
		{name: "just above the threshold", old: m("s", 10, 100), new: m("s", 12.01, 100),
			want: []moved{{StatMedian, true, "+20.1%"}}},
		{name: "higher is worse, lower is better", old: m("ms", 10, 100), new: m("ms", 20, 50),
			want: []moved{{StatMedian, true, "+100.0%"}, {StatP99, false, "-50.0%"}}},
		{name: "p99 alone", old: m("ms", 10, 100), new: m("ms", 10, 130),
			want: []moved{{StatP99, true, "+30.0%"}}},
		{name: "rate: lower is worse", old: m("ops/s", 100, 200), new: m("ops/s", 50, 300),
			want: []moved{{StatMedian, true, "-50.0%"}, {StatP99, false, "+50.0%"}}},
		{name: "rate spelled out", old: m("Volumes per second", 100, 100), new: m("Volumes per second", 70, 100),
			want: []moved{{StatMedian, true, "-30.0%"}}},
		{name: "units merely containing s are no rate", old: m("requests", 100, 100), new: m("requests", 70, 100),
			want: []moved{{StatMedian, false, "-30.0%"}}},
		{name: "custom threshold", old: m("s", 10, 10), new: m("s", 14, 16), threshold: 0.5,
			want: []moved{{StatP99, true, "+60.0%"}}},
		{name: "zero old value: no ratio, still a direction", old: m("s", 0, 0), new: m("s", 0.5, 0),
			want: []moved{{StatMedian, true, "new"}}},
		{name: "zero old rate going up is better", old: m("ops/s", 0, 0), new: m("ops/s", 3, 0),
			want: []moved{{StatMedian, false, "new"}}},
		{name: "NaN old value: new, no direction", old: m("s", nan, 1), new: m("s", 1, 1),
			want: []moved{{StatMedian, false, "new"}}},
		{name: "NaN new value says nothing", old: m("s", 1, 1), new: m("s", nan, math.Inf(1))},
		{name: "negative old value keeps the sign of the change", old: m("", -10, -10), new: m("", -5, -15),
			want: []moved{{StatMedian, true, "+50.0%"}, {StatP99, false, "-50.0%"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oldSpec, newSpec := diffSpec("binds", StatePassed), diffSpec("binds", StatePassed)
			oldSpec.Measurements, newSpec.Measurements = []Measurement{tc.old}, []Measurement{tc.new}
			c := Compare(Run{Specs: []Spec{oldSpec}}, Run{Specs: []Spec{newSpec}}, tc.threshold) // 0: the default

			var got []moved
			worse := 0
			for _, mc := range c.Measurements {
				got = append(got, moved{mc.Stat, mc.Worse, mc.ChangeText()})
				if mc.Suite != "csi" || mc.Spec != "binds" || mc.Name != "bind latency" || mc.Units != tc.new.Units {
					t.Errorf("entry names %+v", mc)
				}
				if mc.Worse {
					worse++
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("moved = %+v, want %+v", got, tc.want)
			}
			if c.Regressions() != worse {
				t.Errorf("Regressions() = %d, want %d worse measurements", c.Regressions(), worse)
			}
			// NaN must never reach the JSON output, which cannot hold it.
			if _, err := json.Marshal(c); err != nil {
				t.Errorf("json: %v", err)
			}
		})
	}
}

func TestCompareThresholdFallback(t *testing.T) {
	for _, threshold := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if got := Compare(Run{}, Run{}, threshold).Threshold; got != DefaultThreshold {
			t.Errorf("Compare(threshold %v) used %v, want %v", threshold, got, DefaultThreshold)
		}
	}
	if got := Compare(Run{}, Run{}, 0.05).Threshold; got != 0.05 {
		t.Errorf("Compare(threshold 0.05) used %v", got)
	}
}

func TestCompareMeasurementMatching(t *testing.T) {
	ms := func(pairs ...float64) []Measurement {
		var out []Measurement
		for i := 0; i+1 < len(pairs); i += 2 {
			out = append(out, Measurement{Name: "attach", Units: "s", Median: pairs[i], P99: pairs[i+1]})
		}
		return out
	}
	oldSpec, newSpec := diffSpec("binds", StatePassed), diffSpec("binds", StateFailed)
	oldSpec.Measurements = append(ms(1, 1, 10, 10), Measurement{Name: "only old", Median: 1, P99: 1})
	newSpec.Measurements = append(ms(1, 1, 20, 10), Measurement{Name: "only new", Median: 9, P99: 9})
	// The appeared spec's measurements have nothing to compare with.
	extra := diffSpec("new spec", StatePassed)
	extra.Measurements = ms(5, 5)

	c := Compare(Run{Specs: []Spec{oldSpec}}, Run{Specs: []Spec{newSpec, extra}}, DefaultThreshold)
	if len(c.Measurements) != 1 || c.Measurements[0].OldText() != "10" || c.Measurements[0].NewText() != "20" {
		t.Fatalf("measurements = %+v, want the second attach median only", c.Measurements)
	}
	if got, want := c.Regressions(), 2; got != want { // the regressed spec and the worse median
		t.Errorf("Regressions() = %d, want %d", got, want)
	}
}

// diffRuns is a baseline and a newer run with one entry of every class.
func diffRuns() (Run, Run) {
	measured := func(state string, median float64) Spec {
		s := Spec{Suite: "csi", Name: "CSI provisioning binds a volume", State: state}
		s.Measurements = []Measurement{
			{Name: "bind latency", Units: "ms", Samples: 100, Median: median, P99: 100},
			{Name: "throughput", Units: "volumes/s", Samples: 10, Median: 40, P99: 50},
		}
		return s
	}
	oldRun := Run{ID: "20260301-100000", Target: "hermetic", StartedAt: t0, Specs: []Spec{
		measured(StatePassed, 50),
		{Suite: "csi", Name: "CSI attach attaches a volume", State: StatePassed},
		{Suite: "csi", Name: "CSI expand grows a volume", State: StateFailed},
		{Suite: "cpi", Name: "CPI nodes old spec", State: StatePassed},
		{Suite: "csi", Name: "CSI zones topology", State: StatePassed},
	}}
	newRun := Run{ID: "20260302-100000", Target: "hermetic", StartedAt: t0.Add(24 * 3600e9), Specs: []Spec{
		measured(StatePassed, 80),
		{Suite: "csi", Name: "CSI attach attaches a volume", State: StateFailed, Failure: &Failure{Message: "timed out waiting for <attach>"}},
		{Suite: "csi", Name: "CSI expand grows a volume", State: StatePassed},
		{Suite: "cpi", Name: "CPI nodes <script>alert(1)</script>", State: StatePassed},
		{Suite: "csi", Name: "CSI zones topology", State: StateSkipped, SkipReason: "needs capability zones"},
	}}
	newRun.Specs[0].Measurements[1].P99 = 30 // throughput p99 fell: worse for a rate
	return oldRun, newRun
}

func TestCompareText(t *testing.T) {
	oldRun, newRun := diffRuns()
	c := Compare(oldRun, newRun, DefaultThreshold)
	var b strings.Builder
	if err := c.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := `old 20260301-100000 -> new 20260302-100000 (measurement threshold 20%)
regressed 1, fixed 1, appeared 1, disappeared 1, changed 1, measurements moved 2 (2 worse)
regressed    [csi] CSI attach attaches a volume: passed -> failed (timed out waiting for <attach>)
fixed        [csi] CSI expand grows a volume: failed -> passed
appeared     [cpi] CPI nodes <script>alert(1)</script>: passed
disappeared  [cpi] CPI nodes old spec: passed
changed      [csi] CSI zones topology: passed -> skipped (needs capability zones)
worse        [csi] CSI provisioning binds a volume: bind latency median 50 -> 80 ms (+60.0%)
worse        [csi] CSI provisioning binds a volume: throughput p99 50 -> 30 volumes/s (-40.0%)
3 regressions
`
	if got := b.String(); got != want {
		t.Errorf("text:\n%s\nwant:\n%s", got, want)
	}
	// Same input, same output: nothing may depend on map order.
	for range 20 {
		var again strings.Builder
		_ = Compare(oldRun, newRun, DefaultThreshold).WriteText(&again)
		if again.String() != b.String() {
			t.Fatalf("output not stable:\n%s", again.String())
		}
	}
}

func TestCompareJSON(t *testing.T) {
	data, err := json.Marshal(Compare(Run{ID: "a"}, Run{ID: "b"}, DefaultThreshold))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"regressed":[]`, `"measurements":[]`, `"regressions":0`, `"threshold":0.2`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("JSON lacks %s: %s", want, data)
		}
	}

	oldRun, newRun := diffRuns()
	oldRun.Specs[0].Measurements[0].Median = 0
	data, err = json.Marshal(Compare(oldRun, newRun, DefaultThreshold))
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Regressions  int
		Regressed    []SpecChange
		Measurements []MeasurementChange
	}
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Regressions != 3 || len(back.Regressed) != 1 || len(back.Measurements) != 2 {
		t.Fatalf("decoded %+v from %s", back, data)
	}
	if m := back.Measurements[0]; m.Old == nil || *m.Old != 0 || m.RelativeChange != nil || !m.Worse {
		t.Errorf("zero old value decoded as %+v, want old 0, relativeChange null, worse", m)
	}
}

func TestWriteWithBaseline(t *testing.T) {
	oldRun, newRun := diffRuns()
	dir := t.TempDir()
	if err := Write(dir, newRun, NewRedactor(), WithBaseline(oldRun, DefaultThreshold)); err != nil {
		t.Fatal(err)
	}
	page := readFile(t, filepath.Join(dir, HTMLFile))
	for _, want := range []string{
		"Compared with baseline 20260301-100000",
		`<td class="regressed">regressed</td>`,
		`<a href="#spec-2">CSI attach attaches a volume</a>`, // links to the failure section
		`<td class="fixed">fixed</td>`,
		"appeared", "disappeared", "CPI nodes old spec",
		"needs capability zones",
		`<td class="worse">worse</td>`, "&#43;60.0%", "-40.0%", // html/template writes + as &#43;
		"CPI nodes &lt;script&gt;alert(1)&lt;/script&gt;",
		"timed out waiting for &lt;attach&gt;",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>") {
		t.Error("report.html contains an unescaped <script>")
	}
	// The baseline shapes the page only; report.json stays the run alone.
	if again, err := Load(dir); err != nil || len(again.Specs) != len(newRun.Specs) || again.ID != newRun.ID {
		t.Errorf("Load after Write with baseline = %+v, %v", again, err)
	}

	if err := Rerender(dir, NewRedactor()); err != nil {
		t.Fatal(err)
	}
	if page := readFile(t, filepath.Join(dir, HTMLFile)); strings.Contains(page, "Compared with baseline") {
		t.Error("a re-render without baseline still has the comparison")
	}

	if err := Rerender(dir, NewRedactor(), WithBaseline(newRun, DefaultThreshold)); err != nil {
		t.Fatal(err)
	}
	if page := readFile(t, filepath.Join(dir, HTMLFile)); !strings.Contains(page, "No differences.") {
		t.Error("comparing a run with itself does not say so")
	}
}

func TestWriteWithBaselineRedacts(t *testing.T) {
	oldRun, newRun := diffRuns()
	oldRun.Specs = append(oldRun.Specs, Spec{Suite: "csi", Name: "logs in with " + canary, State: StatePassed})
	dir := t.TempDir()
	if err := Write(dir, newRun, NewRedactor(canary), WithBaseline(oldRun, 0)); err != nil {
		t.Fatal(err)
	}
	page := readFile(t, filepath.Join(dir, HTMLFile))
	if strings.Contains(page, canary) || !strings.Contains(page, "logs in with "+Redacted) {
		t.Error("the baseline's text is not redacted in report.html")
	}
}

func TestLoadPath(t *testing.T) {
	dir := t.TempDir()
	oldRun, _ := diffRuns()
	if err := Write(dir, oldRun, NewRedactor()); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	copied := write("baseline.json", readFile(t, filepath.Join(dir, JSONFile)))

	for _, tc := range []struct {
		name, path, wantErr string
	}{
		{"run folder", dir, ""},
		{"report.json", filepath.Join(dir, JSONFile), ""},
		{"json file of another name", copied, ""},
		{"missing", filepath.Join(dir, "nope"), "no such file"},
		{"folder without report", t.TempDir(), "report.json: no such file"},
		{"not JSON", write("report.json", "<html>"), "invalid JSON"},
		{"wrong JSON type", write("report.json", `{"specs": 3}`), "unexpected JSON number"},
		{"some other JSON", write("package.json", `{"name": "x"}`), "not a vsconform report"},
		{"empty file", write("report.json", ""), "invalid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run, err := LoadPath(tc.path)
			if tc.wantErr == "" {
				if err != nil || run.ID != oldRun.ID || len(run.Specs) != len(oldRun.Specs) {
					t.Errorf("LoadPath = %s with %d specs, %v", run.ID, len(run.Specs), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
