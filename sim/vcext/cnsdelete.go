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
// faults until the volume is detached), then defers to the CNS simulator.
// Needed since attach now makes the FCD a VM disk: vcsim drops the CNS record
// before trying the disk, so its own failure would lose the volume.
func (m *volumeManager) CnsDeleteVolume(ctx *simulator.Context, req *cnstypes.CnsDeleteVolume) soap.HasFault {
	vctx := ctx.For(vim25.Path)
	task := simulator.CreateTask(m, "CnsDeleteVolume", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		if req.DeleteDisk && len(req.VolumeIds) == 1 {
			id := req.VolumeIds[0]
			diskID := id.Id
			if vol := m.volume(vctx, id); vol != nil {
				if backing, block := backingDisk(vol); block {
					diskID = backing
				}
			}
			if vm, _ := volumeOwner(vctx, diskID); vm != nil {
				fault := opFault(&types.ResourceInUse{Type: "VirtualDisk", Name: id.Id},
					"volume %s is in use: attached to VM %s", id.Id, vm.Self.Value)
				return &cnstypes.CnsVolumeOperationBatchResult{
					VolumeResults: []cnstypes.BaseCnsVolumeOperationResult{
						&cnstypes.CnsVolumeOperationResult{VolumeId: id, Fault: fault},
					},
				}, nil
			}
		}

		// The simulator's own delete; its task runs on vctx, which already
		// holds the manager's task lock.
		result, fault := runTask(vctx, m.cnsBase.CnsDeleteVolume(vctx, req))
		if fault != nil {
			return nil, fault.Fault
		}
		return result, nil
	})
	return &cnsmethods.CnsDeleteVolumeBody{
		Res: &cnstypes.CnsDeleteVolumeResponse{Returnval: task.Run(vctx)},
	}
}
