package stack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Down stops everything the stack in dir started and removes its state.
// It is safe to run on a half-started or already-stopped stack.
func Down(dir string) error {
	lock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer lock.Close()
	s, err := Load(dir)
	if err != nil {
		return err
	}
	stopAll(s)
	return clearDir(dir)
}

// stopAll stops the stack's own components and the cluster's at once, so
// `sim down` takes one grace period, not two.
func stopAll(s *State) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); stopProcesses(s) }()
	go func() { defer wg.Done(); deleteCluster(s) }()
	wg.Wait()
	cleanupRealNodes(s)
}

// stopProcesses stops the components in reverse start order, concurrently
// within one bound so a hung component cannot stall the rest.
func stopProcesses(s *State) {
	var wg sync.WaitGroup
	for i := len(s.Processes) - 1; i >= 0; i-- {
		wg.Add(1)
		go func(p *Process) {
			defer wg.Done()
			p.Stop(stopGrace)
		}(s.Processes[i])
	}
	wg.Wait()
}

// deleteCluster stops the kwokctl cluster's processes. kwokctl records each
// component's PID under its workdir; signalling them directly is quicker
// than `kwokctl delete cluster` and works when kwokctl itself is gone.
func deleteCluster(s *State) {
	pidFiles, _ := filepath.Glob(filepath.Join(s.Dir, "kwok", "clusters", s.ClusterName, "pids", "*.pid"))
	var wg sync.WaitGroup
	for _, f := range pidFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 0 {
			continue
		}
		p := &Process{Name: filepath.Base(f), PID: pid, Command: []string{strings.TrimSuffix(filepath.Base(f), ".pid")}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Stop(stopGrace)
		}()
	}
	wg.Wait()
	if len(pidFiles) == 0 && s.BinDir != "" {
		// No PID files (an unexpected kwokctl layout): let kwokctl do it.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(s.BinDir, "kwokctl"), "delete", "cluster", "--name", s.ClusterName)
		cmd.Env = append(os.Environ(), "KWOK_WORKDIR="+filepath.Join(s.Dir, "kwok"))
		cmd.Run()
	}
}

// kill is used by status to tell a live PID from a stale one.
func pidAlive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

// String is a one-line summary used in messages.
func (s *State) String() string {
	if s.Defect != "" {
		return fmt.Sprintf("hermetic target %q in %s with defect profile %s (a negative control)", s.ClusterName, s.Dir, s.Defect)
	}
	return fmt.Sprintf("hermetic target %q in %s", s.ClusterName, s.Dir)
}
