package vcext

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Concurrent waiters on one collector. The vSphere API reference for
// PropertyCollector.WaitForUpdatesEx defines updates by data version: a call
// returns the changes since the version the client passes ("a data version
// returned from checkForUpdates or waitForUpdates by the same
// PropertyCollector on the same session"). So two calls in flight on one
// session's collector, each with its own version, both get every change since
// their version. The CSI syncer relies on it: two ListViews of one session
// long-poll the default collector at once, each with its own version.
//
// vcsim ignores the version and drains one shared buffer per call, so each
// change reaches only one of the waiters. Here every batch of changes the
// stock code computes becomes a numbered entry of a history; a waiter gets
// all entries newer than its version, and the next version to pass.

// historyLimit bounds the history; a client whose version has fallen out of
// it gets InvalidCollectorVersion, as from vCenter, and starts over.
const historyLimit = 1024

type versionedUpdate struct {
	version int64
	filters []types.PropertyFilterUpdate
}

// waitState is a session collector's version history and its waiters.
type waitState struct {
	compute sync.Mutex // one computation of the stock collector at a time

	mu      sync.Mutex
	latest  int64
	history []versionedUpdate
	cancels map[*context.CancelFunc]struct{}
}

// since returns the filter updates newer than version, merged per filter and
// restricted to filters the collector still has, with the newest version.
func (w *waitState) since(version int64, live []types.ManagedObjectReference) ([]types.PropertyFilterUpdate, int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	alive := make(map[types.ManagedObjectReference]bool, len(live))
	for _, f := range live {
		alive[f] = true
	}
	var merged []types.PropertyFilterUpdate
	index := map[types.ManagedObjectReference]int{}
	for _, h := range w.history {
		if h.version <= version {
			continue
		}
		for _, fu := range h.filters {
			if !alive[fu.Filter] {
				continue
			}
			i, ok := index[fu.Filter]
			if !ok {
				i = len(merged)
				index[fu.Filter] = i
				merged = append(merged, types.PropertyFilterUpdate{Filter: fu.Filter})
			}
			merged[i].ObjectSet = append(merged[i].ObjectSet, fu.ObjectSet...)
		}
	}
	return merged, w.latest
}

// known reports whether version can be answered from the history.
func (w *waitState) known(version int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if version > w.latest || version < 0 {
		return false
	}
	return len(w.history) == 0 || version >= w.history[0].version-1
}

func (w *waitState) record(filters []types.PropertyFilterUpdate) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.latest++
	w.history = append(w.history, versionedUpdate{version: w.latest, filters: filters})
	if n := len(w.history) - historyLimit; n > 0 {
		w.history = append(w.history[:0:0], w.history[n:]...)
	}
}

func (w *waitState) current() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.latest
}

func (w *waitState) addWaiter(cancel *context.CancelFunc) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cancels == nil {
		w.cancels = map[*context.CancelFunc]struct{}{}
	}
	w.cancels[cancel] = struct{}{}
}

func (w *waitState) removeWaiter(cancel *context.CancelFunc) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.cancels, cancel)
}

// CancelWaitForUpdates ends every call in flight on this collector with
// RequestCanceled ("attempts to cancel outstanding calls to WaitForUpdates or
// WaitForUpdatesEx in the current session").
func (c *sessionCollector) CancelWaitForUpdates(r *types.CancelWaitForUpdates) soap.HasFault {
	c.wait.mu.Lock()
	for cancel := range c.wait.cancels {
		(*cancel)()
	}
	c.wait.mu.Unlock()
	return &methods.CancelWaitForUpdatesBody{Res: new(types.CancelWaitForUpdatesResponse)}
}

// WaitForUpdates is the deprecated form; it shares the versioned wait.
func (c *sessionCollector) WaitForUpdates(ctx *simulator.Context, r *types.WaitForUpdates) soap.HasFault {
	res := c.WaitForUpdatesEx(ctx, &types.WaitForUpdatesEx{This: r.This, Version: r.Version})
	body := &methods.WaitForUpdatesBody{}
	if f := res.Fault(); f != nil {
		body.Fault_ = f
		return body
	}
	set := res.(*methods.WaitForUpdatesExBody).Res.Returnval
	if set == nil { // no timeout without options: not reached
		set = &types.UpdateSet{Version: r.Version}
	}
	body.Res = &types.WaitForUpdatesResponse{Returnval: *set}
	return body
}

// WaitForUpdatesEx answers from the version history, computing new entries
// with the stock collector when nothing newer than the caller's version is
// known yet.
func (c *sessionCollector) WaitForUpdatesEx(ctx *simulator.Context, r *types.WaitForUpdatesEx) soap.HasFault {
	if r.Version == "" {
		return c.initialUpdate(ctx, r)
	}
	version, err := strconv.ParseInt(r.Version, 10, 64)
	if err != nil || !c.wait.known(version) {
		return &methods.WaitForUpdatesExBody{Fault_: simulator.Fault("", new(types.InvalidCollectorVersion))}
	}

	waitCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	oneUpdate := false
	if r.Options != nil && r.Options.MaxWaitSeconds != nil {
		switch max := *r.Options.MaxWaitSeconds; {
		case max == 0:
			oneUpdate = true // "do one update calculation and return any results"
		case max > 0:
			waitCtx, cancel = context.WithTimeout(waitCtx, time.Duration(max)*time.Second)
			defer cancel()
		}
	}
	c.wait.addWaiter(&cancel)
	defer c.wait.removeWaiter(&cancel)

	for computed := false; ; computed = true {
		if filters, latest := c.wait.since(version, c.filters()); len(filters) != 0 {
			return updateSet(filters, latest)
		}
		if computed && oneUpdate {
			return &methods.WaitForUpdatesExBody{Res: &types.WaitForUpdatesExResponse{}}
		}
		select {
		case <-waitCtx.Done():
			if waitCtx.Err() == context.DeadlineExceeded {
				return &methods.WaitForUpdatesExBody{Res: &types.WaitForUpdatesExResponse{}} // MaxWaitSeconds: no updates
			}
			return &methods.WaitForUpdatesExBody{Fault_: simulator.Fault("", new(types.RequestCanceled))}
		default:
		}
		if err := c.computeUpdates(ctx); err != nil {
			return &methods.WaitForUpdatesExBody{Fault_: err}
		}
	}
}

// CreateFilter is the stock one, serialised with update computations, which
// walk the collector's filters (vcsim does not lock a collector).
func (c *sessionCollector) CreateFilter(ctx *simulator.Context, r *types.CreateFilter) soap.HasFault {
	c.wait.compute.Lock()
	defer c.wait.compute.Unlock()
	return c.PropertyCollector.CreateFilter(ctx, r)
}

// filters is a copy of the collector's filter list.
func (c *sessionCollector) filters() []types.ManagedObjectReference {
	c.wait.compute.Lock()
	defer c.wait.compute.Unlock()
	return append([]types.ManagedObjectReference(nil), c.Filter...)
}

func updateSet(filters []types.PropertyFilterUpdate, version int64) soap.HasFault {
	return &methods.WaitForUpdatesExBody{Res: &types.WaitForUpdatesExResponse{
		Returnval: &types.UpdateSet{Version: strconv.FormatInt(version, 10), FilterSet: filters},
	}}
}

// initialUpdate is the first call of a client (version ""): the stock code
// registers the collector for inventory changes and returns the current state
// of the filters; the client continues from the newest version.
func (c *sessionCollector) initialUpdate(ctx *simulator.Context, r *types.WaitForUpdatesEx) soap.HasFault {
	c.wait.compute.Lock()
	defer c.wait.compute.Unlock()
	res := c.PropertyCollector.WaitForUpdatesEx(ctx, &types.WaitForUpdatesEx{This: r.This})
	body := res.(*methods.WaitForUpdatesExBody)
	if body.Fault_ != nil {
		return body
	}
	set := body.Res.Returnval
	if set == nil {
		set = &types.UpdateSet{}
		body.Res.Returnval = set
	}
	rest, fault := c.drainPages(ctx, set)
	if fault != nil {
		return &methods.WaitForUpdatesExBody{Fault_: fault}
	}
	set.FilterSet = append(set.FilterSet, rest...)
	set.Truncated = nil
	set.Version = strconv.FormatInt(c.wait.current(), 10)
	return body
}

// computeUpdates runs one stock update calculation (it waits one 20 ms tick
// for changes to accumulate) and records what it found as a new version.
func (c *sessionCollector) computeUpdates(ctx *simulator.Context) *soap.Fault {
	c.wait.compute.Lock()
	defer c.wait.compute.Unlock()
	zero := int32(0)
	res := c.PropertyCollector.WaitForUpdatesEx(ctx, &types.WaitForUpdatesEx{
		This:    c.shared,
		Version: "-",
		Options: &types.WaitOptions{MaxWaitSeconds: &zero},
	})
	body := res.(*methods.WaitForUpdatesExBody)
	if body.Fault_ != nil {
		return body.Fault_
	}
	var filters []types.PropertyFilterUpdate
	var rest []types.PropertyFilterUpdate
	var fault *soap.Fault
	if body.Res != nil && body.Res.Returnval != nil {
		filters = body.Res.Returnval.FilterSet
		rest, fault = c.drainPages(ctx, body.Res.Returnval)
	}
	if fault != nil {
		return fault
	}
	if filters = append(filters, rest...); len(filters) != 0 {
		c.wait.record(filters)
	}
	return nil
}

// drainPages collects what the stock code held back after returning a
// truncated set (it returns at most 100 objects per call; the API lets a
// collector return more, and one version must cover a whole batch here).
func (c *sessionCollector) drainPages(ctx *simulator.Context, set *types.UpdateSet) ([]types.PropertyFilterUpdate, *soap.Fault) {
	var filters []types.PropertyFilterUpdate
	for set.Truncated != nil && *set.Truncated {
		zero := int32(0)
		res := c.PropertyCollector.WaitForUpdatesEx(ctx, &types.WaitForUpdatesEx{
			This: c.shared, Version: "-", Options: &types.WaitOptions{MaxWaitSeconds: &zero},
		})
		body := res.(*methods.WaitForUpdatesExBody)
		if body.Fault_ != nil {
			return nil, body.Fault_
		}
		if body.Res == nil || body.Res.Returnval == nil {
			break
		}
		set = body.Res.Returnval
		filters = append(filters, set.FilterSet...)
	}
	return filters, nil
}
