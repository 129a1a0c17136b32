package vcext

import (
	"reflect"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// runTask waits for the task that a simulator *_Task method (called directly,
// not over SOAP) returned, and gives the task's result or fault. ctx must be
// a vim25 context: all tasks live in the vim25 registry.
func runTask(ctx *simulator.Context, body soap.HasFault) (types.AnyType, *types.LocalizedMethodFault) {
	if f := body.Fault(); f != nil {
		fault, _ := f.Detail.Fault.(types.BaseMethodFault)
		if fault == nil {
			fault = &types.SystemError{Reason: f.String}
		}
		return nil, &types.LocalizedMethodFault{Fault: fault, LocalizedMessage: f.String}
	}

	// Every *_TaskBody has Res.Returnval: the task moref.
	ref := reflect.ValueOf(body).Elem().FieldByName("Res").Elem().FieldByName("Returnval").
		Interface().(types.ManagedObjectReference)
	task, ok := ctx.Map.Get(ref).(*simulator.Task)
	if !ok {
		return nil, &types.LocalizedMethodFault{Fault: &types.ManagedObjectNotFound{Obj: ref}}
	}
	task.Wait()

	var info types.TaskInfo
	// Own lock owner, as Task.Wait does: the task's goroutine updates it.
	ctx.Map.WithLock(&simulator.Context{}, task, func() { info = task.Info })
	return info.Result, info.Error
}

// waitTask is runTask for callers that only need the outcome.
func waitTask(ctx *simulator.Context, body soap.HasFault) *types.LocalizedMethodFault {
	_, fault := runTask(ctx, body)
	return fault
}
