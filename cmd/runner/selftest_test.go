package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vsphere-conformance/vsphere-conformance/reports"
	"github.com/vsphere-conformance/vsphere-conformance/sim/defects"
)

func TestCatcherOutcome(t *testing.T) {
	p := defects.Profile{Name: "delete-leaves-fcd", Symptom: `FCD \S+ still exists`}
	failed := func(msg, loc string) reports.Spec {
		return reports.Spec{State: "failed", Failure: &reports.Failure{Message: msg, Location: loc}}
	}
	for _, tc := range []struct {
		name string
		spec reports.Spec
		want string
	}{
		{"names the symptom in the spec", failed("Timed out: FCD 1234 still exists after the claim was deleted", "provisioning.go:40"), outcomeCaught},
		{"names it case apart", failed("fcd 1234 STILL EXISTS", "provisioning.go:40"), outcomeCaught},
		{"fails for another reason", failed("Timed out waiting for the claim to bind", "provisioning.go:40"), outcomeUnnamed},
		{"fails only in its cleanup", failed("FCD 1234 still exists", "cleanup.go:10 (in [DeferCleanup (Each)])"), outcomeCleanup},
		{"fails in AfterEach", failed("FCD 1234 still exists", "suite.go:10 (in [AfterEach])"), outcomeCleanup},
		{"fails in BeforeEach, naming it", failed("FCD 1234 still exists", "suite.go:10 (in [BeforeEach])"), outcomeCaught},
		{"timed out by its spec timeout", failed("A spec timeout occurred", "provisioning.go:40"), outcomeUnnamed},
		{"passes", reports.Spec{State: "passed"}, outcomePassed},
		{"is skipped", reports.Spec{State: "skipped", SkipReason: "no capability"}, outcomeSkipped},
		{"panics without a failure", reports.Spec{State: "panicked"}, outcomeUnnamed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, _ := catcherOutcome(p, tc.spec); got != tc.want {
				t.Errorf("outcome %s, want %s", got, tc.want)
			}
		})
	}
}

func TestProfileVerdict(t *testing.T) {
	for _, tc := range []struct {
		outcomes []string
		want     string
		why      string
	}{
		{[]string{outcomePassed, outcomeCaught}, verdictCaught, ""},
		{[]string{outcomePassed, outcomeUnnamed}, verdictMissed, "(1 passed, 1 failed-unnamed)"},
		{[]string{outcomeCleanup}, verdictMissed, "(1 failed-cleanup)"},
		{[]string{outcomeNotInRun}, verdictMissed, "(1 not-run)"},
	} {
		var cells []selftestCell
		for _, o := range tc.outcomes {
			cells = append(cells, selftestCell{Outcome: o})
		}
		v, why := profileVerdict(cells)
		if v != tc.want || !strings.Contains(why, tc.why) {
			t.Errorf("%v: %s %q, want %s %q", tc.outcomes, v, why, tc.want, tc.why)
		}
	}
}

func TestJudgeCatchers(t *testing.T) {
	p := defects.Profile{Name: "x", Symptom: "disk .* not on VM"}
	rep := reports.Run{Specs: []reports.Spec{
		{Name: "a attaches", State: "failed", Failure: &reports.Failure{Message: "disk 12 is not on VM vm-1"}},
		{Name: "b detaches", State: "passed"},
	}}
	got := judgeCatchers(p, []string{"a attaches", "b detaches", "c gone"}, rep)
	var outs []string
	for _, c := range got {
		outs = append(outs, c.Outcome)
	}
	if want := []string{outcomeCaught, outcomePassed, outcomeNotInRun}; !slices.Equal(outs, want) {
		t.Errorf("outcomes %v, want %v", outs, want)
	}
}

func TestSelftestFlags(t *testing.T) {
	name := defects.Names()[0]
	for _, tc := range []struct {
		name     string
		o        selftestOptions
		given    bool
		wantErr  string
		profiles int
	}{
		{"all by default", selftestOptions{procs: 1}, false, "", len(defects.Names())},
		{"no procs", selftestOptions{}, false, "--procs 0", 0},
		{"quick", selftestOptions{quick: true, procs: 1}, false, "", len(quickProfiles)},
		{"one profile", selftestOptions{profiles: []string{name}, procs: 1}, true, "", 1},
		{"quick and a profile", selftestOptions{quick: true, profiles: []string{name}, procs: 1}, true, "--quick and --profile", 0},
		{"unknown profile", selftestOptions{profiles: []string{"no-such"}, procs: 1}, true, `no defect profile "no-such"`, 0},
		{"twice", selftestOptions{profiles: []string{name, name}, procs: 1}, true, "given twice", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.check(tc.given)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
			case tc.wantErr == "" && len(tc.o.profiles) != tc.profiles:
				t.Errorf("%d profiles, want %d", len(tc.o.profiles), tc.profiles)
			}
		})
	}
	for _, q := range quickProfiles {
		if err := defects.Check(q); err != nil {
			t.Errorf("quick profile: %v", err)
		}
	}
}

func TestSelftestReportFiles(t *testing.T) {
	dir := t.TempDir()
	r := selftestReport{Total: 2, Caught: 1, Profiles: []selftestProfile{
		{Name: "delete-leaves-fcd", Verdict: verdictCaught, Specs: []selftestCell{{Spec: "Delete removes <it>", Outcome: outcomeCaught, Message: "FCD 1 still exists"}}},
		{Name: "detach-leaves-disk", Verdict: verdictMissed, Why: "no catcher failed", Specs: []selftestCell{{Spec: "scales down", Outcome: outcomePassed}}},
	}, Clean: &selftestClean{Passed: true, Specs: 2}}
	if err := writeSelftestReport(dir, r); err != nil {
		t.Fatal(err)
	}
	var back selftestReport
	data, _ := os.ReadFile(filepath.Join(dir, selftestJSONFile))
	if err := json.Unmarshal(data, &back); err != nil || len(back.Profiles) != 2 {
		t.Fatalf("selftest.json: %v, %d profiles", err, len(back.Profiles))
	}
	html, _ := os.ReadFile(filepath.Join(dir, selftestHTMLFile))
	for _, want := range []string{`class="caught"`, `class="passed"`, "Delete removes &lt;it&gt;", "verdict-missed"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("selftest.html lacks %q", want)
		}
	}
	text, _ := os.ReadFile(filepath.Join(dir, selftestTextFile))
	if !strings.Contains(string(text), "detach-leaves-disk: missed: no catcher failed") {
		t.Errorf("selftest.txt:\n%s", text)
	}
}
