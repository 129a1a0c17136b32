package reports

import (
	"encoding/base64"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// Test-side view of junit.xml, decoded independently of the writer's types.
type parsedJUnit struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Skipped  int `xml:"skipped,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Errors   int    `xml:"errors,attr"`
		Skipped  int    `xml:"skipped,attr"`
		Cases    []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Body    string `xml:",chardata"`
			} `xml:"failure"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func writeSample(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "results", "20260301-100000")
	if err := Write(dir, sampleRun(), NewRedactor(canary)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return dir
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWriteJUnit(t *testing.T) {
	dir := writeSample(t)
	data := readFile(t, filepath.Join(dir, JUnitFile))

	var doc parsedJUnit
	if err := xml.Unmarshal([]byte(data), &doc); err != nil {
		t.Fatalf("junit.xml does not parse: %v", err)
	}
	if doc.Tests != 7 || doc.Failures != 3 || doc.Errors != 1 || doc.Skipped != 2 {
		t.Errorf("totals tests=%d failures=%d errors=%d skipped=%d, want 7/3/1/2", doc.Tests, doc.Failures, doc.Errors, doc.Skipped)
	}
	type counts struct{ tests, failures, errors, skipped int }
	got := map[string]counts{}
	for _, s := range doc.Suites {
		got[s.Name] = counts{s.Tests, s.Failures, s.Errors, s.Skipped}
		if len(s.Cases) != s.Tests {
			t.Errorf("suite %s: %d testcases, tests=%d", s.Name, len(s.Cases), s.Tests)
		}
	}
	want := map[string]counts{"Smoke": {1, 1, 0, 0}, "cloudprovider": {2, 0, 0, 2}, "csi": {4, 2, 1, 0}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("suites:\n got %v\nwant %v", got, want)
	}

	csi := doc.Suites[2]
	attach := csi.Cases[1]
	if attach.Classname != "csi" || attach.Failure == nil || attach.Failure.Type != StateFailed {
		t.Fatalf("attach case = %+v", attach)
	}
	if !strings.HasPrefix(attach.Failure.Body, "/work/main/suites/csi/attach.go:77\n\nvolume not attached") ||
		!strings.Contains(attach.Failure.Message, "refused <&>") {
		t.Errorf("failure = %+v", attach.Failure)
	}
	if !strings.Contains(attach.SystemOut, "=== evidence kubernetes: PVC events ===") ||
		!strings.Contains(attach.SystemOut, "AttachDisk failed ]]> for") ||
		!strings.Contains(attach.SystemOut, "=== output ===\nconnecting to") {
		t.Errorf("system-out = %q", attach.SystemOut)
	}
	if zones := doc.Suites[1].Cases[0]; zones.Skipped == nil || zones.Skipped.Message != "target has no zones" {
		t.Errorf("skipped case = %+v", zones)
	}

	golden := filepath.Join("testdata", "junit.golden.xml")
	if *update {
		if err := os.WriteFile(golden, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := readFile(t, golden); data != want {
		t.Errorf("junit.xml differs from %s (go test ./reports/ -update to accept):\n%s", golden, data)
	}
}

func TestWriteJSONRoundTrip(t *testing.T) {
	dir := writeSample(t)
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := NewRedactor(canary).Run(sampleRun())
	if !reflect.DeepEqual(got, want) {
		t.Errorf("report.json does not round-trip:\n got %+v\nwant %+v", got, want)
	}
}

func TestWriteHTML(t *testing.T) {
	page := readFile(t, filepath.Join(writeSample(t), HTMLFile))
	for _, want := range []string{
		"<title>vsconform 20260301-100000 - FAILED</title>",
		"https://administrator@vsphere.local:[REDACTED]@vc.example/sdk",
		"7 specs:", "csi || cloudprovider",
		`<td class="state skipped">skipped</td>`, "target has no zones",
		`<a href="#spec-2">CSI attach attaches with user pw [REDACTED]</a>`,
		"<code>/work/main/suites/csi/attach.go:77</code>",
		"<summary>Kubernetes: PVC events</summary>", "<summary>vCenter: Recent tasks</summary>",
		"&lt;script&gt;alert(1)&lt;/script&gt;",
		"<svg", `<rect class="p99"`, "bind latency",
		`<a href="logs/vcsim.log">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	// Self-contained: nothing is fetched and nothing runs.
	for _, banned := range []string{"<script", "<link", " src=", "@import", "url("} {
		if strings.Contains(page, banned) {
			t.Errorf("report.html contains %q", banned)
		}
	}
}

// The canary is placed in spec names, failure messages, evidence, output
// and the target; no written file may contain it in any common encoding.
func TestCanaryNeverWritten(t *testing.T) {
	dir := writeSample(t)
	forms := []string{canary, base64.StdEncoding.EncodeToString([]byte(canary)), "S3cr3t"}
	for _, name := range []string{JUnitFile, JSONFile, HTMLFile} {
		data := readFile(t, filepath.Join(dir, name))
		for _, f := range forms {
			if strings.Contains(data, f) {
				t.Errorf("%s contains the secret as %q", name, f)
			}
		}
		if !strings.Contains(data, Redacted) {
			t.Errorf("%s shows no %s marker; was the canary in the sample at all?", name, Redacted)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("run dir holds %d entries, want exactly the 3 reports (no temp files)", len(entries))
	}
}

func TestRerender(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if err := Write(dir, sampleRun(), Redactor{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(readFile(t, filepath.Join(dir, HTMLFile)), canary) {
		t.Fatal("without secrets the canary should be written as-is")
	}
	// A secret noticed after the run can still be scrubbed from all files.
	if err := Rerender(dir, NewRedactor(canary)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{JUnitFile, JSONFile, HTMLFile} {
		if strings.Contains(readFile(t, filepath.Join(dir, name)), canary) {
			t.Errorf("%s still holds the secret after Rerender", name)
		}
	}
}

func TestErrorsAreOneClearLine(t *testing.T) {
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, JSONFile)
	tests := []struct {
		name    string
		content string // "" means no report.json
		want    string
	}{
		{"missing", "", "reports: " + jsonPath + ": no such file or directory"},
		{"syntax", `{"id": "x",, }`, "reports: " + jsonPath + ": invalid JSON at offset 12: invalid character ',' looking for beginning of object key string"},
		{"empty", " ", "reports: " + jsonPath + ": invalid JSON at offset 1: unexpected end of JSON input"},
		{"wrong type", `{"specs": {"a": 1}}`, "reports: " + jsonPath + ": unexpected JSON object at offset 11 (specs): want []reports.Spec"},
		{"not an object", `[1]`, "reports: " + jsonPath + ": unexpected JSON array at offset 1 (top level): want reports.Run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(jsonPath)
			if tt.content != "" {
				if err := os.WriteFile(jsonPath, []byte(tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Load(dir)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Load error = %v\n                want %s", err, tt.want)
			}
			if rerr := Rerender(dir, Redactor{}); rerr == nil || rerr.Error() != tt.want {
				t.Errorf("Rerender error = %v", rerr)
			}
		})
	}

	// A run dir that cannot be created: its parent is a file.
	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, nil, 0o644)
	err := Write(filepath.Join(blocker, "run"), Run{}, Redactor{})
	if err == nil || err.Error() != "reports: "+filepath.Join(blocker, "run")+": not a directory" {
		t.Errorf("Write error = %v", err)
	}
}

// Tool output can hold bytes XML cannot represent; junit.xml must parse anyway.
func TestJUnitSurvivesControlCharacters(t *testing.T) {
	nasty := "bell\x07 nul\x00 esc\x1b[0m bad\xff utf8 ]]> end"
	run := Run{ID: "r", Specs: []Spec{{
		Suite: "csi", Name: "spec " + nasty, State: StateFailed,
		Failure: &Failure{Message: nasty, Location: "x.go:1"},
		Output:  nasty,
	}}}
	data, err := renderJUnit(run)
	if err != nil {
		t.Fatal(err)
	}
	var doc parsedJUnit
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("junit.xml with control characters does not parse: %v\n%s", err, data)
	}
	tc := doc.Suites[0].Cases[0]
	if !strings.HasSuffix(tc.Failure.Body, "utf8 ]]> end") || !strings.Contains(tc.SystemOut, "bell\uFFFD nul\uFFFD") {
		t.Errorf("text not preserved around replaced characters: %+v", tc)
	}
}

func TestWriteEmptyRun(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, Run{ID: "empty"}, Redactor{}); err != nil {
		t.Fatal(err)
	}
	var doc parsedJUnit
	if err := xml.Unmarshal([]byte(readFile(t, filepath.Join(dir, JUnitFile))), &doc); err != nil || doc.Tests != 0 {
		t.Errorf("junit for empty run: %v, %+v", err, doc)
	}
	if !strings.Contains(readFile(t, filepath.Join(dir, JSONFile)), `"specs": []`) {
		t.Error("report.json should hold an empty specs array")
	}
	if !strings.Contains(readFile(t, filepath.Join(dir, HTMLFile)), "PASSED") {
		t.Error("an empty run has no failures")
	}
}

// What was under test reaches all three reports, redacted like the rest.
func TestWriteQualified(t *testing.T) {
	dir := t.TempDir()
	run := sampleRun()
	run.Qualified = &Qualified{Vsconform: "v0.1.0", Seed: 42, Kubernetes: "v1.34.2",
		VCenter: "VMware vCenter Server 8.0.3 build-24022515", Capabilities: []string{"blockVolumes", "dataPath"},
		Components: []Component{{Name: "vsphere-csi", Version: "v3.3.1", Source: "binary sigs.k8s.io/vsphere-csi-driver/v3, sha256 ab12"},
			{Name: "kube-system/leaky", Version: "v1", Source: "image registry.example/x:" + canary}},
		Unknown: []string{"pods in metallb-system: forbidden"}}
	if err := Write(dir, run, NewRedactor(canary)); err != nil {
		t.Fatal(err)
	}
	for file, wants := range map[string][]string{
		HTMLFile:  {"Under test", "vsphere-csi", "v3.3.1", "VMware vCenter Server 8.0.3 build-24022515", "seed 42", "Not found out: pods in metallb-system: forbidden"},
		JUnitFile: {`name="kubernetes.version" value="v1.34.2"`, `name="component.vsphere-csi" value="v3.3.1 binary sigs.k8s.io/vsphere-csi-driver/v3, sha256 ab12"`, `name="capabilities" value="blockVolumes,dataPath"`},
		JSONFile:  {`"qualified"`, `"kubernetes": "v1.34.2"`},
	} {
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range wants {
			if !strings.Contains(string(data), w) {
				t.Errorf("%s lacks %q", file, w)
			}
		}
		if strings.Contains(string(data), canary) {
			t.Errorf("%s holds the secret", file)
		}
	}
	back, err := Load(dir)
	if err != nil || back.Qualified == nil || back.Qualified.Seed != 42 || len(back.Qualified.Components) != 2 {
		t.Errorf("loaded %+v, %v", back.Qualified, err)
	}
}

// An error finding of the preflight fails the run and shows in every report.
func TestWritePreflight(t *testing.T) {
	dir := t.TempDir()
	run := Run{ID: "r1", Target: "lab", Specs: []Spec{{Suite: "csi", Name: "a", State: StatePassed}},
		Preflight: []Finding{
			{ID: "PF003", Name: "disk.EnableUUID", Severity: SeverityError, Object: "VM node-1", Message: "disk.EnableUUID is not TRUE", Fix: "set it"},
			{ID: "PF009", Name: "controller", Severity: "warning", Object: "VM node-2", Message: "LSI Logic"},
		}}
	if run.Passed() {
		t.Error("a run with an error finding passed")
	}
	if err := Write(dir, run, NewRedactor()); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{HTMLFile: "VM node-1", JUnitFile: `name="preflight.PF003" value="error: disk.EnableUUID: disk.EnableUUID is not TRUE"`, JSONFile: `"preflight"`} {
		if data, _ := os.ReadFile(filepath.Join(dir, file)); !strings.Contains(string(data), want) {
			t.Errorf("%s lacks %q", file, want)
		}
	}
	run.Preflight = run.Preflight[1:]
	if !run.Passed() {
		t.Error("a warning failed the run")
	}
}
