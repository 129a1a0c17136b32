package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vsphere-conformance/vsphere-conformance/reports"
	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// TestSoakFlags: every bad flag is one line and exit 2 before anything
// starts; --out is not even created.
func TestSoakFlags(t *testing.T) {
	work := t.TempDir()
	aFile := filepath.Join(work, "a-file")
	if err := os.WriteFile(aFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	withSoak := filepath.Join(work, "old-soak")
	withRuns := filepath.Join(work, "old-runs")
	for _, d := range []string{withSoak, filepath.Join(withRuns, "run-01")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(withSoak, soakJSONFile), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(work, "fresh")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no runs", []string{"--runs", "0"}, "--runs 0: want 1 or more"},
		{"negative runs", []string{"--runs", "-3"}, "--runs -3: want 1 or more"},
		{"runs not a number", []string{"--runs", "many"}, `invalid argument "many" for "--runs"`},
		{"negative interrupt-every", []string{"--interrupt-every", "-1"}, "--interrupt-every -1: want K >= 1"},
		{"negative faults-every", []string{"--faults-every", "-2"}, "--faults-every -2: want K >= 1"},
		{"bad label filter", []string{"--label-filter", "csi &&"}, "invalid label filter"},
		{"unknown label", []string{"--label-filter", "csi && nosuch"}, `unknown label "nosuch"`},
		{"bad focus", []string{"--focus", "a(b"}, `--focus "a(b": not a regular expression`},
		{"out is a file", []string{"--out", aFile}, "not a directory"},
		{"out holds a soak", []string{"--out", withSoak}, "holds a soak already"},
		{"out holds runs", []string{"--out", withRuns}, "holds runs already (run-01)"},
		{"positional argument", []string{"now"}, `unknown command "now"`},
		{"unknown flag", []string{"--procs", "2"}, "unknown flag: --procs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"soak"}, tc.args...)
			if !slices.Contains(tc.args, "--out") {
				args = append(args, "--out", fresh)
			}
			var stdout, stderr bytes.Buffer
			code := runMain(newRootCommand, args, &stdout, &stderr)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			line := stderr.String()
			if strings.Count(line, "\n") != 1 || !strings.HasPrefix(line, "vsconform: ") || !strings.Contains(line, tc.want) {
				t.Errorf("stderr %q: want one line with %q", line, tc.want)
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout %q: want nothing", stdout.String())
			}
			if _, err := os.Stat(fresh); err == nil && tc.name != "out is a file" {
				t.Errorf("--out %s was created for a bad flag", fresh)
			}
		})
	}
}

func TestSoakFlagsGood(t *testing.T) {
	out := filepath.Join(t.TempDir(), "soak")
	o := soakOptions{runs: 1, out: out, seed: -42, interruptEvery: 0, faultsEvery: 1, labelFilter: "csi && !scale", focus: []string{"claim"}}
	if err := o.check(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(out); err != nil || !fi.IsDir() {
		t.Errorf("--out %s not created: %v", out, err)
	}
}

func TestSoakKind(t *testing.T) {
	for _, tc := range []struct {
		index, interruptEvery, faultsEvery int
		want                               string
	}{
		{1, 4, 3, kindClean},
		{3, 4, 3, kindFaults},
		{4, 4, 3, kindInterrupted},
		{12, 4, 3, kindInterrupted}, // both: the interrupt wins
		{6, 0, 3, kindFaults},
		{4, 0, 0, kindClean},
		{1, 1, 1, kindInterrupted},
		{7, 0, 1, kindFaults},
	} {
		if got := soakKind(tc.index, tc.interruptEvery, tc.faultsEvery); got != tc.want {
			t.Errorf("soakKind(%d, %d, %d) = %s, want %s", tc.index, tc.interruptEvery, tc.faultsEvery, got, tc.want)
		}
	}
	// The default schedule of 20 runs.
	var kinds []string
	for i := 1; i <= 20; i++ {
		kinds = append(kinds, soakKind(i, 4, 3)[:1])
	}
	if got, want := strings.Join(kinds, ""), "ccficfcifcciccficfci"; got != want {
		t.Errorf("default schedule %s, want %s", got, want)
	}
}

func TestSoakFaultProfile(t *testing.T) {
	methods := map[string]bool{}
	times := map[int]bool{}
	skips := map[int]bool{}
	for seed := int64(-3); seed < 40; seed++ {
		for index := 1; index <= 6; index++ {
			rules := soakFaultProfile(seed, index)
			if again := soakFaultProfile(seed, index); !reflect.DeepEqual(rules, again) {
				t.Fatalf("seed %d run %d: two profiles differ:\n%v\n%v", seed, index, rules, again)
			}
			if len(rules) < 2 || len(rules) > 3 {
				t.Errorf("seed %d run %d: %d rules, want 2 or 3", seed, index, len(rules))
			}
			seen := map[string]bool{}
			for _, r := range rules {
				if !slices.Contains(soakFaultMethods, r.Method) || seen[r.Method] {
					t.Errorf("seed %d run %d: method %s: want one of %v, each once", seed, index, r.Method, soakFaultMethods)
				}
				seen[r.Method] = true
				if r.Object != "CnsVolumeManager" || r.Fault != "SystemError" {
					t.Errorf("rule %+v: want SystemError on CnsVolumeManager", r)
				}
				if r.Times < 1 || r.Times > 2 || r.Skip < 0 || r.Skip > 5 {
					t.Errorf("rule %+v: want times 1-2, skip 0-5", r)
				}
				if want := soakRunID(seed, index); r.Run != want {
					t.Errorf("rule run %q, want %q", r.Run, want)
				}
				if r.Probability != 0 || r.Delay != 0 {
					t.Errorf("rule %+v: want no probability or delay", r)
				}
				methods[r.Method], times[r.Times], skips[r.Skip] = true, true, true
			}
		}
	}
	if len(methods) != len(soakFaultMethods) || len(times) != 2 || len(skips) != 6 {
		t.Errorf("over many seeds: methods %v, times %v, skips %v: want every allowed value", methods, times, skips)
	}
	if reflect.DeepEqual(soakFaultProfile(1, 3), soakFaultProfile(2, 3)) && reflect.DeepEqual(soakFaultProfile(1, 6), soakFaultProfile(2, 6)) {
		t.Error("seeds 1 and 2 give the same profiles")
	}
}

func TestSoakInterruptAt(t *testing.T) {
	for _, ref := range []time.Duration{0, 10 * time.Second, 25 * time.Second, 5 * time.Minute, defaultInterruptRef} {
		hi := max(time.Duration(float64(ref)*0.8), 20*time.Second)
		for index := 1; index <= 50; index++ {
			at := soakInterruptAt(7, index, ref)
			if at < 20*time.Second || at > hi {
				t.Errorf("ref %s run %d: interrupt at %s, want 20s..%s", ref, index, at, hi)
			}
			if again := soakInterruptAt(7, index, ref); again != at {
				t.Errorf("ref %s run %d: %s then %s", ref, index, at, again)
			}
		}
	}
	if at := soakInterruptAt(7, 4, 10*time.Second); at != 20*time.Second {
		t.Errorf("a run shorter than 25 s: interrupt at %s, want 20s", at)
	}
	if first, again := soakGinkgoSeed(7, 1), soakGinkgoSeed(7, 1); first == 0 || first != again || first == soakGinkgoSeed(7, 2) {
		t.Error("Ginkgo seeds: want non-zero, repeatable and different per run")
	}
}

func TestSoakFaultRunFilter(t *testing.T) {
	for user, want := range map[string]string{
		"":            "!cost && !disruptive",
		"  ":          "!cost && !disruptive",
		"csi || cpi":  "(csi || cpi) && !cost && !disruptive",
		"csi && cost": "(csi && cost) && !cost && !disruptive",
	} {
		got := faultRunFilter(user)
		if got != want {
			t.Errorf("faultRunFilter(%q) = %q, want %q", user, got, want)
		}
		if err := labels.Validate(got); err != nil {
			t.Errorf("faultRunFilter(%q): %v", user, err)
		}
	}
}

// reportSpec and leakSpec make specs of hand-made reports.
func reportSpec(name, state string) reports.Spec {
	s := reports.Spec{Suite: "csi", Name: name, State: state}
	if state != reports.StatePassed && state != reports.StateSkipped {
		s.Failure = &reports.Failure{Message: name + " went wrong"}
	}
	return s
}

func leakSpec(name, msg string) reports.Spec {
	return reports.Spec{Suite: "vsphere-conformance", Name: name, State: reports.StateFailed, Failure: &reports.Failure{Message: msg}}
}

// soakCase is one run of a soak: its kind, how its child ended, its report.
type soakCase struct {
	kind   string
	res    childResult
	specs  []reports.Spec
	noRep  bool
	pre    []reports.Finding
	remove string // cleanup output after an interrupt
	stop   string // the user stopped the soak during it
}

func soakRuns(cases []soakCase) []soakRun {
	var runs []soakRun
	for i, c := range cases {
		r := soakRun{Index: i + 1, Kind: c.kind, RunID: soakRunID(1, i+1), Dir: "run-0" + string(rune('1'+i)), StoppedBy: c.stop}
		if c.kind == kindInterrupted {
			r.InterruptAtSeconds = 30
		}
		var err error
		if c.noRep {
			err = os.ErrNotExist
		}
		recordOutcome(&r, c.res, reports.Run{Specs: c.specs, Preflight: c.pre}, err)
		if r.Interrupted {
			recordCleanup(&r, childResult{}, []byte(c.remove+"run "+r.RunID+": removed 0 objects\n"))
		}
		runs = append(runs, r)
	}
	return runs
}

var (
	exited0   = childResult{exit: 0, wall: 10 * time.Minute}
	exited1   = childResult{exit: 1, wall: 11 * time.Minute}
	exited130 = childResult{exit: 130, wall: 2 * time.Minute, interruptSent: true}
)

func TestSoakAggregate(t *testing.T) {
	runs := soakRuns([]soakCase{
		{kind: kindClean, res: exited0, specs: []reports.Spec{reportSpec("A", "passed"), reportSpec("B", "passed"), reportSpec("C", "skipped")}},
		{kind: kindClean, res: exited1, specs: []reports.Spec{reportSpec("A", "failed"), reportSpec("B", "passed"), reportSpec("C", "skipped")}},
		{kind: kindInterrupted, res: exited130, specs: []reports.Spec{reportSpec("A", "passed"), reportSpec("B", "interrupted"), reportSpec("D", "timedout")}},
		{kind: kindFaults, res: exited0, specs: []reports.Spec{reportSpec("A", "passed"), reportSpec("B", "passed"), reportSpec("C", "pending")}},
	})
	rep := buildSoakReport(soakHeader{Seed: 1, RunsRequested: 4}, runs)
	want := []soakSpec{
		{Suite: "csi", Name: "A", soakCounts: soakCounts{Passed: 3, Failed: 1}, Flake: true, FailedIn: []int{2}},
		{Suite: "csi", Name: "D", soakCounts: soakCounts{Failed: 1}, FailedIn: []int{3}},
		{Suite: "csi", Name: "B", soakCounts: soakCounts{Passed: 3, Interrupted: 1}},
		{Suite: "csi", Name: "C", soakCounts: soakCounts{Skipped: 3}},
	}
	if !reflect.DeepEqual(rep.Specs, want) {
		t.Errorf("specs:\n%+v\nwant\n%+v", rep.Specs, want)
	}
	if rep.Flakes != 1 || rep.RunsDone != 4 {
		t.Errorf("flakes %d, runs done %d: want 1 and 4", rep.Flakes, rep.RunsDone)
	}
	// D failed only in the interrupted run, which is not judged.
	if rep.Passed || !reflect.DeepEqual(rep.Reasons, []string{"run 02: 1 spec failed"}) {
		t.Errorf("verdict %v %q, want failed for run 02 only", rep.Passed, rep.Reasons)
	}
	if got := runs[2]; !got.Interrupted || !reflect.DeepEqual(got.InterruptedSpecs, []string{"B"}) || !reflect.DeepEqual(got.Failed, []string{"D"}) {
		t.Errorf("interrupted run: %+v", got)
	}
	if got := (soakCounts{Passed: 1, Interrupted: 1, Failed: 1}); runs[2].Counts != got {
		t.Errorf("interrupted run counts %+v, want %+v", runs[2].Counts, got)
	}
	if rep.MedianCleanWallSeconds != 630 {
		t.Errorf("median of clean runs %v s, want 630", rep.MedianCleanWallSeconds)
	}
}

func TestSoakVerdict(t *testing.T) {
	passed := []reports.Spec{reportSpec("A", "passed"), reportSpec("B", "passed")}
	for _, tc := range []struct {
		name    string
		cases   []soakCase
		reasons []string // nil: passed
		leaks   int
	}{
		{name: "all passed", cases: []soakCase{{kind: kindClean, res: exited0, specs: passed}, {kind: kindFaults, res: exited0, specs: passed}}},
		{name: "a failure in an interrupted run only",
			cases: []soakCase{{kind: kindInterrupted, res: exited130, specs: []reports.Spec{reportSpec("A", "failed"), reportSpec("B", "interrupted")}}}},
		{name: "the user stopped the run",
			cases: []soakCase{{kind: kindClean, res: childResult{exit: 130}, specs: []reports.Spec{reportSpec("A", "interrupted")}, stop: "SIGINT"}}},
		{name: "a failure in a fault run",
			cases:   []soakCase{{kind: kindFaults, res: exited1, specs: []reports.Spec{reportSpec("A", "failed"), reportSpec("B", "passed")}}},
			reasons: []string{"run 01: 1 spec failed"}},
		{name: "a spec's leak check",
			cases: []soakCase{{kind: kindClean, res: exited1, specs: []reports.Spec{reportSpec("A", "passed"),
				leakSpec("B", "the spec leaked objects on the target:\nPV pvc-1\nCNS volume 123")}}},
			reasons: []string{"run 01: 1 spec failed", "run 01: 1 leak"}, leaks: 1},
		{name: "the run's leak check in an interrupted run",
			cases: []soakCase{{kind: kindInterrupted, res: exited130, specs: []reports.Spec{reportSpec("A", "interrupted"),
				leakSpec("[AfterSuite]", "the run leaked objects on the target:\nnamespace ns-1")}}},
			reasons: []string{"run 01: 1 leak"}, leaks: 1},
		{name: "cleanup removed something after the interrupt",
			cases: []soakCase{{kind: kindInterrupted, res: exited130, specs: []reports.Spec{reportSpec("A", "interrupted")},
				remove: "removed namespace ns-1 (run soak-1-01)\nremoved PV pvc-2 (run soak-1-01)\n"}},
			reasons: []string{"run 01: 2 leaks"}, leaks: 2},
		{name: "exit 1 while the report says all passed",
			cases:   []soakCase{{kind: kindClean, res: exited1, specs: passed}},
			reasons: []string{"run 01: exit 1, but its report says all 2 specs passed"}},
		{name: "exit 1 for a preflight error",
			cases:   []soakCase{{kind: kindClean, res: exited1, specs: passed, pre: []reports.Finding{{ID: "CSI001", Severity: "error"}}}},
			reasons: []string{"run 01: exit 1 with no failed spec: preflight errors CSI001"}},
		{name: "exit 0 with a failed spec",
			cases:   []soakCase{{kind: kindClean, res: exited0, specs: []reports.Spec{reportSpec("A", "panicked")}}},
			reasons: []string{"run 01: 1 spec failed", "run 01: exit 0, but its report has 1 failed spec"}},
		{name: "no report",
			cases:   []soakCase{{kind: kindClean, res: childResult{exit: 2}, noRep: true}},
			reasons: []string{"run 01: no report: file does not exist"}},
		{name: "the run ended before its interrupt: judged as a plain run",
			cases:   []soakCase{{kind: kindInterrupted, res: exited1, specs: []reports.Spec{reportSpec("A", "failed")}}},
			reasons: []string{"run 01: 1 spec failed"}},
		{name: "an interrupted run that did not exit 130",
			cases:   []soakCase{{kind: kindInterrupted, res: childResult{exit: -1, interruptSent: true}, noRep: true}},
			reasons: []string{"run 01: interrupted at 30s: exit -1, want 130", "run 01: no report: file does not exist"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runs := soakRuns(tc.cases)
			ok, reasons := soakVerdict(soakHeader{}, runs)
			if ok != (tc.reasons == nil) || !reflect.DeepEqual(reasons, tc.reasons) {
				t.Errorf("verdict %v %q, want %q", ok, reasons, tc.reasons)
			}
			leaks := 0
			for _, r := range runs {
				leaks += len(r.Leaks)
			}
			if leaks != tc.leaks {
				t.Errorf("%d leaks, want %d: %+v", leaks, tc.leaks, runs)
			}
		})
	}
	aborted := soakHeader{Aborted: "the hermetic target did not come up", Problems: []string{"sim down: busy"}}
	if ok, reasons := soakVerdict(aborted, nil); ok || len(reasons) != 2 {
		t.Errorf("an aborted soak: %v %q", ok, reasons)
	}
}

func TestSoakMedianCleanWall(t *testing.T) {
	runs := []soakRun{
		{Kind: kindClean, WallSeconds: 100, BroughtUpTarget: true},
		{Kind: kindClean, WallSeconds: 50},
		{Kind: kindFaults, WallSeconds: 5},
		{Kind: kindClean, WallSeconds: 70, ExitCode: 1},
		{Kind: kindClean, WallSeconds: 60},
		{Kind: kindClean, WallSeconds: 1, ExitCode: 2},
		{Kind: kindInterrupted, WallSeconds: 20, Interrupted: true, ExitCode: 130},
	}
	if got := medianCleanWall(runs); got != 60 {
		t.Errorf("median %v, want 60", got)
	}
	if got := medianCleanWall(runs[:1]); got != 100 {
		t.Errorf("median of the bring-up run alone %v, want 100", got)
	}
	if got := medianCleanWall(nil); got != 0 {
		t.Errorf("median of nothing %v, want 0", got)
	}
}

func TestSoakReportFiles(t *testing.T) {
	runs := soakRuns([]soakCase{
		{kind: kindClean, res: exited0, specs: []reports.Spec{reportSpec("A", "passed"), reportSpec("B", "passed")}},
		{kind: kindFaults, res: exited1, specs: []reports.Spec{reportSpec("A", "failed"), reportSpec("B", "passed")}},
	})
	runs[1].Faults = []target.FaultRuleStatus{{ID: "f1", Rule: soakFaultProfile(1, 2)[0], Hits: 1}}
	o := soakOptions{runs: 2, seed: 1, interruptEvery: 4, faultsEvery: 2, labelFilter: "csi && !scale"}
	h := newSoakHeader(o, time.Now())
	dir := t.TempDir()
	if err := writeSoakReport(dir, buildSoakReport(h, runs)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, soakJSONFile))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"seed", "repeat", "runs", "specs", "medianCleanWallSeconds", "passed"} {
		if _, ok := got[k]; !ok {
			t.Errorf("soak.json has no %q", k)
		}
	}
	text, err := os.ReadFile(filepath.Join(dir, soakTextFile))
	if err != nil {
		t.Fatal(err)
	}
	s := string(text)
	for _, want := range []string{"seed 1 (repeat: vsconform soak --runs 2 --seed 1 --interrupt-every 4 --faults-every 2 --label-filter 'csi && !scale')",
		"result: FAILED", "run 02: 1 spec failed", "[csi] A", "fault rule: SystemError"} {
		if !strings.Contains(s, want) {
			t.Errorf("soak.txt has no %q:\n%s", want, s)
		}
	}
	if f, r := strings.Index(s, "FLAKES"), strings.Index(s, "\nRUNS"); f < 0 || r < f {
		t.Errorf("soak.txt: want the flakes before the runs:\n%s", s)
	}
}

// TestSoakFaultAdmin: the small client posts, lists and removes rules with
// the bearer token, and its errors never hold the token.
func TestSoakFaultAdmin(t *testing.T) {
	const token = "t0ken-s3cret"
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.Path)
		switch {
		case r.Method == http.MethodPost:
			var rule target.FaultRule
			if err := json.Unmarshal(body, &rule); err != nil || rule.Method == "" {
				http.Error(w, "bad rule", http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusCreated)
			json.NewEncoder(w).Encode(target.FaultRuleStatus{ID: "f1", Rule: rule})
		case r.Method == http.MethodGet:
			json.NewEncoder(w).Encode([]target.FaultRuleStatus{{ID: "f1", Hits: 2}})
		case r.Method == http.MethodDelete && r.URL.Path == target.FaultsPath+"/f1":
			w.WriteHeader(http.StatusNoContent)
		default:
			http.Error(w, "no rule "+r.URL.Path, http.StatusNotFound)
		}
	}))
	defer srv.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	admin, err := newFaultAdmin(&target.FaultsEndpoint{URL: srv.URL, TokenFile: tokenFile})
	if err != nil {
		t.Fatal(err)
	}
	st, err := admin.add(soakFaultProfile(5, 3)[0])
	if err != nil || st.ID != "f1" || st.Rule.Fault != "SystemError" {
		t.Fatalf("add: %+v, %v", st, err)
	}
	if held, err := admin.list(); err != nil || len(held) != 1 || held[0].Hits != 2 {
		t.Errorf("list: %+v, %v", held, err)
	}
	if err := admin.remove("f1"); err != nil {
		t.Errorf("remove: %v", err)
	}
	err = admin.remove("f2")
	if err == nil || strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "404") {
		t.Errorf("remove of an unknown rule: %v: want a 404 without the token", err)
	}
	want := []string{"POST /v1/faults", "GET /v1/faults", "DELETE /v1/faults/f1", "DELETE /v1/faults/f2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	if _, err := newFaultAdmin(&target.FaultsEndpoint{URL: "ftp://x", TokenFile: tokenFile}); err == nil {
		t.Error("an ftp URL: want an error")
	}
}

func TestSoakRecordCleanup(t *testing.T) {
	r := soakRun{RunID: "soak-1-04", Dir: "run-04"}
	out := "removed namespace ns-a (run soak-1-04)\nremoved fault rule f3 (SystemError on CnsCreateVolume) (run soak-1-04)\nrun soak-1-04: removed 2 objects\n"
	recordCleanup(&r, childResult{exit: 0}, []byte(out))
	want := []string{"namespace ns-a (run soak-1-04)", "fault rule f3 (SystemError on CnsCreateVolume) (run soak-1-04)"}
	if !reflect.DeepEqual(r.CleanupRemoved, want) || len(r.Leaks) != 2 || r.Leaks[0].Source != leakFromCleanup || len(r.Problems) != 0 {
		t.Errorf("after cleanup: %+v", r)
	}
	r = soakRun{RunID: "soak-1-04", Dir: "run-04"}
	recordCleanup(&r, childResult{exit: 2}, []byte("vsconform: cleanup: list namespaces: refused\n"))
	if len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "exit 2") {
		t.Errorf("a failed cleanup: %+v", r)
	}
}

// fakeSoakChildEnv makes the test binary a fake vsconform child of a soak
// (run, cleanup, sleep), so the soak's own plumbing is tested without a
// target: it runs before TestMain.
const fakeSoakChildEnv = "VSCONFORM_TEST_FAKE_SOAK_CHILD"

func init() {
	if os.Getenv(fakeSoakChildEnv) == "1" {
		os.Exit(fakeSoakChild(os.Args[1:]))
	}
}

func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// fakeSoakChild: `run` writes a report in which spec A fails in run 02 and
// the cost spec is skipped under a label filter that excludes it;
// `cleanup` removes one namespace; `sleep` waits for a signal.
func fakeSoakChild(args []string) int {
	switch args[0] {
	case "sleep":
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
		select {
		case sig := <-ch:
			return signalExitCode(sig)
		case <-time.After(10 * time.Second):
			return 0
		}
	case "exit":
		return 0
	case "cleanup":
		id := flagValue(args, "--run-id")
		fmt.Printf("removed namespace ns-1 (run %s)\nrun %s: removed 1 objects\n", id, id)
		return 0
	case "run":
		if flagValue(args, "--focus") == "usage-error" {
			fmt.Fprintln(os.Stderr, "vsconform: target config: no such file")
			return 2
		}
		id, filter := flagValue(args, "--run-id"), flagValue(args, "--label-filter")
		dir := filepath.Join(flagValue(args, "--results-dir"), id)
		run := reports.Run{ID: id, LabelFilter: filter, Specs: []reports.Spec{reportSpec("A", "passed"), reportSpec("cost B", "passed")}}
		if strings.HasSuffix(id, "-02") {
			run.Specs[0] = reportSpec("A", "failed")
		}
		if strings.Contains(filter, "!cost") {
			run.Specs[1] = reportSpec("cost B", "skipped")
		}
		data, _ := json.Marshal(run)
		if os.MkdirAll(dir, 0o755) != nil || os.WriteFile(filepath.Join(dir, reports.JSONFile), data, 0o644) != nil ||
			os.WriteFile(filepath.Join(dir, "args"), []byte(strings.Join(args, "\n")), 0o644) != nil {
			return 2
		}
		if !run.Passed() {
			return 1
		}
		return 0
	}
	return 2
}

// fakeFaults is a fault endpoint that holds rules as the real one does.
type fakeFaults struct {
	mu     sync.Mutex
	rules  map[string]target.FaultRule
	posted []target.FaultRule
	next   int
}

func (f *fakeFaults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodPost:
		var rule target.FaultRule
		if err := json.NewDecoder(r.Body).Decode(&rule); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.next++
		id := fmt.Sprintf("f%d", f.next)
		f.rules[id] = rule
		f.posted = append(f.posted, rule)
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(target.FaultRuleStatus{ID: id, Rule: rule})
	case r.Method == http.MethodGet:
		var out []target.FaultRuleStatus
		for id, rule := range f.rules {
			out = append(out, target.FaultRuleStatus{ID: id, Rule: rule, Hits: 1})
		}
		json.NewEncoder(w).Encode(out)
	case r.Method == http.MethodDelete:
		delete(f.rules, strings.TrimPrefix(r.URL.Path, target.FaultsPath+"/"))
		w.WriteHeader(http.StatusNoContent)
	}
}

// fakeRunningTarget writes the state of a running hermetic target (this
// process stands in for its component) whose config has the fault
// endpoint at url.
func fakeRunningTarget(t *testing.T, url string) string {
	t.Helper()
	dir := t.TempDir()
	token := filepath.Join(dir, "faults-token")
	cfg := filepath.Join(dir, "target.yaml")
	self, _ := os.Executable()
	state := fmt.Sprintf(`{"dir": %q, "ready": true, "targetConfig": %q, "processes": [{"name": "fake", "pid": %d, "program": %q}]}`,
		dir, cfg, os.Getpid(), filepath.Base(self))
	for name, content := range map[string]string{
		token:                            "tok\n",
		cfg:                              fmt.Sprintf("apiVersion: vsconform.io/v1alpha1\nkind: Target\nname: fake\nfaults:\n  url: %s\n  tokenFile: %s\n", url, token),
		filepath.Join(dir, "state.json"): state,
	} {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if hermeticRunning(dir) == nil {
		t.Fatal("the fake target does not count as running")
	}
	return dir
}

// TestSoakWithFakeRuns runs a soak of three runs, the second with faults,
// against fake `vsconform run` children and a fake fault endpoint.
func TestSoakWithFakeRuns(t *testing.T) {
	t.Setenv(fakeSoakChildEnv, "1")
	faults := &fakeFaults{rules: map[string]target.FaultRule{}}
	srv := httptest.NewServer(faults)
	defer srv.Close()
	state := fakeRunningTarget(t, srv.URL)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	o := soakOptions{runs: 3, out: t.TempDir(), seed: 9, interruptEvery: 0, faultsEvery: 2, labelFilter: "csi"}
	var stdout, stderr bytes.Buffer
	cmd := newSoakCommand()
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	err = runSoak(cmd, o, self, simPaths{binDir: filepath.Dir(self), stateDir: state})
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitFailed {
		t.Fatalf("soak: %v, want exit 1 (spec A failed in run 02)\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "soak report: "+filepath.Join(o.out, soakTextFile)) {
		t.Errorf("stdout %q: want where the report is", stdout.String())
	}
	var rep soakReport
	data, err := os.ReadFile(filepath.Join(o.out, soakJSONFile))
	if err != nil || json.Unmarshal(data, &rep) != nil {
		t.Fatalf("soak.json: %v", err)
	}
	if rep.RunsDone != 3 || rep.Flakes != 1 || rep.Specs[0].Name != "A" || !rep.Specs[0].Flake {
		t.Errorf("report: %d runs, %d flakes, specs %+v", rep.RunsDone, rep.Flakes, rep.Specs)
	}
	kinds := []string{rep.Runs[0].Kind, rep.Runs[1].Kind, rep.Runs[2].Kind}
	if !reflect.DeepEqual(kinds, []string{kindClean, kindFaults, kindClean}) {
		t.Errorf("kinds %v", kinds)
	}
	// The fault run: its rules, made before it and lifted after it, and
	// a label filter without the cost and disruptive specs.
	fr := rep.Runs[1]
	if want := soakFaultProfile(9, 2); !reflect.DeepEqual(faults.posted, want) || len(fr.Faults) != len(want) {
		t.Errorf("posted %+v, want %+v", faults.posted, want)
	}
	if len(faults.rules) != 0 {
		t.Errorf("rules left on the endpoint: %v", faults.rules)
	}
	if fr.LabelFilter != "(csi) && !cost && !disruptive" || fr.Counts.Skipped != 1 || rep.Runs[0].Counts.Skipped != 0 {
		t.Errorf("fault run: filter %q, counts %+v", fr.LabelFilter, fr.Counts)
	}
	args, err := os.ReadFile(filepath.Join(o.out, "run-01", "soak-9-01", "args"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--keep", "--seed\n" + strconv.FormatInt(soakGinkgoSeed(9, 1), 10), "--state-dir\n" + state, "--label-filter\ncsi"} {
		if !strings.Contains(string(args), want) {
			t.Errorf("run's arguments %q: want %q", args, want)
		}
	}
	if !slices.Equal(rep.Reasons, []string{"run 02: 1 spec failed"}) {
		t.Errorf("reasons %q", rep.Reasons)
	}
}

// TestSoakChildren: a child gets its scheduled SIGINT, a child that ends
// first gets none, and the soak's own signal is forwarded to the child.
func TestSoakChildren(t *testing.T) {
	t.Setenv(fakeSoakChildEnv, "1")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := watchSoakSignals(io.Discard)
	defer c.close()
	res := c.run(self, []string{"sleep"}, filepath.Join(dir, "1.log"), 300*time.Millisecond)
	if res.exit != 130 || !res.interruptSent || res.err != nil || res.stoppedBy != nil {
		t.Errorf("scheduled interrupt: %+v, want exit 130 with the interrupt sent", res)
	}
	res = c.run(self, []string{"exit"}, filepath.Join(dir, "2.log"), 5*time.Second)
	if res.exit != 0 || res.interruptSent {
		t.Errorf("a child that ends first: %+v, want exit 0 and no interrupt", res)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		c.sigs <- syscall.SIGTERM
	}()
	res = c.run(self, []string{"sleep"}, filepath.Join(dir, "3.log"), 0)
	if res.exit != 143 || c.stopped() != syscall.SIGTERM || res.stoppedBy != syscall.SIGTERM {
		t.Errorf("forwarded SIGTERM: %+v, stopped %v; want exit 143", res, c.stopped())
	}
	// Once stopped, no new child starts.
	res = c.run(self, []string{"sleep"}, filepath.Join(dir, "4.log"), 0)
	if !errors.Is(res.err, errSoakStopped) {
		t.Errorf("a child after the stop: %+v, want not started", res)
	}
}

// TestSoakAbortsOnUsageError: a run that exits 2 without a report ends the
// soak; the next run would repeat it.
func TestSoakAbortsOnUsageError(t *testing.T) {
	t.Setenv(fakeSoakChildEnv, "1")
	state := fakeRunningTarget(t, "http://127.0.0.1:1")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	o := soakOptions{runs: 3, out: t.TempDir(), seed: 9, focus: []string{"usage-error"}}
	cmd := newSoakCommand()
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	err = runSoak(cmd, o, self, simPaths{binDir: filepath.Dir(self), stateDir: state})
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitFailed {
		t.Fatalf("soak: %v, want exit 1", err)
	}
	var rep soakReport
	data, _ := os.ReadFile(filepath.Join(o.out, soakJSONFile))
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.RunsDone != 1 || !strings.Contains(rep.Aborted, "run 01 exited 2 without a report") {
		t.Errorf("%d runs done, aborted %q: want 1 and run 01's exit 2", rep.RunsDone, rep.Aborted)
	}
}
