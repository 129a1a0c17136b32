package vcext

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// observeCalls runs f before every method dispatched by r, keeping any hook
// that was already installed: Registry.Handler is a single slot, so each
// extension chains the previous one instead of replacing it.
func observeCalls(r *simulator.Registry, f func(*simulator.Context, *simulator.Method)) {
	prev := r.Handler
	r.Handler = func(ctx *simulator.Context, m *simulator.Method) (mo.Reference, types.BaseMethodFault) {
		f(ctx, m)
		if prev != nil {
			return prev(ctx, m)
		}
		return nil, nil
	}
}

// overrideCalls lets f pick the object that serves a method (nil: no
// override). A handler chosen by an earlier hook, or a fault it returns, wins.
func overrideCalls(r *simulator.Registry, f func(*simulator.Context, *simulator.Method) mo.Reference) {
	prev := r.Handler
	r.Handler = func(ctx *simulator.Context, m *simulator.Method) (mo.Reference, types.BaseMethodFault) {
		if prev != nil {
			h, fault := prev(ctx, m)
			if h != nil || fault != nil {
				return h, fault
			}
		}
		return f(ctx, m), nil
	}
}
