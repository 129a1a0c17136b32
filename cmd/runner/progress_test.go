package main

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/vsphere-conformance/vsphere-conformance/reports"
)

func TestStatusLine(t *testing.T) {
	clock := time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		tty  bool
		last map[string]time.Duration
		want string
	}{
		{"terminal with the last run", true, map[string]time.Duration{"a": 40 * time.Second, "b": 30 * time.Second, "c": 20 * time.Second},
			"\r\033[Ka line\n" +
				"\r\033[K\n[0/3] 0 failed, 0s elapsed, ETA 1m30s" +
				"\r\033[Ka\n[1/3] 1 failed, 1m0s elapsed, ETA 50s" +
				"\r\033[Kb\n[2/3] 1 failed, 1m10s elapsed, ETA 20s\r\033[K"},
		{"terminal, no last run", true, nil,
			"\r\033[Ka line\n" +
				"\r\033[K\n[0/3] 0 failed, 0s elapsed" +
				"\r\033[Ka\n[1/3] 1 failed, 1m0s elapsed" +
				"\r\033[Kb\n[2/3] 1 failed, 1m10s elapsed\r\033[K"},
		{"not a terminal: the lines alone", false, map[string]time.Duration{"a": time.Second}, "a line\n\na\nb\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			s := newStatusLine(&buf, c.last)
			s.tty, s.now = c.tty, func() time.Time { return clock }
			s.Write([]byte("a line\n"))
			s.total, s.start, s.doneAt = 3, clock, clock // begin without the ticker
			s.Write([]byte("\n"))
			clock = clock.Add(time.Minute)
			s.specDone("a", true)
			s.Write([]byte("a\n"))
			clock = clock.Add(10 * time.Second)
			s.specDone("b", false)
			s.Write([]byte("b\n"))
			s.end()
			clock = clock.Add(-70 * time.Second)
			if got := buf.String(); got != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestLastRunDurations(t *testing.T) {
	dir := t.TempDir()
	write := func(id, filter string, specs ...reports.Spec) {
		if err := reports.Write(filepath.Join(dir, id), reports.Run{ID: id, Target: "hermetic", LabelFilter: filter, Specs: specs}, reports.NewRedactor()); err != nil {
			t.Fatal(err)
		}
	}
	write("20261201-100000", "csi", reports.Spec{Name: "old", State: reports.StatePassed, Duration: time.Second})
	write("20261202-100000", "csi",
		reports.Spec{Name: "ran", State: reports.StatePassed, Duration: 2 * time.Second},
		reports.Spec{Name: "gated", State: reports.StateSkipped, SkipReason: "no capability", Duration: time.Millisecond},
		reports.Spec{Name: "filtered", State: reports.StateSkipped})
	write("20261203-100000", "cpi", reports.Spec{Name: "other filter", State: reports.StatePassed, Duration: time.Second})

	got := lastRunDurations(dir, "hermetic", "csi", "")
	if len(got) != 2 || got["ran"] != 2*time.Second || got["gated"] != time.Millisecond {
		t.Errorf("durations %v", got)
	}
	if got := lastRunDurations(dir, "lab", "csi", ""); got != nil {
		t.Errorf("another target's run was used: %v", got)
	}
}
