package stack

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/vsphere-conformance/vsphere-conformance/sim/faults"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// supervisor stops and starts the stack's components for the fault
// endpoint (target.ComponentsPath), as a kubelet would restart a container:
// same command, same environment, same log. It runs in the vcenter
// component, which lives as long as the stack; the processes it starts stay
// detached and are recorded in the state, so `sim down` stops them by PID.
type supervisor struct {
	dir string
	mu  sync.Mutex
	// started are the processes this supervisor started: it is their
	// parent, and their Process reaps them when they end.
	started map[string]*Process
}

// NewComponents is the component control of the stack in dir.
func NewComponents(dir string) faults.Components {
	return &supervisor{dir: dir, started: map[string]*Process{}}
}

// pods group the components the way the published manifests do: the CSI
// controller's container shares a pod with the syncer and the sidecars, and
// stopping or restarting it acts on the pod, as a pod deletion does on a
// cluster (and the sidecars would exit anyway once the CSI socket is gone,
// some of them only many seconds later).
var pods = map[string][]string{
	target.ComponentCSIController: {target.ComponentSyncer, target.ComponentProvisioner, target.ComponentAttacher,
		target.ComponentResizer, target.ComponentSnapshotter},
}

func (v *supervisor) List() []target.ComponentStatus {
	v.mu.Lock()
	defer v.mu.Unlock()
	s, err := Load(v.dir)
	if err != nil {
		return nil
	}
	var out []target.ComponentStatus
	for _, name := range target.ComponentNames {
		if p := v.process(s, name); p != nil {
			out = append(out, status(p))
		}
	}
	return out
}

func status(p *Process) target.ComponentStatus {
	return target.ComponentStatus{Name: p.Name, Running: p.Alive(), PID: p.PID, Starts: p.Starts}
}

// process is the state's record of a component, or the live one this
// supervisor started in its place.
func (v *supervisor) process(s *State, name string) *Process {
	for i, p := range s.Processes {
		if p.Name != name {
			continue
		}
		// Ours: its Process knows when it ended (it reaps it); the state's
		// record, a copy, would see a zombie.
		if mine := v.started[name]; mine != nil && mine.PID == p.PID {
			mine.Starts, mine.Stopped = p.Starts, p.Stopped
			s.Processes[i] = mine
			return mine
		}
		return p
	}
	return nil
}

func (v *supervisor) Do(ctx context.Context, name, action string) (target.ComponentStatus, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !slices.Contains(target.ComponentNames, name) {
		return target.ComponentStatus{}, faults.ErrUnknownComponent
	}
	// The lock `sim up` and `sim down` hold: no action while the stack
	// comes up or goes down, no process started that down would miss.
	lock, err := lockDir(v.dir)
	if err != nil {
		return target.ComponentStatus{}, fmt.Errorf("the target is going up or down: %w", err)
	}
	defer lock.Close()
	s, err := Load(v.dir)
	if err != nil {
		return target.ComponentStatus{}, err
	}
	p := v.process(s, name)
	if p == nil {
		return target.ComponentStatus{}, faults.ErrUnknownComponent
	}
	// The component first, then the rest of its pod: the sidecars need
	// the CSI socket of a serving controller.
	group := []*Process{p}
	for _, sib := range pods[name] {
		if q := v.process(s, sib); q != nil {
			group = append(group, q)
		}
	}
	if action == target.ActionStop || action == target.ActionRestart {
		for _, q := range group {
			kill(q)
			q.Stopped = action == target.ActionStop
		}
	}
	if action != target.ActionStop {
		for i, q := range group {
			started, err := v.start(ctx, s, q)
			if err != nil {
				_ = s.save()
				return target.ComponentStatus{}, err
			}
			group[i] = started
		}
	}
	if err := s.save(); err != nil {
		return target.ComponentStatus{}, err
	}
	return status(group[0]), nil
}

// kill ends the component's process group at once, as a crash or an OOM
// kill does: no graceful shutdown, nothing flushed.
func kill(p *Process) {
	if !p.Alive() {
		return
	}
	_ = syscall.Kill(-p.PID, syscall.SIGKILL)
	for i := 0; i < 200 && p.Alive(); i++ {
		time.Sleep(25 * time.Millisecond)
	}
}

// start runs the component again unless it runs, records it in s in place
// of the old one, and waits until it serves.
func (v *supervisor) start(ctx context.Context, s *State, old *Process) (*Process, error) {
	if old.Alive() {
		old.Stopped = false
		return old, nil
	}
	p, err := startProcess(old.Name, old.Command, old.Env, old.Log)
	if err != nil {
		return nil, err
	}
	p.NetNS, p.Env, p.Starts = old.NetNS, old.Env, old.Starts+1
	for i, q := range s.Processes {
		if q.Name == old.Name {
			s.Processes[i] = p
		}
	}
	v.started[p.Name] = p
	if err := s.save(); err != nil {
		return p, err
	}
	return p, v.waitServing(ctx, s, p)
}

// waitServing waits for what `sim up` waits for: the CSI controller answers
// Probe, the syncer serves metrics, others are still up after a settle.
func (v *supervisor) waitServing(ctx context.Context, s *State, p *Process) error {
	var cond func(context.Context) (bool, string, error)
	switch p.Name {
	case target.ComponentCSIController:
		cond = func(ctx context.Context) (bool, string, error) {
			if err := probeCSI(ctx, s.CSISocket); err != nil {
				return false, err.Error(), nil
			}
			return true, "", nil
		}
	case target.ComponentSyncer:
		cond = func(ctx context.Context) (bool, string, error) {
			if err := httpOverUnix(ctx, s.path("fwd", "syncer-metrics.sock"), "/metrics"); err != nil {
				return false, err.Error(), nil
			}
			return true, "", nil
		}
	default:
		settled := time.Now().Add(processSettle)
		cond = func(context.Context) (bool, string, error) { return time.Now().After(settled), "settling", nil }
	}
	return waitFor(ctx, p.Name+" to serve again", csiTimeout, func(ctx context.Context) (bool, string, error) {
		if !p.Alive() {
			return false, "", fmt.Errorf("%s %s; last output: %s", p.Name, p.ExitStatus(), lastLine(p.LogTail(5)))
		}
		return cond(ctx)
	})
}
