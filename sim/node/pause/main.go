// Command pause is the pod sandbox process of the hermetic target's real
// node: it holds the pod's namespaces open until the runtime stops it. As
// PID 1 of the pod's PID namespace it also inherits every orphan, so it reaps
// them; otherwise they would stay zombies until the pod ends.
//
// Build: CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' ./sim/node/pause
package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// PID 1 gets no default signal actions from the kernel: only the
	// signals with handlers installed here reach it.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	// Children may have exited before the handler was installed.
	reap()
	for sig := range sigs {
		if sig == syscall.SIGCHLD {
			reap()
			continue
		}
		fmt.Fprintf(os.Stderr, "pause: shutting down, got %v\n", sig)
		os.Exit(0)
	}
}

// reap collects every exited child. SIGCHLDs coalesce, so one signal may
// stand for many exits: loop until nothing is left to wait for.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
	}
}
