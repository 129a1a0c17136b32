package stack

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Process is one component the stack started: a detached process (its own
// session, so `sim down` can signal its whole group) writing to a log file.
type Process struct {
	Name    string   `json:"name"`
	PID     int      `json:"pid"`
	Command []string `json:"command"`
	// Program is the binary that finally runs: unshare and nsenter exec it.
	Program string `json:"program"`
	Log     string `json:"log"`
	// NetNS tells that the process runs in the loopback-only namespace.
	NetNS bool `json:"netns,omitempty"`
	// Env is what was added to the inherited environment: file paths and
	// settings, never a secret (those live in files), so a restart can
	// give the component the same.
	Env []string `json:"env,omitempty"`
	// Starts counts the starts after the first (component restarts);
	// Stopped tells that a stop action took it down on purpose.
	Starts  int  `json:"starts,omitempty"`
	Stopped bool `json:"stopped,omitempty"`

	// exited is closed when a process this program started ends, with
	// waitErr its exit status: the definite answer while we are its parent.
	exited  chan struct{}
	waitErr error
}

// startProcess starts argv detached, with env added to the inherited
// environment, stdout and stderr appended to logPath.
func startProcess(name string, argv []string, env []string, logPath string) (*Process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: open log: %w", name, err)
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", name, filepath.Base(argv[0]), err)
	}
	p := &Process{Name: name, PID: cmd.Process.Pid, Command: argv, Program: programOf(argv), Log: logPath,
		exited: make(chan struct{})}
	// Reap the child when it ends and keep its status for error messages.
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Alive tells whether the process still runs and is the one we started (the
// PID was not reused by something else).
func (p *Process) Alive() bool {
	if p == nil || p.PID <= 0 {
		return false
	}
	if p.exited != nil {
		select {
		case <-p.exited:
			return false
		default:
			return true
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID))
	if err != nil {
		return false
	}
	// Field 3 is the state; Z is a zombie.
	if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.PID))
	if err != nil {
		return false
	}
	if len(cmdline) == 0 {
		return true // read while the process execs: it exists, and is not a zombie
	}
	prog := p.Program
	if prog == "" {
		prog = programOf(p.Command)
	}
	return prog != "" && bytes.Contains(cmdline, []byte(prog))
}

// programOf is the base name of the program argv finally runs, looking
// through the namespace wrappers that exec it.
func programOf(argv []string) string {
	if len(argv) == 0 {
		return ""
	}
	switch filepath.Base(argv[0]) {
	case "unshare", "nsenter":
		for i, a := range argv {
			if a == "--" && i+1 < len(argv) {
				return filepath.Base(argv[i+1])
			}
		}
	}
	return filepath.Base(argv[0])
}

// Stop sends SIGTERM to the process group, waits up to grace, then SIGKILLs
// what is left. Components that hang on shutdown (vcsim with open long-polls)
// cannot stall `sim down` past the grace period.
func (p *Process) Stop(grace time.Duration) {
	if !p.Alive() {
		return
	}
	syscall.Kill(-p.PID, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !p.Alive() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	syscall.Kill(-p.PID, syscall.SIGKILL)
	for i := 0; i < 40 && p.Alive(); i++ {
		time.Sleep(25 * time.Millisecond)
	}
}

// ExitStatus describes how a process this program started ended.
func (p *Process) ExitStatus() string {
	if p.exited == nil {
		return "exited"
	}
	select {
	case <-p.exited:
	case <-time.After(time.Second):
		return "exited"
	}
	if p.waitErr == nil {
		return "exited with status 0"
	}
	return "exited: " + p.waitErr.Error()
}

// LogTail returns the last n lines of the log, for error messages.
func (p *Process) LogTail(n int) string {
	data, err := os.ReadFile(p.Log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
