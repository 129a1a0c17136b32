package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestSelftestQuick is CI's subset of `make selftest`: each quick profile
// is caught by a spec naming its symptom, and the clean run of their
// catchers passes.
func TestSelftestQuick(t *testing.T) {
	bin := vsconform(t)
	work := t.TempDir()
	state, out := filepath.Join(work, "sim"), filepath.Join(work, "selftest")
	defer runCLI(t, bin, "sim", "down", "--state-dir", state)
	log, code := runCLI(t, bin, "selftest", "--quick", "--state-dir", state, "--out", out)
	t.Log(log)
	data, err := os.ReadFile(filepath.Join(out, selftestJSONFile))
	if err != nil {
		t.Fatalf("no %s: %v", selftestJSONFile, err)
	}
	var rep selftestReport
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Profiles {
		if p.Verdict != verdictCaught {
			t.Errorf("profile %s %s: %s", p.Name, p.Verdict, p.Why)
			if up, err := os.ReadFile(filepath.Join(out, p.Dir, "sim-up.log")); err == nil {
				t.Logf("%s sim-up.log:\n%s", p.Name, up)
			}
		}
	}
	if rep.Clean == nil || !rep.Clean.Passed {
		t.Errorf("clean run: %+v", rep.Clean)
	}
	if code != exitPassed || rep.Caught != len(quickProfiles) {
		t.Errorf("exit %d, %d of %d caught", code, rep.Caught, rep.Total)
	}
	if _, err := os.Stat(filepath.Join(out, selftestHTMLFile)); err != nil {
		t.Error(err)
	}
}
