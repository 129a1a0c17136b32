package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildPause builds this command the way the node's image uses it.
func buildPause(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("needs the go command: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "pause")
	cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// start runs the command and returns a channel closed once it exited.
func start(t *testing.T, cmd *exec.Cmd) <-chan struct{} {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	return exited
}

func waitExit(t *testing.T, exited <-chan struct{}, cmd *exec.Cmd) {
	t.Helper()
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("still running 5s after the signal")
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d, want 0 (%v)", code, cmd.ProcessState)
	}
}

func TestExitsZeroOnSignal(t *testing.T) {
	bin := buildPause(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin)
			exited := start(t, cmd)
			// Give it time to install the handler, as a runtime would.
			time.Sleep(200 * time.Millisecond)
			select {
			case <-exited:
				t.Fatalf("exited without a signal: %v", cmd.ProcessState)
			default:
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			waitExit(t, exited, cmd)
		})
	}
}

// As PID 1 of a fresh PID namespace (as in a pod), pause inherits an orphan
// and must reap it once it exits, and must still stop on SIGTERM.
func TestReapsOrphansAsPID1(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a PID namespace")
	}
	for _, tool := range []string{"unshare", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (util-linux): %v", tool, err)
		}
	}
	bin := buildPause(t)
	holder := exec.Command("unshare", "--pid", "--fork", "--kill-child", "--", bin)
	exited := start(t, holder)

	var pause int
	waitFor(t, "pause to start under unshare", func() bool {
		kids := children(holder.Process.Pid)
		if len(kids) == 1 {
			pause = kids[0]
		}
		return pause != 0
	})
	time.Sleep(200 * time.Millisecond) // handler installed

	// The shell exits at once; its sleep is reparented to the namespace's
	// PID 1, pause. The sleep must not hold our output pipe, or running
	// the shell would last as long as the sleep.
	orphan := exec.Command("nsenter", "-t", strconv.Itoa(pause), "-p", "--",
		"/bin/sh", "-c", "sleep 2 </dev/null >/dev/null 2>&1 &")
	if out, err := orphan.CombinedOutput(); err != nil {
		t.Fatalf("nsenter: %v\n%s", err, out)
	}
	waitFor(t, "the orphan to be reparented to pause", func() bool { return len(children(pause)) == 1 })
	waitFor(t, "pause to reap the orphan", func() bool { return len(children(pause)) == 0 })

	if err := syscall.Kill(pause, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// unshare exits with its child's status.
	waitExit(t, exited, holder)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// children lists the PIDs whose parent is ppid, zombies included.
func children(ppid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name may hold spaces and parentheses: fields
		// follow the last ')'.
		s := string(stat)
		f := strings.Fields(s[strings.LastIndex(s, ")")+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(ppid) {
			out = append(out, pid)
		}
	}
	return out
}
