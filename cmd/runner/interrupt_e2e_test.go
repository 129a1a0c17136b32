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

// interruptedSpec makes every CNS call slow and then a claim, so an
// interrupt finds a fault rule, a namespace and a claim to clean up.
const interruptedSpec = "completes a claim's lifecycle with every CNS call 2 s slow"

// startRun starts `vsconform run` on the running hermetic target and
// returns once the spec has run for the given time.
func startRun(t *testing.T, bin, state, results, runID string, after time.Duration) (*exec.Cmd, *lockedBuffer) {
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
	time.Sleep(after)
	return cmd, out
}

// testInterrupts runs against the hermetic target a run left running.
func testInterrupts(t *testing.T, bin, state, work string) {
	t.Run("SIGINT during a spec runs its cleanup, marks it interrupted in the report and exits 130", func(t *testing.T) {
		results := filepath.Join(work, "interrupted")
		cmd, out := startRun(t, bin, state, results, "interrupted-run", 5*time.Second)
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
		if o, code := runCLI(t, bin, "cleanup", "--run-id", "interrupted-run", "--state-dir", state); code != 0 || !strings.Contains(o, "removed 0 objects") {
			t.Errorf("the interrupted run left objects or fault rules behind (cleanup exit %d):\n%s", code, o)
		}
		if o, code := runCLI(t, bin, "audit", "--state-dir", state); code != 0 {
			t.Errorf("the interrupted run left volumes behind (audit exit %d):\n%s", code, o)
		}
	})

	t.Run("vsconform cleanup --run-id removes what a killed run left", func(t *testing.T) {
		cmd, _ := startRun(t, bin, state, filepath.Join(work, "killed"), "killed-run", 10*time.Second)
		cmd.Process.Kill()
		cmd.Wait()
		out, code := runCLI(t, bin, "cleanup", "--run-id", "killed-run", "--state-dir", state)
		if code != 0 || !strings.Contains(out, "removed namespace ") || !strings.Contains(out, "removed fault rule ") {
			t.Fatalf("cleanup exited %d, want it to remove the run's namespace and fault rule:\n%s", code, out)
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
