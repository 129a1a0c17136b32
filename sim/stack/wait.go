package stack

import (
	"context"
	"fmt"
	"time"
)

// Bounds of the bring-up waits: generous for a loaded 2-core machine, short
// enough that a broken component fails the bring-up in about a minute.
const (
	vcenterTimeout   = 60 * time.Second
	clusterTimeout   = 90 * time.Second
	crdTimeout       = 30 * time.Second
	cpiTimeout       = 60 * time.Second
	csiTimeout       = 90 * time.Second
	processSettle    = 2 * time.Second
	stopGrace        = 3 * time.Second
	forwarderTimeout = 10 * time.Second
	metalLBTimeout   = 60 * time.Second
	// A real node: kubelet start, CPI initialisation, and the node plugin's
	// NodeGetInfo, which waits up to a minute for the syncer.
	realNodeTimeout = 120 * time.Second
)

// waitFor polls cond until it is done, ctx ends or timeout passes; the error
// names what it waited for and the last state seen.
func waitFor(ctx context.Context, what string, timeout time.Duration, cond func(context.Context) (bool, string, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	interval := 100 * time.Millisecond
	last := ""
	for {
		done, state, err := cond(ctx)
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if done {
			return nil
		}
		if state != "" {
			last = state
		}
		select {
		case <-ctx.Done():
			if last == "" {
				last = "no state reported"
			}
			return fmt.Errorf("timed out after %s waiting for %s; last state: %s", timeout, what, last)
		case <-time.After(interval):
		}
		if interval < time.Second {
			interval *= 2
		}
	}
}
