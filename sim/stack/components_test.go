package stack

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/vsphere-conformance/vsphere-conformance/sim/faults"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// A stack of two stand-in components (sleep), driven as the fault endpoint
// drives the real ones.
func TestSupervisorStopsStartsAndRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes and waits for them to settle")
	}
	dir := filepath.Join(t.TempDir(), "sim")
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		t.Fatal(err)
	}
	s := &State{Dir: dir}
	for _, name := range []string{target.ComponentAttacher, "forward-host"} {
		p, err := startProcess(name, []string{"sleep", "300"}, []string{"VSC_TEST=1"}, s.path("logs", name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		p.Env = []string{"VSC_TEST=1"}
		s.Processes = append(s.Processes, p)
	}
	t.Cleanup(func() { stopProcesses(mustLoad(t, dir)) })
	if err := s.save(); err != nil {
		t.Fatal(err)
	}
	firstPID := s.Processes[0].PID

	ctx := context.Background()
	c := NewComponents(dir)
	st, err := c.Do(ctx, target.ComponentAttacher, target.ActionRestart)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Running || st.PID == firstPID || st.Starts != 1 {
		t.Fatalf("after restart: %+v, want running with a new PID (was %d) and 1 start", st, firstPID)
	}
	if alive(firstPID) {
		t.Errorf("the old process %d still runs after the restart", firstPID)
	}
	env, _ := os.ReadFile("/proc/" + strconv.Itoa(st.PID) + "/environ")
	if !bytes.Contains(env, []byte("VSC_TEST=1")) {
		t.Errorf("the restarted process lost its environment")
	}
	if got := mustLoad(t, dir).Process(target.ComponentAttacher); got.PID != st.PID {
		t.Errorf("state records PID %d, want the new %d (sim down would miss it)", got.PID, st.PID)
	}

	if st, err = c.Do(ctx, target.ComponentAttacher, target.ActionStop); err != nil || st.Running {
		t.Fatalf("stop: %+v, %v", st, err)
	}
	if got := mustLoad(t, dir).Process(target.ComponentAttacher); !got.Stopped {
		t.Errorf("state does not record the stop")
	}
	if st, err = c.Do(ctx, target.ComponentAttacher, target.ActionStart); err != nil || !st.Running || st.Starts != 2 {
		t.Fatalf("start: %+v, %v", st, err)
	}
	if list := c.List(); len(list) != 1 || list[0].Name != target.ComponentAttacher || !list[0].Running {
		t.Errorf("List = %+v, want the one component, running (forward-host is no component)", list)
	}
	if _, err := c.Do(ctx, "forward-host", target.ActionStop); !errors.Is(err, faults.ErrUnknownComponent) {
		t.Errorf("stopping a non-component: %v, want ErrUnknownComponent", err)
	}
	if _, err := c.Do(ctx, target.ComponentCPI, target.ActionStop); !errors.Is(err, faults.ErrUnknownComponent) {
		t.Errorf("stopping a component the stack does not run: %v, want ErrUnknownComponent", err)
	}

	// While `sim down` (or up) holds the state directory, nothing starts.
	lock, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := c.Do(ctx, target.ComponentAttacher, target.ActionRestart); err == nil {
		t.Errorf("a restart went ahead while the state directory was locked")
	}
}

func mustLoad(t *testing.T, dir string) *State {
	t.Helper()
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func alive(pid int) bool {
	p := &Process{PID: pid, Command: []string{"sleep"}}
	for i := 0; i < 40 && p.Alive(); i++ {
		time.Sleep(25 * time.Millisecond)
	}
	return p.Alive()
}
