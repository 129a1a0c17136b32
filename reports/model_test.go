package reports

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestSummary(t *testing.T) {
	run := sampleRun()
	sum := run.Summary()

	want := Counts{Total: 7, Passed: 1, Failed: 2, Skipped: 1, Pending: 1, TimedOut: 1, Panicked: 1,
		Duration: 2*time.Second + 1500*time.Millisecond + 300*time.Millisecond + time.Second + 30*time.Second}
	if sum.Totals != want {
		t.Errorf("totals:\n got %+v\nwant %+v", sum.Totals, want)
	}
	if got := sum.Totals.Failures(); got != 4 {
		t.Errorf("failures = %d, want 4", got)
	}
	checks := []struct {
		name                   string
		got                    Counts
		total, passed, failing int
	}{
		{"suite csi", sum.BySuite["csi"], 4, 1, 3},
		{"suite cloudprovider", sum.BySuite["cloudprovider"], 2, 0, 0},
		{"suite Smoke", sum.BySuite["Smoke"], 1, 0, 1},
		{"label csi (on container and leaf: counted once)", sum.ByLabel["csi"], 2, 1, 1},
		{"label cloudprovider", sum.ByLabel["cloudprovider"], 2, 0, 0},
		{"unlabelled specs", sum.ByLabel[NoLabel], 3, 0, 3},
	}
	for _, c := range checks {
		if c.got.Total != c.total || c.got.Passed != c.passed || c.got.Failures() != c.failing {
			t.Errorf("%s = %+v, want total %d passed %d failing %d", c.name, c.got, c.total, c.passed, c.failing)
		}
	}
	if len(sum.BySuite) != 3 {
		t.Errorf("suites = %v", sortedKeys(sum.BySuite))
	}
}

func TestPassed(t *testing.T) {
	tests := []struct {
		states []string
		want   bool
	}{
		{nil, true},
		{[]string{StatePassed, StateSkipped, StatePending}, true},
		{[]string{StatePassed, StateFailed}, false},
		{[]string{StateInterrupted}, false},
		{[]string{StateTimedOut}, false},
		{[]string{StatePanicked}, false},
		{[]string{"aborted"}, false}, // unknown states never look green
	}
	for _, tt := range tests {
		var run Run
		for _, s := range tt.states {
			run.Specs = append(run.Specs, Spec{State: s})
		}
		if got := run.Passed(); got != tt.want {
			t.Errorf("Passed(%v) = %v, want %v", tt.states, got, tt.want)
		}
	}
}

// report.json gives durations in seconds and still reads reports written
// with nanoseconds.
func TestSpecDurationJSON(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     time.Duration
	}{
		{"seconds", `{"name":"a","state":"passed","durationSeconds":1.5}`, 1500 * time.Millisecond},
		{"legacy nanoseconds", `{"name":"a","state":"passed","duration":2000000000}`, 2 * time.Second},
		{"none", `{"name":"a","state":"skipped"}`, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			var s Spec
			if err := json.Unmarshal([]byte(c.in), &s); err != nil {
				t.Fatal(err)
			}
			if s.Duration != c.want || s.Name != "a" {
				t.Errorf("got %+v, want duration %v", s, c.want)
			}
		})
	}
	out, err := json.Marshal(Spec{Name: "b", State: StatePassed, Duration: 83*time.Second + 1234567*time.Microsecond})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"durationSeconds":84.235`) || strings.Contains(string(out), `"duration":`) {
		t.Errorf("marshalled %s", out)
	}
}
