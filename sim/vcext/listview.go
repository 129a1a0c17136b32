package vcext

import (
	"slices"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// A lock-order deadlock in vcsim: ModifyListView runs holding the ListView's
// lock and, to report the new "view", takes the lock of every PropertyFilter
// that traverses it; a WaitForUpdatesEx computing updates holds such a
// filter's lock and collects through the ListView, taking the ListView's
// lock. The CSI driver adds each CNS task to its ListView while its
// long-poll runs, so under load both sides wait forever and no CNS task of
// that process ever completes (seen with two parallel spec processes).
//
// Here ListView changes take the ListView's lock only to change "view", and
// report the change after releasing it, one report at a time per ListView so
// the last report carries the newest view. vCenter's ListView semantics
// (ModifyListView adds and removes, returns the objects it could not
// resolve; ResetListView replaces the view) are unchanged.

// listViewWriter is a session's ListView with ModifyListView and
// ResetListView of its own. It is a sync.Locker doing nothing, so the
// dispatcher does not hold the ListView's lock for the whole call (vcsim's
// opt-out of default locking); everything else is the stock ListView.
type listViewWriter struct {
	*simulator.ListView
	report sync.Mutex // orders the reports of this ListView
}

func (*listViewWriter) Lock()   {}
func (*listViewWriter) Unlock() {}

// installListViews swaps a session's stock ListView for a listViewWriter on
// its first change. It must sit in the session's registry: the dispatcher
// prefers session objects over any handler a hook picks.
func installListViews(vim *simulator.Registry) {
	var mu sync.Mutex
	observeCalls(vim, func(ctx *simulator.Context, m *simulator.Method) {
		if m.This.Type != "ListView" || (m.Name != "ModifyListView" && m.Name != "ResetListView") || ctx.Session == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if lv, ok := ctx.Session.Get(m.This).(*simulator.ListView); ok {
			ctx.Session.Registry.Put(&listViewWriter{ListView: lv}) // keeps Self, unlike Session.Put
		}
	})
}

func (w *listViewWriter) ModifyListView(ctx *simulator.Context, req *types.ModifyListView) soap.HasFault {
	unresolved := w.change(ctx, false, req.Add, req.Remove)
	return &methods.ModifyListViewBody{Res: &types.ModifyListViewResponse{Returnval: unresolved}}
}

func (w *listViewWriter) ResetListView(ctx *simulator.Context, req *types.ResetListView) soap.HasFault {
	unresolved := w.change(ctx, true, req.Obj, nil)
	return &methods.ResetListViewBody{Res: &types.ResetListViewResponse{Returnval: unresolved}}
}

// change edits the view under the ListView's lock, then reports it to
// property collectors and filters without holding that lock. Objects that do
// not resolve are still added, and returned, as vcsim and vCenter do.
func (w *listViewWriter) change(ctx *simulator.Context, reset bool, add, remove []types.ManagedObjectReference) []types.ManagedObjectReference {
	w.report.Lock()
	defer w.report.Unlock()

	var unresolved []types.ManagedObjectReference
	var view []types.ManagedObjectReference
	ctx.WithLock(w.Self, func() {
		if reset {
			w.View = nil
		}
		for _, ref := range add {
			if ctx.Session.Get(ref) == nil {
				unresolved = append(unresolved, ref)
			}
			w.View = append(w.View, ref)
		}
		for _, ref := range remove {
			simulator.RemoveReference(&w.View, ref)
		}
		view = slices.Clone(w.View)
	})
	if reset || len(add) != 0 || len(remove) != 0 {
		// Assigns an equal copy of the view, then runs the handlers.
		ctx.Update(w.ListView, []types.PropertyChange{{Name: "view", Val: view}})
	}
	return unresolved
}
