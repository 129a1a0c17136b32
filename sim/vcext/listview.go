package vcext

import (
	"slices"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
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

// listViewWriter serves ModifyListView and ResetListView of one ListView. It
// is a sync.Locker doing nothing, so the dispatcher does not hold the
// ListView's lock for the whole call (vcsim's opt-out of default locking).
type listViewWriter struct {
	lv     *simulator.ListView
	report *sync.Mutex // orders the reports of one ListView
}

func (w *listViewWriter) Reference() types.ManagedObjectReference { return w.lv.Self }
func (*listViewWriter) Lock()                                     {}
func (*listViewWriter) Unlock()                                   {}

// installListViews routes ListView changes through listViewWriter.
func installListViews(vim *simulator.Registry) {
	var reports sync.Map // ListView moref -> *sync.Mutex
	overrideCalls(vim, func(ctx *simulator.Context, m *simulator.Method) mo.Reference {
		if m.This.Type != "ListView" || (m.Name != "ModifyListView" && m.Name != "ResetListView") || ctx.Session == nil {
			return nil
		}
		lv, ok := ctx.Session.Get(m.This).(*simulator.ListView)
		if !ok {
			return nil
		}
		mu, _ := reports.LoadOrStore(m.This, new(sync.Mutex))
		return &listViewWriter{lv: lv, report: mu.(*sync.Mutex)}
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
	ctx.WithLock(w.lv.Self, func() {
		if reset {
			w.lv.View = nil
		}
		for _, ref := range add {
			if ctx.Session.Get(ref) == nil {
				unresolved = append(unresolved, ref)
			}
			w.lv.View = append(w.lv.View, ref)
		}
		for _, ref := range remove {
			simulator.RemoveReference(&w.lv.View, ref)
		}
		view = slices.Clone(w.lv.View)
	})
	if reset || len(add) != 0 || len(remove) != 0 {
		// Assigns an equal copy of the view, then runs the handlers.
		ctx.Update(w.lv, []types.PropertyChange{{Name: "view", Val: view}})
	}
	return unresolved
}
