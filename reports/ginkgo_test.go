package reports

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

func TestSuiteOf(t *testing.T) {
	tests := []struct {
		name       string
		file       string
		containers []string
		want       string
	}{
		{"folder under suites", "/work/main/suites/csi/provisioning.go", []string{"CSI"}, "csi"},
		{"nested folder", "/work/main/suites/cloudprovider/zones/zones.go", nil, "cloudprovider"},
		{"relative path", "suites/csi/attach.go", nil, "csi"},
		{"innermost suites dir wins", "/home/ci/suites/repo/suites/scale/pvc.go", nil, "scale"},
		{"windows path", `C:\src\repo\suites\csi\a.go`, nil, "csi"},
		{"file directly in suites", "/work/main/suites/common.go", []string{"Common"}, "Common"},
		{"outside suites", "/work/main/e2e/smoke.go", []string{"Smoke", "basic"}, "Smoke"},
		{"suites as file name", "/work/main/x/suites", []string{"X"}, "X"},
		{"no file, no container", "", nil, "vsconform"},
		{"empty top container", "", []string{""}, "vsconform"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sr := types.SpecReport{LeafNodeLocation: at(tt.file, 1), ContainerHierarchyTexts: tt.containers}
			if got := suiteOf(sr, "vsconform"); got != tt.want {
				t.Errorf("suiteOf(%q, %q) = %q, want %q", tt.file, tt.containers, got, tt.want)
			}
		})
	}
	if got := suiteOf(types.SpecReport{}, ""); got != "unknown" {
		t.Errorf("suiteOf with nothing to go on = %q, want unknown", got)
	}
}

func TestFromGinkgo(t *testing.T) {
	run := sampleRun()

	if run.ID != "20260301-100000" || !run.StartedAt.Equal(t0) || run.FinishedAt.Sub(run.StartedAt).Minutes() != 5 {
		t.Errorf("run header = %q %v %v", run.ID, run.StartedAt, run.FinishedAt)
	}
	if run.LabelFilter != "csi || cloudprovider" || run.Focus != "volume|node" {
		t.Errorf("filters = %q, %q", run.LabelFilter, run.Focus)
	}

	type row struct{ suite, name, state string }
	var got []row
	for _, s := range run.Specs {
		got = append(got, row{s.Suite, s.Name, s.State})
	}
	want := []row{
		{"csi", "CSI provisioning binds a volume", StatePassed},
		{"csi", "CSI attach attaches with user pw " + canary, StateFailed},
		{"cloudprovider", "Cloud provider labels zones", StateSkipped},
		{"cloudprovider", "Cloud provider handles node deletion", StatePending},
		{"csi", "CSI snapshots restores a snapshot", StatePanicked},
		// The passed BeforeSuite is left out; the failed AfterSuite is kept.
		{"csi", "[AfterSuite]", StateFailed},
		{"Smoke", "Smoke reaches vCenter", StateTimedOut},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("specs:\n got %v\nwant %v", got, want)
	}

	passed, failed, skipped, pending, panicked := run.Specs[0], run.Specs[1], run.Specs[2], run.Specs[3], run.Specs[4]

	if !reflect.DeepEqual(passed.Labels, []string{"csi", "provisioning", "fast"}) {
		t.Errorf("labels = %q", passed.Labels)
	}
	if passed.Failure != nil || passed.Output != "created pvc-1\n" || passed.Duration.Seconds() != 2 {
		t.Errorf("passed spec = %+v", passed)
	}

	if failed.Failure == nil || failed.Failure.Location != "/work/main/suites/csi/attach.go:77" {
		t.Fatalf("failure = %+v", failed.Failure)
	}
	if strings.Contains(failed.Failure.Message, "\x1b") || !strings.HasPrefix(failed.Failure.Message, "volume not attached: ") {
		t.Errorf("failure message not cleaned of colour codes: %q", failed.Failure.Message)
	}
	wantEvidence := []Evidence{
		{Kind: EvidenceKubernetes, Title: "PVC events", Body: "Warning FailedAttach: secret " + canary + " <script>alert(1)</script>"},
		{Kind: EvidenceVCenter, Title: "Recent tasks", Body: "AttachDisk failed ]]> for " + canary},
	}
	if !reflect.DeepEqual(failed.Evidence, wantEvidence) {
		t.Errorf("evidence:\n got %+v\nwant %+v", failed.Evidence, wantEvidence)
	}

	if skipped.SkipReason != "target has no zones" || skipped.Failure != nil {
		t.Errorf("skipped spec = %+v", skipped)
	}
	if pending.SkipReason != "" || pending.Failure != nil {
		t.Errorf("pending spec = %+v", pending)
	}
	if f := panicked.Failure; f == nil ||
		!strings.Contains(f.Message, "nil map write") || !strings.Contains(f.Message, "snapshots.go:25") ||
		f.Location != "/work/main/suites/csi/snapshots.go:25 (in [JustBeforeEach])" {
		t.Errorf("panic failure = %+v", panicked.Failure)
	}

	if f := run.Specs[6].Failure; f == nil || f.Message != "A spec timeout occurred\nthen: vCenter login: last: connection refused" {
		t.Errorf("timed-out failure = %+v: want the follow-on failure after the timeout", f)
	}

	wantMeasurements := []Measurement{
		{Name: "bind latency", Units: "ms", Samples: 100, Min: 1, Median: 50.5, P90: 90, P99: 99, Max: 100},
		{Name: "attach", Units: "s", Samples: 10, Min: 0.1, Median: 0.55, P90: 0.9, P99: 1, Max: 1},
	}
	if !reflect.DeepEqual(passed.Measurements, wantMeasurements) {
		t.Errorf("measurements:\n got %+v\nwant %+v", passed.Measurements, wantMeasurements)
	}
}

func TestEvidenceNames(t *testing.T) {
	tests := []struct {
		name    string
		want    Evidence
		isProof bool
	}{
		{EvidenceEntryName(EvidenceVCenter, "Tasks: last 10"), Evidence{Kind: "vcenter", Title: "Tasks: last 10", Body: "b"}, true},
		{"evidence:Kubernetes: Pod logs ", Evidence{Kind: "kubernetes", Title: "Pod logs", Body: "b"}, true},
		{"evidence:vcenter", Evidence{Kind: "vcenter", Title: "vcenter", Body: "b"}, true},
		{"evidence:", Evidence{Kind: "other", Title: "other", Body: "b"}, true},
		{"Evidence:vcenter:x", Evidence{}, false},
		{"metrics", Evidence{}, false},
	}
	for _, tt := range tests {
		got, ok := evidenceFrom(types.ReportEntry{Name: tt.name, Value: types.WrapEntryValue("b")})
		if ok != tt.isProof || got != tt.want {
			t.Errorf("evidenceFrom(%q) = %+v, %v; want %+v, %v", tt.name, got, ok, tt.want, tt.isProof)
		}
	}
}

// Reports that crossed a process boundary (parallel runs, or a report
// read back from Ginkgo's JSON) only carry the JSON form of entry values.
func TestFromGinkgoRehydratedEntries(t *testing.T) {
	data, err := json.Marshal(sampleReport())
	if err != nil {
		t.Fatal(err)
	}
	var rehydrated types.Report
	if err := json.Unmarshal(data, &rehydrated); err != nil {
		t.Fatal(err)
	}
	in, out := FromGinkgo(sampleReport(), "r", "t"), FromGinkgo(rehydrated, "r", "t")
	if !reflect.DeepEqual(out.Specs[0].Measurements, in.Specs[0].Measurements) {
		t.Errorf("measurements after JSON:\n got %+v\nwant %+v", out.Specs[0].Measurements, in.Specs[0].Measurements)
	}
	// String bodies survive; see entryBody for []byte.
	if !reflect.DeepEqual(out.Specs[1].Evidence[0], in.Specs[1].Evidence[0]) {
		t.Errorf("evidence after JSON:\n got %+v\nwant %+v", out.Specs[1].Evidence[0], in.Specs[1].Evidence[0])
	}
}
