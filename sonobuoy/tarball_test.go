package sonobuoy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmware-tanzu/sonobuoy/pkg/client/results"
	"github.com/vmware-tanzu/sonobuoy/pkg/discovery"

	"github.com/vsphere-conformance/vsphere-conformance/reports"
)

// Counts walks a post-processed tree as `sonobuoy results` does.
func counts(it results.Item, into map[string]int) {
	if len(it.Items) == 0 {
		into[it.Status]++
		return
	}
	for _, c := range it.Items {
		counts(c, into)
	}
}

func TestTarballReadsBackWithSonobuoysReader(t *testing.T) {
	runDir := t.TempDir()
	run := reports.Run{ID: "r1", Target: "t", Specs: []reports.Spec{
		{Suite: "csi", Name: "provisions a volume", State: reports.StatePassed},
		{Suite: "csi", Name: "resizes a volume", State: reports.StateFailed, Failure: &reports.Failure{Message: "capacity stayed 1Gi"}},
		{Suite: "csi", Name: "snapshots a volume", State: reports.StateSkipped, SkipReason: "no snapshots"},
		{Suite: "cpi", Name: "sets providerID", State: reports.StatePanicked, Failure: &reports.Failure{Message: "nil map"}},
	}}
	if err := reports.Write(runDir, run, reports.NewRedactor()); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out", "sonobuoy.tar.gz")
	item, err := Tarball(runDir, out, "", "r1")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	counts(*item, got)
	if got[results.StatusPassed] != 1 || got[results.StatusFailed] != 2 || got[results.StatusSkipped] != 1 || item.Status != results.StatusFailed {
		t.Errorf("post-processed: status %s, counts %v", item.Status, got)
	}

	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	r, err := results.NewReaderFromBytes(data)
	if err != nil {
		t.Fatalf("sonobuoy's reader: %v", err)
	}
	read, err := r.PluginResultsItem(DefaultPluginName)
	if err != nil {
		t.Fatalf("plugin results: %v", err)
	}
	again := map[string]int{}
	counts(*read, again)
	if len(again) != len(got) || again[results.StatusFailed] != 2 {
		t.Errorf("read back %v, wrote %v", again, got)
	}

	r, _ = results.NewReaderFromBytes(data)
	var info discovery.RunInfo
	files := map[string]bool{}
	err = r.WalkFiles(func(path string, fi os.FileInfo, err error) error {
		files[path] = true
		return results.ExtractFileIntoStruct(r.RunInfoFile(), path, fi, &info)
	})
	if err != nil || len(info.LoadedPlugins) != 1 || info.LoadedPlugins[0] != "vsconform" {
		t.Errorf("meta/info.json: %+v %v", info, err)
	}
	for _, f := range []string{"meta/config.json", "plugins/vsconform/results/global/junit.xml",
		"plugins/vsconform/results/global/report.html", "plugins/vsconform/sonobuoy_results.yaml", "plugins/vsconform/definition.json"} {
		if !files[f] {
			t.Errorf("tarball lacks %s; has %v", f, files)
		}
	}
}

func TestTarballNeedsJUnit(t *testing.T) {
	_, err := Tarball(t.TempDir(), filepath.Join(t.TempDir(), "x.tar.gz"), "", "r")
	if err == nil || !strings.Contains(err.Error(), "no junit.xml") {
		t.Errorf("error %v", err)
	}
}
