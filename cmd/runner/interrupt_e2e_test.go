package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vsphere-conformance/vsphere-conformance/reports"
)

// interruptedSpec creates a claim and a pod, so an interrupt finds things
// to clean up.
const interruptedSpec = "creates a CNS volume with the requested policy"

// startRun starts `vsconform run` on the running hermetic target and
// returns once the spec has run for a few seconds.
func startRun(t *testing.T, bin, state, results, runID string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	cmd := exec.Command(bin, "run", "--state-dir", state, "--results-dir", results, "--run-id", runID, "--focus", interruptedSpec)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(out.String(), "▶ ") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the spec did not start within 2 minutes:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(8 * time.Second) // the claim and the pod exist by now
	return cmd, out
}

// testInterrupts runs against the hermetic target a run left running.
func testInterrupts(t *testing.T, bin, state, work string) {
	t.Run("SIGINT during a spec runs its cleanup, marks it interrupted in the report and exits 130", func(t *testing.T) {
		results := filepath.Join(work, "interrupted")
		cmd, out := startRun(t, bin, state, results, "interrupted-run")
		cmd.Process.Signal(syscall.SIGINT)
		err := cmd.Wait()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 130 {
			t.Fatalf("want exit 130, got %v:\n%s", err, out)
		}
		run, err := reports.Load(filepath.Join(results, "interrupted-run"))
		if err != nil {
			t.Fatalf("no report after the interrupt: %v\n%s", err, out)
		}
		var states []string
		for _, sp := range run.Specs {
			if strings.Contains(sp.Name, interruptedSpec) {
				states = append(states, sp.State)
			}
		}
		if len(states) != 1 || states[0] != reports.StateInterrupted {
			t.Errorf("the spec's state in the report: %v, want [%s]", states, reports.StateInterrupted)
		}
		if o, code := runCLI(t, bin, "audit", "--state-dir", state); code != 0 {
			t.Errorf("the interrupted run left objects behind (audit exit %d):\n%s", code, o)
		}
	})

	t.Run("vsconform cleanup --run-id removes what a killed run left", func(t *testing.T) {
		cmd, _ := startRun(t, bin, state, filepath.Join(work, "killed"), "killed-run")
		cmd.Process.Kill()
		cmd.Wait()
		out, code := runCLI(t, bin, "cleanup", "--run-id", "killed-run", "--state-dir", state)
		if code != 0 || !strings.Contains(out, "removed namespace ") || !strings.Contains(out, "removed PV ") {
			t.Fatalf("cleanup exited %d, want it to remove the run's namespace and PV:\n%s", code, out)
		}
		if o, code := runCLI(t, bin, "audit", "--state-dir", state); code != 0 {
			t.Errorf("objects left after cleanup (audit exit %d):\n%s", code, o)
		}
		if out, code := runCLI(t, bin, "cleanup", "--run-id", "killed-run", "--state-dir", state); code != 0 || !strings.Contains(out, "removed 0 objects") {
			t.Errorf("a second cleanup: exit %d:\n%s", code, out)
		}
	})
}

// lockedBuffer is a bytes.Buffer a process writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
