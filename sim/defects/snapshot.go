package defects

import (
	"reflect"
	"time"

	"github.com/vmware/govmomi/cns"
	cnsmethods "github.com/vmware/govmomi/cns/methods"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// snapshotProfiles break CNS snapshots (vSphere CNS API reference,
// CnsVolumeManager.CnsCreateSnapshots / CnsDeleteSnapshots,
// CnsSnapshotVolumeSource).
var snapshotProfiles = []Profile{
	{
		Name: "snapshot-delete-does-nothing",
		Breaks: "vSphere CNS API reference, CnsVolumeManager.CnsDeleteSnapshots: deletes the given snapshots of the " +
			"volumes; here the task succeeds and the snapshot stays, in CNS and on the FCD.",
		Symptom: `CNS snapshot \S+ is still on volume`,
		install: func(m *simulator.Model) error {
			around(m.Service.Context.For(cns.Path).Map, "CnsDeleteSnapshots", func(ctx *simulator.Context, req any, _ func() soap.HasFault) soap.HasFault {
				r := req.(*cnstypes.CnsDeleteSnapshots)
				batch := &cnstypes.CnsVolumeOperationBatchResult{}
				for _, s := range r.SnapshotDeleteSpecs {
					batch.VolumeResults = append(batch.VolumeResults, &cnstypes.CnsSnapshotDeleteResult{
						CnsSnapshotOperationResult: cnstypes.CnsSnapshotOperationResult{
							CnsVolumeOperationResult: cnstypes.CnsVolumeOperationResult{VolumeId: s.VolumeId},
						},
						SnapshotId: s.SnapshotId,
					})
				}
				return &cnsmethods.CnsDeleteSnapshotBody{
					Res: &cnstypes.CnsDeleteSnapshotsResponse{Returnval: ncSucceed(ctx, r.This, "DeleteSnapshots", batch)},
				}
			})
			return nil
		},
	},
	{
		Name: "snapshot-delete-cns-only",
		Breaks: "vSphere CNS API reference, CnsVolumeManager.CnsDeleteSnapshots: a CNS snapshot is a snapshot of the " +
			"volume's FCD, and deleting it deletes that FCD snapshot (vSphere Web Services API reference, " +
			"VStorageObjectManager.RetrieveSnapshotInfo lists the FCD's snapshots); here CNS forgets the snapshot " +
			"and the FCD keeps it.",
		Symptom: `FCD \S+ still lists snapshot \S+ in its VSLM snapshot list`,
		install: func(m *simulator.Model) error {
			around(m.Service.Context.For(cns.Path).Map, "CnsDeleteSnapshots", func(ctx *simulator.Context, req any, next func() soap.HasFault) soap.HasFault {
				body := next()
				vctx := ctx.For(vim25.Path)
				result, fault := ncWait(vctx, body)
				batch, ok := result.(*cnstypes.CnsVolumeOperationBatchResult)
				if fault != nil || !ok {
					return body
				}
				for _, r := range batch.VolumeResults {
					if res, ok := r.(*cnstypes.CnsSnapshotDeleteResult); ok && res.Fault == nil {
						// A block volume's ID is its FCD's ID.
						ncKeepFCDSnapshot(vctx, res.VolumeId.Id, res.SnapshotId.Id)
					}
				}
				return body
			})
			return nil
		},
	},
	{
		Name: "restore-ignores-snapshot",
		Breaks: "vSphere CNS API reference, CnsSnapshotVolumeSource: a volume created with it is created from the " +
			"snapshot, holding its data; here the source is dropped and the volume is created blank, of the " +
			"requested size only.",
		Symptom: `in the volume restored from the snapshot.*(no such file|SHA-256)`,
		install: func(m *simulator.Model) error {
			around(m.Service.Context.For(cns.Path).Map, "CnsCreateVolume", func(_ *simulator.Context, req any, next func() soap.HasFault) soap.HasFault {
				for i := range req.(*cnstypes.CnsCreateVolume).CreateSpecs {
					spec := &req.(*cnstypes.CnsCreateVolume).CreateSpecs[i]
					if _, ok := spec.VolumeSource.(*cnstypes.CnsSnapshotVolumeSource); ok {
						spec.VolumeSource = nil
					}
				}
				return next()
			})
			return nil
		},
	},
}

// ncSucceed runs a task on entity that succeeds at once with result: the
// answer of a defect that does nothing.
func ncSucceed(ctx *simulator.Context, entity types.ManagedObjectReference, name string, result types.AnyType) types.ManagedObjectReference {
	task := simulator.CreateTask(ncEntity(entity), name, func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		return result, nil
	})
	// Run moves a CNS context to vim25 itself; a vim25 context is kept, as
	// it holds the lock of the object the dispatcher serves.
	return task.Run(ctx)
}

// ncEntity is a task's entity given by its moref.
type ncEntity types.ManagedObjectReference

func (e ncEntity) Reference() types.ManagedObjectReference { return types.ManagedObjectReference(e) }

// ncWait waits for the task that a *_Task (or CNS) method's answer names and
// gives its result or fault. ctx is a vim25 context: tasks live there.
func ncWait(ctx *simulator.Context, body soap.HasFault) (types.AnyType, *types.LocalizedMethodFault) {
	if f := body.Fault(); f != nil {
		return nil, &types.LocalizedMethodFault{Fault: &types.SystemError{Reason: f.String}, LocalizedMessage: f.String}
	}
	res := reflect.ValueOf(body).Elem().FieldByName("Res")
	if !res.IsValid() || res.IsNil() {
		return nil, &types.LocalizedMethodFault{Fault: &types.SystemError{Reason: "no task in the answer"}}
	}
	ref, _ := res.Elem().FieldByName("Returnval").Interface().(types.ManagedObjectReference)
	task, ok := ctx.Map.Get(ref).(*simulator.Task)
	if !ok {
		return nil, &types.LocalizedMethodFault{Fault: &types.ManagedObjectNotFound{Obj: ref}}
	}
	task.Wait()
	var info types.TaskInfo
	// A lock owner of its own: the task's goroutine updates the info.
	ctx.Map.WithLock(&simulator.Context{}, task, func() { info = task.Info })
	return info.Result, info.Error
}

// ncKeepFCDSnapshot makes the FCD list the snapshot (VStorageObjectSnapshotInfo)
// as vCenter keeps it when only CNS forgot it.
func ncKeepFCDSnapshot(ctx *simulator.Context, diskID, snapID string) {
	vsom := ctx.Map.VStorageObjectManager()
	ctx.WithLock(vsom, func() {
		for _, objs := range vsom.Catalog() {
			obj, ok := objs[types.ID{Id: diskID}]
			if !ok {
				continue
			}
			for _, s := range obj.Snapshots {
				if s.Id != nil && s.Id.Id == snapID {
					return
				}
			}
			obj.Snapshots = append(obj.Snapshots, types.VStorageObjectSnapshotInfoVStorageObjectSnapshot{
				Id:              &types.ID{Id: snapID},
				BackingObjectId: diskID,
				CreateTime:      time.Now(),
				Description:     "CNS snapshot " + snapID,
			})
			return
		}
	})
}
