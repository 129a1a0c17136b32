package vcext

import (
	cnsmethods "github.com/vmware/govmomi/cns/methods"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// CnsExtendVolume grows a block volume. vSphere CNS API reference,
// CnsVolumeManager.CnsExtendVolume: it extends the volume's backing virtual
// disk, online when attached. vcsim updates only the CNS record; here the
// FCD (VStorageObject capacityInMB, via ExtendDisk_Task) and the attached
// VirtualDisk grow too, then the CNS simulator updates its record.
func (m *volumeManager) CnsExtendVolume(ctx *simulator.Context, req *cnstypes.CnsExtendVolume) soap.HasFault {
	vctx := ctx.For(vim25.Path)
	task := simulator.CreateTask(m, "CnsExtendVolume", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		if len(req.ExtendSpecs) != 1 {
			return nil, &types.InvalidArgument{InvalidProperty: "InputSpec"} // one spec per call, as vCenter
		}
		spec := req.ExtendSpecs[0]
		if fault := m.extendDisk(vctx, spec); fault != nil {
			return &cnstypes.CnsVolumeOperationBatchResult{
				VolumeResults: []cnstypes.BaseCnsVolumeOperationResult{
					&cnstypes.CnsVolumeOperationResult{VolumeId: spec.VolumeId, Fault: fault},
				},
			}, nil
		}

		// The CNS record: the simulator's own CnsExtendVolume, inside this
		// task so that attach/detach/extend stay serialized. Its task runs
		// on the context it is given (govmomi v0.56.0), vctx, which already
		// holds the manager's task lock; the tests would hang if it did not.
		result, fault := runTask(vctx, m.base.(volumeExtender).CnsExtendVolume(vctx, req))
		if fault != nil {
			return nil, fault.Fault
		}
		return result, nil
	})
	return &cnsmethods.CnsExtendVolumeBody{
		Res: &cnstypes.CnsExtendVolumeResponse{Returnval: task.Run(vctx)},
	}
}

// extendDisk grows the volume's attached VirtualDisk, if any, and its FCD.
func (m *volumeManager) extendDisk(ctx *simulator.Context, spec cnstypes.CnsVolumeExtendSpec) *types.LocalizedMethodFault {
	id := spec.VolumeId.Id
	vol := m.volume(ctx, spec.VolumeId)
	if vol == nil {
		return opFault(&types.NotFound{}, "volume %s not found", id)
	}
	diskID, block := backingDisk(vol)
	if !block {
		return nil // not a disk: only the CNS record changes
	}
	disk := findFCD(ctx, diskID)
	if disk == nil {
		return opFault(&types.NotFound{}, "backing disk %s of volume %s not found", diskID, id)
	}
	switch {
	case spec.CapacityInMb < disk.capacityMB:
		return opFault(&types.InvalidArgument{InvalidProperty: "capacityInMb"},
			"volume %s cannot shrink from %d MB to %d MB", id, disk.capacityMB, spec.CapacityInMb)
	case spec.CapacityInMb == disk.capacityMB:
		return nil
	}
	if fault := checkFreeSpace(ctx, disk, spec.CapacityInMb-disk.capacityMB); fault != nil {
		return fault
	}

	// The bytes grow first, so an attached device has its new size when the
	// task completes: the node plugin's NodeExpand reads it next.
	if err := diskStore(ctx).Extend(diskID, spec.CapacityInMb*mib); err != nil {
		return cnsFault("volume %s: growing its bytes to %d MB failed: %v", id, spec.CapacityInMb, err)
	}
	if vm, d := volumeOwner(ctx, diskID); vm != nil {
		d.CapacityInKB = spec.CapacityInMb * 1024
		d.CapacityInBytes = spec.CapacityInMb * 1024 * 1024
		edit := &types.VirtualDeviceConfigSpec{
			Operation: types.VirtualDeviceConfigSpecOperationEdit,
			Device:    d,
		}
		if fault := reconfigure(ctx, vm, edit); fault != nil {
			return fault
		}
	}
	return extendFCD(ctx.For(vim25.Path), disk, spec.CapacityInMb)
}

// checkFreeSpace refuses growth the datastore has no room for. vSphere API
// reference: NoDiskSpace (a FileFault, "insufficient disk space on
// datastore"), thrown by disk operations, ExtendDisk_Task among them, that
// need more space than the datastore has free. vcsim never refuses a size.
func checkFreeSpace(ctx *simulator.Context, d *fcd, growMB int64) *types.LocalizedMethodFault {
	ds, ok := ctx.For(vim25.Path).Map.Get(d.datastore).(*simulator.Datastore)
	if !ok {
		return nil
	}
	var name string
	var free int64
	ctx.WithLock(ds, func() { name, free = ds.Name, ds.Summary.FreeSpace })
	if growMB*1024*1024 <= free {
		return nil
	}
	return opFault(&types.NoDiskSpace{FileFault: types.FileFault{File: d.path}, Datastore: name},
		"insufficient disk space on datastore '%s': extending %s by %d MB needs more than the %d MB free",
		name, d.id.Id, growMB, free/(1024*1024))
}
