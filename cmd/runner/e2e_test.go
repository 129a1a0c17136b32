package main

import (
	"bytes"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vsphere-conformance/vsphere-conformance/reports"
	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
)

// vsconform returns the built binary, or skips: `make test` builds it and
// the pinned upstream binaries, then sets VSCONFORM_BIN_DIR.
func vsconform(t *testing.T) string {
	dir := os.Getenv("VSCONFORM_BIN_DIR")
	if dir == "" || testing.Short() {
		t.Skip("VSCONFORM_BIN_DIR not set (run through `make test`)")
	}
	return filepath.Join(dir, "vsconform")
}

func runCLI(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return out.String(), code
}

type junitSuites struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Suites   []struct {
		Name  string `xml:"name,attr"`
		Tests int    `xml:"tests,attr"`
	} `xml:"testsuite"`
}

// TestRunHermetic is the README's main job end to end: `vsconform run`
// brings the hermetic target up, runs every suite, writes the reports, and
// leaves no secret in them.
func TestRunHermetic(t *testing.T) {
	bin := vsconform(t)
	work := t.TempDir()
	state := filepath.Join(work, "sim")
	results := filepath.Join(work, "results")

	// "Your own build" of the CSI driver: the pinned one with bytes appended
	// (ELF ignores them), so its checksum is its own.
	ownCSI := filepath.Join(work, "my-vsphere-csi")
	pinned, err := os.ReadFile(filepath.Join(filepath.Dir(bin), "vsphere-csi"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ownCSI, append(pinned, []byte("my build")...), 0o755); err != nil {
		t.Fatal(err)
	}
	ownSum, _ := fileSHA256(ownCSI)

	out, code := runCLI(t, bin, "run", "--keep", "--state-dir", state, "--results-dir", results, "--with", "vsphere-csi="+ownCSI)
	t.Log(out)
	defer runCLI(t, bin, "sim", "down", "--state-dir", state)
	if code != 0 {
		t.Fatalf("vsconform run exited %d", code)
	}

	runs, _ := filepath.Glob(filepath.Join(results, "*"))
	if len(runs) != 1 {
		t.Fatalf("want one run folder in %s, got %v", results, runs)
	}
	dir := runs[0]
	data, err := os.ReadFile(filepath.Join(dir, "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var j junitSuites
	if err := xml.Unmarshal(data, &j); err != nil {
		t.Fatalf("junit.xml: %v", err)
	}
	if j.Tests == 0 || j.Failures != 0 || j.Errors != 0 {
		t.Fatalf("junit.xml: %d tests, %d failures, %d errors", j.Tests, j.Failures, j.Errors)
	}
	suites := map[string]bool{}
	for _, s := range j.Suites {
		suites[s.Name] = true
	}
	if !suites["csi"] {
		t.Errorf("junit.xml has no csi suite: %v", suites)
	}
	for _, f := range []string{"report.json", "report.html", "logs/csi-controller.log", "logs/vcenter.log"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	if !strings.Contains(out, "report: "+filepath.Join(dir, "report.html")) {
		t.Errorf("run did not print where the report is")
	}

	// The vCenter password of the run is the canary: it must appear in no
	// report and no copied log.
	pw, err := os.ReadFile(filepath.Join(state, "config", "vcenter-password"))
	if err != nil || len(pw) < 8 {
		t.Fatalf("password file: %v", err)
	}
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		data, _ := os.ReadFile(path)
		if bytes.Contains(data, pw) {
			t.Errorf("%s contains the vCenter password", path)
		}
		return nil
	})

	t.Run("a second run reuses the running target", func(t *testing.T) {
		out, code := runCLI(t, bin, "run", "--state-dir", state, "--results-dir", results, "--label-filter", "negative")
		if code != 0 || !strings.Contains(out, "using the running") {
			t.Fatalf("exit %d, output:\n%s", code, out)
		}
	})

	testInterrupts(t, bin, state, work)

	// Each finding spec shows a defect of a pinned upstream component
	// (README, Findings): it must still fail, for the documented reason,
	// and leave nothing behind. The day one passes, upstream fixed it: the
	// spec loses its label and joins the default run.
	t.Run("the documented upstream findings still fail as documented", func(t *testing.T) {
		findings := map[string]string{
			"CNS create task failed after it had made the volume":                 "CNS volumes left for one claim after a create task failed after its work",
			"CnsCreateVolume call was unanswered when the CSI controller crashed": "CNS volumes made for one claim whose create call the crash left unanswered",
		}
		dir := filepath.Join(work, "findings")
		out, code := runCLI(t, bin, "run", "--state-dir", state, "--results-dir", dir, "--label-filter", "finding")
		if code != 1 {
			t.Fatalf("the finding specs: exit %d, want 1 (each fails):\n%s", code, out)
		}
		runs, _ := filepath.Glob(filepath.Join(dir, "*"))
		if len(runs) != 1 {
			t.Fatalf("want one run folder in %s, got %v", dir, runs)
		}
		run, err := reports.Load(runs[0])
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		for _, sp := range run.Specs {
			if sp.State == reports.StateSkipped {
				continue
			}
			if !slices.Contains(sp.Labels, labels.Finding) {
				if sp.State != reports.StatePassed {
					t.Errorf("%q: %s: %+v", sp.Name, sp.State, sp.Failure) // the run's own nodes (leak check) must pass
				}
				continue
			}
			want, documented := "", false
			for name, msg := range findings {
				if strings.Contains(sp.Name, name) {
					want, documented = msg, true
				}
			}
			switch {
			case !documented:
				t.Errorf("spec %q carries the finding label but no documented finding", sp.Name)
			case documented && (sp.State != reports.StateFailed || sp.Failure == nil || !strings.Contains(sp.Failure.Message, want)):
				t.Errorf("finding %q: %s, want failed with %q: %+v", sp.Name, sp.State, want, sp.Failure)
			case documented:
				seen++
			}
		}
		if seen != len(findings) {
			t.Errorf("%d of %d documented findings ran:\n%s", seen, len(findings), out)
		}
	})

	t.Run("the leak audit finds nothing after the run", func(t *testing.T) {
		out, code := runCLI(t, bin, "audit", "--state-dir", state)
		if code != 0 || !strings.Contains(out, "nothing found") {
			t.Fatalf("vsconform audit exited %d:\n%s", code, out)
		}
	})

	t.Run("preflight finds the hermetic target set up as documented", func(t *testing.T) {
		out, code := runCLI(t, bin, "preflight", "--state-dir", state)
		if code != 0 || !strings.Contains(out, "preflight: 0 errors, 0 warnings") {
			t.Fatalf("vsconform preflight exited %d:\n%s", code, out)
		}
	})

	t.Run("report re-renders a run", func(t *testing.T) {
		os.Remove(filepath.Join(dir, "report.html"))
		if out, code := runCLI(t, bin, "report", dir); code != 0 {
			t.Fatalf("exit %d: %s", code, out)
		}
		if _, err := os.Stat(filepath.Join(dir, "report.html")); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("the report says what was qualified", func(t *testing.T) {
		run, err := reports.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		q := run.Qualified
		if q == nil || q.Kubernetes != "v1.34.2" || !strings.Contains(q.VCenter, "8.0.3") || q.Seed == 0 || len(q.Capabilities) == 0 {
			t.Fatalf("qualified: %+v", q)
		}
		versions := map[string]string{}
		for _, c := range q.Components {
			versions[c.Name] = c.Version
		}
		if versions["vsphere-csi"] != "v3.3.1" || versions["vsphere-cloud-controller-manager"] == "" {
			t.Errorf("components: %v", versions)
		}
		for _, c := range q.Components {
			replaced := strings.HasPrefix(c.Source, "replaced (--with vsphere-csi="+ownCSI+")")
			if (c.Name == "vsphere-csi") != replaced || (replaced && !strings.HasSuffix(c.Source, "sha256 "+ownSum)) {
				t.Errorf("component %s: source %q (own build sha256 %s)", c.Name, c.Source, ownSum)
			}
		}
		// A passed spec says which vCenter objects its result rests on.
		var evidence string
		for _, sp := range run.Specs {
			if strings.Contains(sp.Name, "Dynamic provisioning of a block volume creates a CNS volume") {
				for _, e := range sp.Evidence {
					if e.Title == "vCenter objects checked" {
						evidence = e.Body
					}
				}
			}
		}
		if !strings.Contains(evidence, "CNS volume ") || !strings.Contains(evidence, "VM ") {
			t.Errorf("the provisioning spec names no CNS volume and VM it checked: %q", evidence)
		}
		// The run compared with itself: nothing regressed.
		if out, code := runCLI(t, bin, "report", "diff", dir, filepath.Join(dir, "report.json")); code != 0 || !strings.Contains(out, "no regressions") {
			t.Errorf("report diff of a run with itself: exit %d:\n%s", code, out)
		}
	})
}

// TestRunUsageErrors: bad input gets one clear line and exit code 2.
func TestRunUsageErrors(t *testing.T) {
	bin := vsconform(t)
	work := t.TempDir()
	badCfg := filepath.Join(work, "bad.yaml")
	os.WriteFile(badCfg, []byte("apiVersion: vsconform.io/v1alpha1\nkind: Target\nvcenter:\n  urll: x\n"), 0o600)
	emptyKube := filepath.Join(work, "kubeconfig")
	os.WriteFile(emptyKube, []byte("not: [a kubeconfig"), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"unknown label", []string{"run", "--label-filter", "csi && !scael"}, nil, `unknown label "scael"`},
		{"malformed filter", []string{"run", "--label-filter", "csi &&"}, nil, "invalid label filter"},
		{"unknown target kind", []string{"run", "--target", "cloud"}, nil, `--target "cloud"`},
		{"unknown field in config", []string{"run", "--target", "existing", "--config", badCfg}, nil, `unknown field "vcenter.urll"`},
		{"bad kubeconfig", []string{"run", "--target", "existing"},
			[]string{"KUBECONFIG=" + emptyKube, "GOVC_URL=https://127.0.0.1:1/sdk", "GOVC_USERNAME=u", "GOVC_PASSWORD=canary-pw-123"}, "kubeconfig"},
		{"unknown flag", []string{"run", "--nope"}, nil, "unknown flag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = append(os.Environ(), "VSCONFORM_STATE_DIR="+filepath.Join(work, "nostate"))
			cmd.Env = append(cmd.Env, tc.env...)
			out, err := cmd.CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 2 {
				t.Fatalf("want exit 2, got %v; output:\n%s", err, out)
			}
			text := strings.TrimSpace(string(out))
			if strings.Count(text, "\n") != 0 || !strings.Contains(text, tc.want) {
				t.Errorf("want one line containing %q, got:\n%s", tc.want, text)
			}
			if strings.Contains(text, "canary-pw-123") {
				t.Errorf("the password leaked into the error: %s", text)
			}
		})
	}
}
