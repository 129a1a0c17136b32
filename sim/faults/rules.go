package faults

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// vimFaults are the faults a rule may answer with, each the vSphere Web
// Services API fault of that name (vim25/types), as a real vCenter sends it
// in the SOAP fault detail.
var vimFaults = map[string]func(msg string) types.BaseMethodFault{
	// RuntimeFault: an internal error of the server.
	"SystemError": func(msg string) types.BaseMethodFault { return &types.SystemError{Reason: msg} },
	// SecurityError: the session is not (or no longer) authenticated.
	"NotAuthenticated": func(string) types.BaseMethodFault {
		return &types.NotAuthenticated{NoPermission: types.NoPermission{PrivilegeId: "System.View"}}
	},
	// SecurityError: the user lacks a privilege on the object.
	"NoPermission": func(string) types.BaseMethodFault {
		return &types.NoPermission{PrivilegeId: "System.Modify"}
	},
	"InvalidArgument":            func(string) types.BaseMethodFault { return &types.InvalidArgument{} },
	"InvalidState":               func(string) types.BaseMethodFault { return &types.InvalidState{} },
	"ResourceInUse":              func(string) types.BaseMethodFault { return &types.ResourceInUse{} },
	"NotFound":                   func(string) types.BaseMethodFault { return &types.NotFound{} },
	"InsufficientResourcesFault": func(string) types.BaseMethodFault { return &types.InsufficientResourcesFault{} },
}

// faultNames is the list of vimFaults, in the order of the contract.
var faultNames = []string{"SystemError", "NotAuthenticated", "NoPermission", "InvalidArgument", "InvalidState",
	"ResourceInUse", "NotFound", "InsufficientResourcesFault"}

// identifier is what a vSphere method or managed object type name looks
// like on the wire.
var identifier = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// validate says what is wrong with r, in one line, or nil.
func validate(r target.FaultRule) error {
	switch {
	case r.Method == "":
		return errors.New("method is required (the vSphere API method as on the wire, e.g. CnsCreateVolume)")
	case r.Method != "*" && !identifier.MatchString(r.Method):
		return fmt.Errorf("method %q is not a vSphere API method name (or * for every method)", r.Method)
	case r.Object != "" && !identifier.MatchString(r.Object):
		return fmt.Errorf("object %q is not a managed object type name (e.g. VirtualMachine; empty matches any)", r.Object)
	case r.Fault != "" && vimFaults[r.Fault] == nil:
		return fmt.Errorf("fault %q is not one of %s", r.Fault, strings.Join(faultNames, ", "))
	case math.IsNaN(r.Probability) || r.Probability < 0 || r.Probability > 1:
		return fmt.Errorf("probability %v is not in [0, 1] (0 means 1)", r.Probability)
	case r.Delay < 0:
		return fmt.Errorf("delay %s is negative", time.Duration(r.Delay))
	case r.TaskDelay < 0:
		return fmt.Errorf("taskDelay %s is negative", time.Duration(r.TaskDelay))
	case r.TaskDelay > 0 && r.Fault != "" && !r.AfterRun:
		return errors.New("taskDelay with a fault needs afterRun: a fault answered before the call runs makes no task to delay")
	case r.AfterRun && r.Fault == "":
		return errors.New("afterRun needs a fault: the answer of a call once it has done its work")
	case r.Fault == "" && r.Delay == 0 && r.TaskDelay == 0:
		return errors.New("a rule without a fault needs a delay or taskDelay > 0 (a slow call or task), or name a fault")
	case r.Times < 0:
		return fmt.Errorf("times %d is negative (0 means every matching call)", r.Times)
	case r.Skip < 0:
		return fmt.Errorf("skip %d is negative", r.Skip)
	}
	return nil
}

// rule is one rule the endpoint holds. The server's own call hook on every
// SDK decides which calls it hits (govmomi's FaultInjector changes its
// counters under a read lock, so two concurrent calls could both take a
// times=1 rule); a hit of a fault rule is then answered by govmomi's
// injector (inject), which alone sends the fault with its message as the
// SOAP faultstring, as vCenter does. An afterRun rule has no injector rule:
// its hits wait in after for the front, which answers the fault once the
// call has run (afterrun.go). Counters are under Server.mu.
type rule struct {
	id     string
	spec   target.FaultRule
	inject *simulator.FaultInjectionRule

	hits, skipped int64
	after         int64 // afterRun and taskDelay hits whose answer the front has not replaced yet
	// pending are hits the injector has not answered yet: atomic, as the
	// injector's filter runs under its own lock, which must never wait for
	// Server.mu (held while rules are added to the injector).
	pending atomic.Int64
}

// injectionRule is the govmomi rule that answers r's hits: its filter lets
// a call through only while the hook has a hit pending, so it fires exactly
// once per hit (on a call of the same method and object).
func (s *Server) injectionRule(r *rule) *simulator.FaultInjectionRule {
	msg := r.message()
	method, object := r.spec.Method, r.spec.Object
	if object == "" {
		object = "*"
	}
	return &simulator.FaultInjectionRule{
		MethodName:  method,
		ObjectType:  object,
		ObjectName:  "*",
		Probability: 1,
		FaultType:   simulator.FaultTypeCustom,
		Fault:       vimFaults[r.spec.Fault](msg),
		Message:     msg,
		Enabled:     true,
		InclusionPropertyFilter: func(mo.Reference) bool {
			for {
				n := r.pending.Load()
				if n == 0 {
					return false
				}
				if r.pending.CompareAndSwap(n, n-1) {
					return true
				}
			}
		},
	}
}

// message is the fault's message: the rule's, or one naming the rule.
func (r *rule) message() string {
	if r.spec.Message != "" {
		return r.spec.Message
	}
	return fmt.Sprintf("%s injected by the vsphere-conformance fault endpoint (rule %s)", r.spec.Fault, r.id)
}

// covers says whether a call of method on an object of that type is one the
// rule is about.
func (r *rule) covers(method, object string) bool {
	return (r.spec.Method == "*" || r.spec.Method == method) && (r.spec.Object == "" || r.spec.Object == object)
}

// match says whether the call hits the rule, in the order of govmomi's
// FaultInjector.ShouldInjectFault (method and object, times spent,
// probability, then skip), and counts the hit. Under Server.mu.
func (r *rule) match(m *simulator.Method) bool {
	if !r.covers(m.Name, m.This.Type) {
		return false
	}
	if r.spec.Times > 0 && r.hits >= int64(r.spec.Times) {
		return false
	}
	if p := r.spec.Probability; p != 0 && rand.Float64() >= p {
		return false
	}
	if r.skipped < int64(r.spec.Skip) {
		r.skipped++
		return false
	}
	r.hits++
	return true
}

// statuses are the rules with their hits, under Server.mu.
func (s *Server) statuses() []target.FaultRuleStatus {
	out := make([]target.FaultRuleStatus, 0, len(s.rules))
	for _, r := range s.rules {
		out = append(out, target.FaultRuleStatus{ID: r.id, Rule: r.spec, Hits: r.hits})
	}
	return out
}
