package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vsphere-conformance/vsphere-conformance/reports"
)

// runVsconform executes the CLI in-process and maps the error to an exit
// code as main does.
func runVsconform(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCommand()
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	code = exitPassed
	if err := root.Execute(); err != nil {
		code = exitUsage
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		if code != exitFailed {
			errOut.WriteString("vsconform: " + err.Error() + "\n")
		}
	}
	return code, out.String(), errOut.String()
}

// writeRun writes run's reports into a new folder and returns it.
func writeRun(t *testing.T, run reports.Run) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), run.ID)
	if err := reports.Write(dir, run, reports.NewRedactor()); err != nil {
		t.Fatal(err)
	}
	return dir
}

func reportRun(id string, attach, expand string, medianMS float64) reports.Run {
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	attachSpec := reports.Spec{Suite: "csi", Name: "CSI attach attaches a volume", State: attach}
	if attach == reports.StateFailed {
		attachSpec.Failure = &reports.Failure{Message: "timed out waiting for attach"}
	}
	return reports.Run{ID: id, Target: "hermetic", StartedAt: start, FinishedAt: start.Add(time.Minute), Specs: []reports.Spec{
		attachSpec,
		{Suite: "csi", Name: "CSI expand grows a volume", State: expand},
		{Suite: "csi", Name: "CSI provisioning binds a volume", State: reports.StatePassed, Measurements: []reports.Measurement{
			{Name: "bind latency", Units: "ms", Samples: 100, Median: medianMS, P99: 100},
		}},
	}}
}

func TestReportDiff(t *testing.T) {
	base := writeRun(t, reportRun("base", reports.StatePassed, reports.StateFailed, 50))
	regressed := writeRun(t, reportRun("regressed", reports.StateFailed, reports.StateFailed, 50))
	fixed := writeRun(t, reportRun("fixed", reports.StatePassed, reports.StatePassed, 50))
	slower := writeRun(t, reportRun("slower", reports.StatePassed, reports.StateFailed, 70))

	notJSON := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(notJSON, []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout []string // lines or fragments stdout must hold
		stderr string
	}{
		{"same run", []string{base, base}, exitPassed, []string{"regressed 0, fixed 0", "no regressions"}, ""},
		{"a spec regressed", []string{base, regressed}, exitFailed, []string{
			"old base -> new regressed (measurement threshold 20%)",
			"regressed 1, fixed 0, appeared 0, disappeared 0, changed 0, measurements moved 0 (0 worse)",
			"regressed    [csi] CSI attach attaches a volume: passed -> failed (timed out waiting for attach)",
			"1 regression",
		}, ""},
		{"fixed is no regression", []string{base, fixed}, exitPassed, []string{
			"fixed        [csi] CSI expand grows a volume: failed -> passed", "no regressions",
		}, ""},
		{"report.json paths work as folders do", []string{filepath.Join(base, reports.JSONFile), filepath.Join(regressed, reports.JSONFile)}, exitFailed, []string{"1 regression"}, ""},
		{"slower measurement regresses", []string{base, slower}, exitFailed, []string{
			"worse        [csi] CSI provisioning binds a volume: bind latency median 50 -> 70 ms (+40.0%)", "1 regression",
		}, ""},
		{"slower within a wider threshold", []string{base, slower, "--threshold", "0.5"}, exitPassed, []string{"(measurement threshold 50%)", "no regressions"}, ""},
		{"swapped runs: faster is no regression", []string{slower, base, "--threshold=0.2"}, exitPassed, []string{"better       [csi]", "(-28.6%)"}, ""},

		{"missing folder", []string{filepath.Join(t.TempDir(), "nope"), base}, exitUsage, nil, "no such file or directory"},
		{"invalid report", []string{base, notJSON}, exitUsage, nil, "invalid JSON"},
		{"threshold 0", []string{base, base, "--threshold", "0"}, exitUsage, nil, "--threshold must be a number > 0"},
		{"negative threshold", []string{base, base, "--threshold", "-0.1"}, exitUsage, nil, "--threshold must be a number > 0"},
		{"NaN threshold", []string{base, base, "--threshold", "NaN"}, exitUsage, nil, "--threshold must be a number > 0"},
		{"threshold not a number", []string{base, base, "--threshold", "abc"}, exitUsage, nil, `invalid argument "abc" for "--threshold"`},
		{"one run only", []string{base}, exitUsage, nil, "accepts 2 arg(s), received 1"},
		{"three runs", []string{base, base, base}, exitUsage, nil, "accepts 2 arg(s), received 3"},
		{"unknown flag", []string{base, base, "--baseline", base}, exitUsage, nil, "unknown flag: --baseline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runVsconform(t, append([]string{"report", "diff"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			if tc.code == exitUsage {
				// One clear line, nothing on stdout, never a panic.
				if stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.stderr) {
					t.Errorf("want one stderr line containing %q; stdout %q, stderr %q", tc.stderr, stdout, stderr)
				}
			}
		})
	}
}

func TestReportDiffJSON(t *testing.T) {
	base := writeRun(t, reportRun("base", reports.StatePassed, reports.StateFailed, 50))
	next := writeRun(t, reportRun("next", reports.StateFailed, reports.StatePassed, 70))
	code, stdout, _ := runVsconform(t, "report", "diff", "--json", base, next)
	if code != exitFailed {
		t.Errorf("exit %d, want %d", code, exitFailed)
	}
	var got struct {
		Old, New     struct{ ID string }
		Threshold    float64
		Regressions  int
		Regressed    []reports.SpecChange
		Fixed        []reports.SpecChange
		Appeared     []reports.SpecChange
		Measurements []reports.MeasurementChange
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, stdout)
	}
	if got.Old.ID != "base" || got.New.ID != "next" || got.Threshold != 0.2 || got.Regressions != 2 ||
		len(got.Regressed) != 1 || len(got.Fixed) != 1 || got.Appeared == nil || len(got.Measurements) != 1 {
		t.Errorf("decoded %+v from:\n%s", got, stdout)
	}
}

func TestReportRerender(t *testing.T) {
	base := writeRun(t, reportRun("base", reports.StatePassed, reports.StateFailed, 50))
	dir := writeRun(t, reportRun("next", reports.StateFailed, reports.StatePassed, 50))
	html := filepath.Join(dir, reports.HTMLFile)

	// "report DIR" still re-renders, even with subcommands on report.
	if err := os.Remove(html); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runVsconform(t, "report", dir)
	if code != exitPassed || stdout != "report: "+dir+"/report.html\n" {
		t.Fatalf("report DIR: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if page, err := os.ReadFile(html); err != nil || strings.Contains(string(page), "Compared with baseline") {
		t.Fatalf("report.html after a plain re-render: %v", err)
	}

	// --baseline adds the comparison; rendering is no gate, so exit 0.
	code, stdout, stderr = runVsconform(t, "report", dir, "--baseline", filepath.Join(base, reports.JSONFile))
	if code != exitPassed || !strings.Contains(stdout, "compared with baseline base: 1 regression") {
		t.Fatalf("report DIR --baseline: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Compared with baseline base", `<td class="regressed">regressed</td>`, `<td class="fixed">fixed</td>`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}

	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"missing run", []string{"report", filepath.Join(t.TempDir(), "nope")}, "no such file or directory"},
		{"no DIR", []string{"report"}, "accepts 1 arg(s), received 0"},
		{"missing baseline", []string{"report", dir, "--baseline", filepath.Join(t.TempDir(), "nope")}, "no such file or directory"},
		{"bad threshold", []string{"report", dir, "--baseline", base, "--threshold", "0"}, "--threshold must be a number > 0"},
		{"threshold without baseline", []string{"report", dir, "--threshold", "0.1"}, "--threshold needs --baseline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runVsconform(t, tc.args...)
			if code != exitUsage || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and one line containing %q", code, stdout, stderr, tc.stderr)
			}
		})
	}
}
