// Package faults is the fault-injection admin endpoint of the simulated
// vCenter (capability faultInjection; wire contract in target/faults.go).
// Disruptive specs use it to make vCenter fail the way a real one does -
// a call answered with a fault or slowly, every session ended, a period
// without answers - and scale specs read its call counts to measure what
// one Kubernetes operation costs in vCenter calls.
//
// It is served over plain HTTP on a loopback address with a random bearer
// token, apart from vCenter's own HTTPS listener, and each mechanism
// reproduces documented vSphere behaviour without bending the simulator:
//
//   - Fault rules answer matching calls with the vSphere fault types of the
//     vSphere Web Services API (SystemError, NotAuthenticated, NoPermission,
//     InvalidArgument, InvalidState, ResourceInUse, NotFound,
//     InsufficientResourcesFault), through govmomi's own fault injection
//     (simulator.Service.AddFaultRule), which every SDK the simulator
//     serves shares: vim25 at /sdk, CNS at /vsanHealth, PBM at /pbm and
//     VSLM at /vslm/sdk. A delay-only rule is a call hook that waits before
//     the call is served.
//   - An afterRun rule lets the call do its work and then answers the
//     fault, as when vCenter did the work but lost its result (a CNS task
//     that timed out, vpxd losing the result of a task after the FCD was
//     created or attached). The call hook decides the hit as for any rule;
//     the front, which sees the answer, delivers it once the call has run
//     and succeeded. A call that returned a vim25 Task (the CNS volume
//     methods, *_Task) is answered a twin of that task, with its
//     description, that ends in state error with the fault once the task
//     has ended (vSphere Web Services API, TaskInfo.error: "If the task
//     state is "error", then this property contains the fault code"), the
//     message as its localizedMessage: a client waiting on it never sees a
//     success, and what the task made (the volume, the FCD) stays. Any
//     other call, VSLM's VslmTask methods among them, answers the SOAP
//     fault.
//   - Session invalidation is what clients see after a vCenter restart:
//     every vim25 session is ended with SessionManager.TerminateSession
//     (vSphere Web Services API: "Log off and terminate the provided list
//     of sessions"), every vAPI session with the vAPI's own session delete
//     (vSphere Automation API, com.vmware.cis.session delete:
//     DELETE /rest/com/vmware/cis/session, "terminates the validity of a
//     session token"). The next call of a client holding one is
//     NotAuthenticated (SOAP) or 401 (vAPI); a new login works.
//   - An outage is vCenter's HTTPS listener dropping every connection and
//     request for a while, on all its paths, then answering again with its
//     state unchanged, as vpxd does across a restart (its inventory lives
//     in its database).
//   - Call counts are the calls vCenter served since it was ready, by
//     endpoint ("vim25", "cns", "pbm", "vslm", "vapi") and method.
//
// The simulator's own in-process calls (its admin work) are neither counted
// nor delayed.
package faults
