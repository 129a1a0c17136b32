package target

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestWaitForTimeoutSaysWhatAndLastState(t *testing.T) {
	polls := 0
	err := WaitFor(context.Background(), "PVC ns/claim to be Bound", 600*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		polls++
		return false, "phase Pending; last event: Warning ProvisioningFailed: no datastore", nil
	})
	want := "timed out after 600ms waiting for PVC ns/claim to be Bound; last state: phase Pending; last event: Warning ProvisioningFailed: no datastore"
	if err == nil || err.Error() != want {
		t.Fatalf("error\n got %v\nwant %s", err, want)
	}
	var te *TimeoutError
	if !errors.As(err, &te) || te.Timeout != 600*time.Millisecond {
		t.Errorf("not a *TimeoutError: %#v", err)
	}
	// 250 ms then 500 ms between polls: polls at 0, 250 and (maybe) 750 ms.
	if polls < 2 || polls > 3 {
		t.Errorf("polled %d times", polls)
	}
}

func TestWaitForMessageFormat(t *testing.T) {
	err := (&TimeoutError{Timeout: 2 * time.Minute, What: "X", LastState: "Y"}).Error()
	if err != "timed out after 2m0s waiting for X; last state: Y" {
		t.Errorf("got %q", err)
	}
}

func TestWaitForDone(t *testing.T) {
	n := 0
	err := WaitFor(context.Background(), "three polls", time.Minute, func(ctx context.Context) (bool, string, error) {
		n++
		return n == 3, "", nil
	})
	if err != nil || n != 3 {
		t.Fatalf("err %v after %d polls", err, n)
	}
}

func TestWaitForStopsOnError(t *testing.T) {
	err := WaitFor(context.Background(), "pod ns/p to be Running", time.Minute, func(ctx context.Context) (bool, string, error) {
		return false, "phase Failed", errors.New("pod ended in phase Failed")
	})
	if err == nil || err.Error() != "waiting for pod ns/p to be Running: pod ended in phase Failed (last state: phase Failed)" {
		t.Fatalf("got %v", err)
	}
}

func TestWaitForCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	err := WaitFor(ctx, "something", time.Minute, func(ctx context.Context) (bool, string, error) {
		return false, "not yet", nil
	})
	if err == nil || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "stopped waiting for something") {
		t.Fatalf("got %v", err)
	}
}

func TestWaitForCondCutShortByDeadline(t *testing.T) {
	// A cond whose call fails because the wait's own deadline hit is a timeout, not a failure.
	err := WaitFor(context.Background(), "slow call", 300*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		<-ctx.Done()
		return false, "", ctx.Err()
	})
	var te *TimeoutError
	if !errors.As(err, &te) || te.LastState != "not checked yet" {
		t.Fatalf("got %v", err)
	}
}
