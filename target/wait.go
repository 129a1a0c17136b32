package target

import (
	"context"
	"fmt"
	"time"
)

// Polling starts fast, since most target transitions take well under a
// second, and backs off so long waits do not hammer the API servers.
var (
	pollFirst = 250 * time.Millisecond
	pollMax   = 2 * time.Second
)

// Condition reports whether a wait is over and, either way, a short
// description of what it saw ("phase Pending; last event: ..."), which
// becomes the "last state" of a timeout. A non-nil error ends the wait at once.
type Condition func(ctx context.Context) (done bool, state string, err error)

// WaitFor polls cond until it is done, it fails, ctx ends or timeout passes
// (DESIGN rule 5). A timeout reads
//
//	timed out after 2m0s waiting for PVC ns/claim to be Bound; last state: phase Pending
func WaitFor(ctx context.Context, what string, timeout time.Duration, cond Condition) error {
	deadline := time.Now().Add(timeout)
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	state := "not checked yet"
	delay := pollFirst
	for {
		done, s, err := cond(wctx)
		if s != "" {
			state = oneLine(s) // keep the error on one line
		}
		if err != nil {
			if wctx.Err() == nil || ctx.Err() != nil {
				return fmt.Errorf("waiting for %s: %w (last state: %s)", what, err, state)
			}
			// The cond failed only because our deadline cut its call short.
			return timeoutError(timeout, what, state)
		}
		if done {
			return nil
		}
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-wctx.Done():
			timer.Stop()
			if ctx.Err() != nil {
				return fmt.Errorf("stopped waiting for %s: %w; last state: %s", what, ctx.Err(), state)
			}
			return timeoutError(timeout, what, state)
		}
		delay = min(delay*2, pollMax)
	}
}

func timeoutError(timeout time.Duration, what, state string) error {
	return &TimeoutError{Timeout: timeout, What: what, LastState: state}
}

// TimeoutError is what WaitFor returns when time runs out.
type TimeoutError struct {
	Timeout   time.Duration
	What      string
	LastState string
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("timed out after %s waiting for %s; last state: %s", e.Timeout, e.What, e.LastState)
}
