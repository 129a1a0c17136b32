package defects

import (
	"reflect"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// serve is a defect's answer to one call: req is the request (a pointer
// to the method's request type, which serve may rewrite before calling
// next), next serves the call as the simulator would without the defect,
// sim/vcext's extensions included.
type serve func(ctx *simulator.Context, req any, next func() soap.HasFault) soap.HasFault

// around makes serve answer every call of method (as on the wire, e.g.
// CnsDeleteVolume or PowerOffVM_Task) on registry r. It runs before every
// hook already installed (sim/vcext's overrides), so the defect sees the
// call first. method must be one of stand's methods. Not for vim25
// objects a session holds a view of (a VirtualMachine): vcsim's dispatcher
// prefers the session's object over a hook's handler; see vmAround.
func around(r *simulator.Registry, method string, f serve) {
	if !reflect.ValueOf(&stand{}).MethodByName(goName(method)).IsValid() {
		panic("defects: stand has no method " + goName(method)) // a programming error, caught by the package's tests
	}
	prev := r.Handler
	r.Handler = func(ctx *simulator.Context, m *simulator.Method) (mo.Reference, types.BaseMethodFault) {
		if m.Name != method {
			if prev != nil {
				return prev(ctx, m)
			}
			return nil, nil
		}
		// The handler the call would have had: an earlier hook's choice,
		// else the session's or the registry's object.
		var handler mo.Reference
		if prev != nil {
			h, fault := prev(ctx, m)
			if fault != nil {
				return nil, fault
			}
			handler = h
		}
		if handler == nil && ctx.Session != nil {
			handler = ctx.Session.Get(m.This)
		}
		if handler == nil {
			handler = ctx.Map.Get(m.This)
		}
		if handler == nil {
			return nil, nil // the simulator answers ManagedObjectNotFound
		}
		next := func() soap.HasFault { return dispatch(ctx, m, handler) }
		return &stand{ref: m.This, serve: func(c *simulator.Context, req any) soap.HasFault { return f(c, req, next) }}, nil
	}
}

// goName is the Go method name the simulator calls for a wire method name.
func goName(method string) string {
	name := strings.ToUpper(method[:1]) + method[1:]
	if s, ok := strings.CutSuffix(name, "_Task"); ok {
		name = s + "Task"
	}
	return name
}

// dispatch calls m on handler as simulator.Service does.
func dispatch(ctx *simulator.Context, m *simulator.Method, handler mo.Reference) soap.HasFault {
	fn := reflect.ValueOf(handler).MethodByName(goName(m.Name))
	if !fn.IsValid() {
		return &serverFault{fault: &types.MethodNotFound{Receiver: m.This, Method: m.Name}}
	}
	var args []reflect.Value
	if fn.Type().NumIn() == 2 {
		args = append(args, reflect.ValueOf(ctx))
	}
	args = append(args, reflect.ValueOf(m.Body))
	return fn.Call(args)[0].Interface().(soap.HasFault)
}

// serverFault is a SOAP fault answer.
type serverFault struct {
	fault types.BaseMethodFault
}

func (f *serverFault) Fault() *soap.Fault { return simulator.Fault("", f.fault) }
