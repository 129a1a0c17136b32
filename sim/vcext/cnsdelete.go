package vcext

import (
	cnsmethods "github.com/vmware/govmomi/cns/methods"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// CnsDeleteVolume refuses to delete the disk of a volume that is attached to
// a VM (vCenter cannot delete a disk in use; the CSI driver retries such
// faults until the volume is detached), else defers to the CNS simulator.
// Needed since attach makes the FCD a VM disk: vcsim drops the CNS record
// before it tries the disk, so its own failure would lose the volume.
//
// The check runs before the simulator's task, not inside a task of ours (it
// only holds the task lock meanwhile): the simulator's CnsDeleteVolume takes
// that lock under a context of its own, which would wait forever on ours. Kubernetes never deletes a
// volume while attaching it, so the gap between check and delete is harmless.
func (m *volumeManager) CnsDeleteVolume(ctx *simulator.Context, req *cnstypes.CnsDeleteVolume) soap.HasFault {
	vctx := ctx.For(vim25.Path)
	if !req.DeleteDisk || len(req.VolumeIds) != 1 {
		return m.base.(volumeDeleter).CnsDeleteVolume(ctx, req)
	}
	id := req.VolumeIds[0]
	var vm *simulator.VirtualMachine
	diskID := id.Id
	cnsLock(vctx, func() {
		if vol := m.volume(vctx, id); vol != nil {
			if backing, block := backingDisk(vol); block {
				diskID = backing
			}
		}
		vm, _ = volumeOwner(vctx, diskID)
	})
	if vm == nil {
		body := m.base.(volumeDeleter).CnsDeleteVolume(ctx, req)
		if diskStore(vctx) != nil {
			// The disk's bytes go with it (vSphere CNS API reference,
			// CnsVolumeManager.CnsDeleteVolume: deleteDisk deletes the
			// backing disk). Waiting here holds no task lock, and the client
			// gets the task only once the bytes are gone.
			if waitTask(vctx, body) == nil {
				deleteBytes(vctx, diskID)
			}
		}
		return body
	}

	fault := opFault(&types.ResourceInUse{Type: "VirtualDisk", Name: id.Id},
		"volume %s is in use: attached to VM %s", id.Id, vm.Self.Value)
	task := simulator.CreateTask(m, "CnsDeleteVolume", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		return &cnstypes.CnsVolumeOperationBatchResult{
			VolumeResults: []cnstypes.BaseCnsVolumeOperationResult{
				&cnstypes.CnsVolumeOperationResult{VolumeId: id, Fault: fault},
			},
		}, nil
	})
	return &cnsmethods.CnsDeleteVolumeBody{
		Res: &cnstypes.CnsDeleteVolumeResponse{Returnval: task.Run(vctx)},
	}
}
