package vcext

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// listViewWaiter does what the CSI syncer's ListViews do: its own ListView of
// tasks, a filter on the session's DEFAULT collector, and a long-poll that
// reports every task that reaches success, whichever filter it came from.
type listViewWaiter struct {
	view    *view.ListView
	started chan struct{}
	mu      sync.Mutex
	done    map[types.ManagedObjectReference]bool
	err     chan error
}

func startListViewWaiter(t *testing.T, ctx context.Context, c *govmomi.Client, task types.ManagedObjectReference) *listViewWaiter {
	t.Helper()
	lv, err := view.NewManager(c.Client).CreateListView(ctx, []types.ManagedObjectReference{task})
	if err != nil {
		t.Fatal(err)
	}
	w := &listViewWaiter{view: lv, started: make(chan struct{}), done: map[types.ManagedObjectReference]bool{}, err: make(chan error, 1)}
	filter := new(property.WaitFilter)
	filter.Add(lv.Reference(), "Task", []string{"info"}, &types.TraversalSpec{
		Type: "ListView", Path: "view", Skip: types.NewBool(false),
	})
	go func() {
		first := true
		w.err <- property.WaitForUpdatesEx(ctx, property.DefaultCollector(c.Client), filter, func(updates []types.ObjectUpdate) bool {
			if first {
				first = false
				close(w.started)
			}
			w.mu.Lock()
			defer w.mu.Unlock()
			for _, u := range updates {
				for _, p := range u.ChangeSet {
					if info, ok := p.Val.(types.TaskInfo); ok && info.State == types.TaskInfoStateSuccess {
						w.done[info.Task] = true
					}
				}
			}
			return false
		})
	}()
	return w
}

func (w *listViewWaiter) saw(task types.ManagedObjectReference) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.done[task]
}

// concurrentListViews: one session, n ListViews long-polling its default
// collector at once, each watching one held task; returns how many waiters
// saw their own task finish within limit.
func concurrentListViews(t *testing.T, s *simulator.Server, n int, limit time.Duration) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := login(t, ctx, s)
	registerHeldTasks(t, ctx, c)

	tasks := make([]*object.Task, n)
	waiters := make([]*listViewWaiter, n)
	for i := range tasks {
		tasks[i] = createHeldTask(t, ctx, c)
		waiters[i] = startListViewWaiter(t, ctx, c, tasks[i].Reference())
	}
	for i, w := range waiters {
		select {
		case <-w.started:
		case <-time.After(limit):
			t.Fatalf("waiter %d never got its initial update", i)
		}
	}
	time.Sleep(100 * time.Millisecond) // every waiter is back in its long-poll
	for _, task := range tasks {
		if err := task.SetState(ctx, types.TaskInfoStateSuccess, nil, nil); err != nil {
			t.Fatal(err)
		}
	}

	seen := 0
	deadline := time.Now().Add(limit)
	for i, w := range waiters {
		for !w.saw(tasks[i].Reference()) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if w.saw(tasks[i].Reference()) {
			seen++
		}
	}
	cancel() // govmomi sends CancelWaitForUpdates: the long-polls end
	for i, w := range waiters {
		select {
		case <-w.err:
		case <-time.After(5 * time.Second):
			t.Errorf("waiter %d did not return after cancel", i)
		}
	}
	return seen
}

// TestOneSessionConcurrentWaiters: every ListView of one session sees its
// task finish, as with vCenter's versioned updates.
func TestOneSessionConcurrentWaiters(t *testing.T) {
	for _, n := range []int{2, 4} {
		t.Run(fmt.Sprintf("listviews=%d", n), func(t *testing.T) {
			_, s := startSim(t, true)
			for round := 0; round < 3; round++ {
				if seen := concurrentListViews(t, s, n, 10*time.Second); seen != n {
					t.Fatalf("round %d: %d of %d ListViews saw their task finish", round, seen, n)
				}
			}
		})
	}
}

// TestWithoutInstallOneSessionLosesUpdates documents the vcsim behaviour
// collectorwait.go replaces: concurrent waiters of one session share one
// update buffer, so some never see their task finish.
func TestWithoutInstallOneSessionLosesUpdates(t *testing.T) {
	_, s := startSim(t, false)
	const n = 4
	seen := concurrentListViews(t, s, n, 3*time.Second)
	if seen == n {
		t.Fatalf("all %d ListViews saw their task without Install: is the vcsim bug fixed?", n)
	}
	t.Logf("without Install %d of %d ListViews saw their task finish", seen, n)
}

// TestWaitVersions: the version a call returns is what the next call passes;
// an unknown version is InvalidCollectorVersion; MaxWaitSeconds 0 returns at
// once; a timeout returns no update set.
func TestWaitVersions(t *testing.T) {
	model, s := startSim(t, true)
	ctx := context.Background()
	c := login(t, ctx, s)
	pc := property.DefaultCollector(c.Client)
	vmRef := model.Map().Any("VirtualMachine").Reference()
	if _, err := pc.CreateFilter(ctx, types.CreateFilter{Spec: types.PropertyFilterSpec{
		ObjectSet: []types.ObjectSpec{{Obj: vmRef}},
		PropSet:   []types.PropertySpec{{Type: "VirtualMachine", PathSet: []string{"name"}}},
	}}); err != nil {
		t.Fatal(err)
	}
	wait := func(version string, maxWait int32) (*types.UpdateSet, error) {
		res, err := methods.WaitForUpdatesEx(ctx, c.Client, &types.WaitForUpdatesEx{
			This: pc.Reference(), Version: version, Options: &types.WaitOptions{MaxWaitSeconds: &maxWait},
		})
		if err != nil {
			return nil, err
		}
		return res.Returnval, nil
	}

	initial, err := wait("", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(initial.FilterSet) != 1 || initial.Version == "" {
		t.Fatalf("initial update = %+v, want the VM and a version", initial)
	}
	if set, err := wait(initial.Version, 0); err != nil || set != nil {
		t.Fatalf("no change since %q: got %+v, %v; want no update set", initial.Version, set, err)
	}
	if set, err := wait(initial.Version, 1); err != nil || set != nil {
		t.Fatalf("timeout: got %+v, %v; want no update set", set, err)
	}

	renamed, err := object.NewVirtualMachine(c.Client, vmRef).Rename(ctx, "renamed-vm")
	if err != nil {
		t.Fatal(err)
	}
	if err := renamed.WaitEx(ctx); err != nil {
		t.Fatal(err)
	}
	next, err := wait(initial.Version, 5)
	if err != nil || next == nil || len(next.FilterSet) != 1 || next.Version == initial.Version {
		t.Fatalf("after a rename: got %+v, %v; want one filter update and a new version", next, err)
	}
	again, err := wait(initial.Version, 0) // a retry with the same version gets the same change
	if err != nil || again == nil || len(again.FilterSet) != 1 {
		t.Fatalf("retry with version %q: got %+v, %v; want the rename again", initial.Version, again, err)
	}

	for _, bad := range []string{"not-a-version", "99999"} {
		_, err := wait(bad, 0)
		if !fault.Is(err, &types.InvalidCollectorVersion{}) {
			t.Errorf("version %q: %v, want InvalidCollectorVersion", bad, err)
		}
	}
}

// TestListViewChangesDuringLongPoll: a ListView gains and loses tasks while
// its filter's long-poll computes updates, as the CSI driver's does for every
// CNS task; every task's completion arrives (stock vcsim can deadlock here:
// listview.go).
func TestListViewChangesDuringLongPoll(t *testing.T) {
	_, s := startSim(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := login(t, ctx, s)
	registerHeldTasks(t, ctx, c)
	w := startListViewWaiter(t, ctx, c, createHeldTask(t, ctx, c).Reference())
	<-w.started

	const n = 8
	errs := make(chan error, n)
	for g := 0; g < n; g++ {
		go func() {
			for i := 0; i < 25; i++ {
				task := createHeldTask(t, ctx, c)
				ref := task.Reference()
				if _, err := w.view.Add(ctx, []types.ManagedObjectReference{ref}); err != nil {
					errs <- err
					return
				}
				if err := task.SetState(ctx, types.TaskInfoStateSuccess, nil, nil); err != nil {
					errs <- err
					return
				}
				for !w.saw(ref) {
					if ctx.Err() != nil {
						errs <- fmt.Errorf("task %s: completion never arrived", ref.Value)
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
				if _, err := w.view.Remove(ctx, []types.ManagedObjectReference{ref}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < n; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
