package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// interrupts follows SIGINT and SIGTERM during a run. Ginkgo's own handler
// hears the first one too: it interrupts the running spec, runs its
// cleanup, skips the rest and reports. A second signal stops the process
// at once, cleanup or not; what it leaves is for `vsconform cleanup`.
type interrupts struct {
	mu    sync.Mutex
	first os.Signal
	runID string
}

// watchInterrupts returns a context that ends at the first signal.
func watchInterrupts(stderr io.Writer) (context.Context, *interrupts, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	in := &interrupts{}
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case sig := <-ch:
				in.mu.Lock()
				first, runID := in.first, in.runID
				if first == nil {
					in.first = sig
				}
				in.mu.Unlock()
				if first == nil {
					fmt.Fprintf(stderr, "vsconform: %s: interrupting the running spec; its cleanup runs and the report is written (a second signal stops at once)\n", signalName(sig))
					cancel()
					continue
				}
				hint := ""
				if runID != "" {
					hint = "; remove what it left with `vsconform cleanup --run-id " + runID + "`"
				}
				fmt.Fprintf(stderr, "vsconform: second signal: stopping at once%s\n", hint)
				os.Exit(signalExitCode(first))
			}
		}
	}()
	return ctx, in, func() {
		signal.Stop(ch)
		close(done)
		cancel()
	}
}

// setRunID names the run in the hint a second signal prints.
func (in *interrupts) setRunID(id string) {
	in.mu.Lock()
	in.runID = id
	in.mu.Unlock()
}

// signal is the first signal received, or nil.
func (in *interrupts) signal() os.Signal {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.first
}

// signalExitCode is the shell's convention: 128 + the signal number
// (130 for SIGINT, 143 for SIGTERM).
func signalExitCode(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 128 + int(syscall.SIGINT)
}

// signalName is the signal as shells name it.
func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}
