package vcext

import (
	"fmt"

	cnsmethods "github.com/vmware/govmomi/cns/methods"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// CnsAttachVolume attaches block volumes to VMs. vSphere CNS API reference,
// CnsVolumeManager.CnsAttachVolume: "attaches the volume to the VM": the FCD
// becomes a VirtualDisk of the VM whose backing is the FCD's vmdk and whose
// vDiskId is the FCD ID, and CnsVolumeAttachResult.diskUUID is that disk's
// UUID. vcsim only records the attachment and returns a constant UUID.
func (m *volumeManager) CnsAttachVolume(ctx *simulator.Context, req *cnstypes.CnsAttachVolume) soap.HasFault {
	vctx := ctx.For(vim25.Path)
	task := simulator.CreateTask(m, "CnsAttachVolume", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		if len(req.AttachSpecs) == 0 {
			return nil, &types.InvalidArgument{InvalidProperty: "CnsAttachVolumeSpec"}
		}
		var results []cnstypes.BaseCnsVolumeOperationResult
		for _, spec := range req.AttachSpecs {
			results = append(results, m.attach(vctx, spec))
		}
		return &cnstypes.CnsVolumeOperationBatchResult{VolumeResults: results}, nil
	})
	return &cnsmethods.CnsAttachVolumeBody{
		Res: &cnstypes.CnsAttachVolumeResponse{Returnval: task.Run(vctx)},
	}
}

func (m *volumeManager) attach(ctx *simulator.Context, spec cnstypes.CnsVolumeAttachDetachSpec) cnstypes.BaseCnsVolumeOperationResult {
	res := &cnstypes.CnsVolumeAttachResult{
		CnsVolumeOperationResult: cnstypes.CnsVolumeOperationResult{VolumeId: spec.VolumeId},
	}
	id := spec.VolumeId.Id

	vm, ok := ctx.Map.Get(spec.Vm).(*simulator.VirtualMachine)
	if !ok {
		res.Fault = opFault(&types.ManagedObjectNotFound{Obj: spec.Vm}, "VM %s not found", spec.Vm.Value)
		return res
	}
	vol := m.volume(ctx, spec.VolumeId)
	if vol == nil {
		res.Fault = opFault(&types.NotFound{}, "volume %s not found", id)
		return res
	}
	diskID, block := backingDisk(vol)
	if !block {
		res.Fault = cnsFault("volume %s is not a block volume", id)
		return res
	}
	disk := findFCD(ctx, diskID)
	if disk == nil {
		res.Fault = opFault(&types.NotFound{}, "backing disk %s of volume %s not found", diskID, id)
		return res
	}

	// A volume is attached to at most one VM; attaching it again to the same
	// VM reports the existing disk.
	if owner, d := volumeOwner(ctx, diskID); owner != nil {
		if owner.Self == vm.Self {
			if err := diskStore(ctx).Attach(biosUUID(ctx, vm), diskID, diskUUID(d), disk.capacityMB*mib); err != nil {
				res.Fault = cnsFault("volume %s: no block device on VM %s: %v", id, vm.Self.Value, err)
				return res
			}
			res.DiskUUID = diskUUID(d)
			return res
		}
		res.Fault = opFault(&types.ResourceInUse{Type: "VirtualDisk", Name: id},
			"volume %s is in use: attached to VM %s", id, owner.Self.Value)
		return res
	}

	if !hostSeesDatastore(ctx, vm, disk.datastore) {
		res.Fault = cnsFault("datastore %s of volume %s is not accessible from the host of VM %s",
			disk.datastore.Value, id, vm.Self.Value)
		return res
	}
	controller, unit, ok := freeSCSISlot(ctx, vm)
	if !ok {
		res.Fault = cnsFault("VM %s has no free SCSI controller slot", vm.Self.Value)
		return res
	}

	key, fault := keyForAttach(ctx, disk, vm.Self)
	if fault != nil {
		res.Fault = fault
		return res
	}

	// No FileOperation: the disk uses the FCD's existing vmdk.
	add := &types.VirtualDeviceConfigSpec{
		Operation: types.VirtualDeviceConfigSpecOperationAdd,
		Device: &types.VirtualDisk{
			VirtualDevice: types.VirtualDevice{
				Key:           -1,
				ControllerKey: controller,
				UnitNumber:    types.NewInt32(unit),
				Backing: &types.VirtualDiskFlatVer2BackingInfo{
					VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{
						FileName:  disk.path,
						Datastore: &disk.datastore,
					},
					DiskMode:        string(types.VirtualDiskModePersistent),
					ThinProvisioned: types.NewBool(disk.thin),
					KeyId:           key,
				},
			},
			CapacityInKB:    disk.capacityMB * 1024,
			CapacityInBytes: disk.capacityMB * 1024 * 1024,
			VDiskId:         &types.ID{Id: diskID},
		},
	}
	if fault := reconfigure(ctx, vm, add); fault != nil {
		res.Fault = fault
		return res
	}
	d := vmVolumeDisk(ctx, vm, diskID)
	if d == nil {
		res.Fault = cnsFault("disk of volume %s missing on VM %s after reconfigure", id, vm.Self.Value)
		return res
	}

	// A real node's block device exists before the attach completes: the
	// CSI node plugin looks the disk up by UUID right after the attach. No
	// device, no attach: the VM gets its disk removed again.
	vmUUID := biosUUID(ctx, vm)
	if err := diskStore(ctx).Attach(vmUUID, diskID, diskUUID(d), disk.capacityMB*mib); err != nil {
		msg := fmt.Sprintf("volume %s: no block device on VM %s: %v", id, vm.Self.Value, err)
		remove := &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationRemove, Device: d}
		if fault := reconfigure(ctx, vm, remove); fault != nil {
			msg += "; removing the disk again failed: " + fault.LocalizedMessage
		}
		res.Fault = cnsFault("%s", msg)
		return res
	}
	setFCDConsumer(ctx, disk, []types.ID{{Id: vmUUID}})
	attachedTo(ctx, disk, vm.Self)
	res.DiskUUID = diskUUID(d)
	return res
}

// CnsDetachVolume detaches volumes from VMs (vSphere CNS API reference,
// CnsVolumeManager.CnsDetachVolume): the VirtualDisk is removed from the VM
// and the FCD with its vmdk is kept.
func (m *volumeManager) CnsDetachVolume(ctx *simulator.Context, req *cnstypes.CnsDetachVolume) soap.HasFault {
	vctx := ctx.For(vim25.Path)
	task := simulator.CreateTask(m, "CnsDetachVolume", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		if len(req.DetachSpecs) == 0 {
			return nil, &types.InvalidArgument{InvalidProperty: "CnsDetachVolumeSpec"}
		}
		var results []cnstypes.BaseCnsVolumeOperationResult
		for _, spec := range req.DetachSpecs {
			results = append(results, m.detach(vctx, spec))
		}
		return &cnstypes.CnsVolumeOperationBatchResult{VolumeResults: results}, nil
	})
	return &cnsmethods.CnsDetachVolumeBody{
		Res: &cnstypes.CnsDetachVolumeResponse{Returnval: task.Run(vctx)},
	}
}

// detach faults are those the CSI driver v3.3.1 checks (volume/manager.go
// DetachVolume): ManagedObjectNotFound naming the VM (the node VM is gone:
// treated as detached) and NotFound (it then checks the VM's disks).
func (m *volumeManager) detach(ctx *simulator.Context, spec cnstypes.CnsVolumeAttachDetachSpec) cnstypes.BaseCnsVolumeOperationResult {
	res := &cnstypes.CnsVolumeOperationResult{VolumeId: spec.VolumeId}
	id := spec.VolumeId.Id

	vm, ok := ctx.Map.Get(spec.Vm).(*simulator.VirtualMachine)
	if !ok {
		res.Fault = opFault(&types.ManagedObjectNotFound{Obj: spec.Vm}, "VM %s not found", spec.Vm.Value)
		return res
	}
	diskID := id
	if vol := m.volume(ctx, spec.VolumeId); vol != nil {
		if backing, block := backingDisk(vol); block {
			diskID = backing
		}
	}
	d := vmVolumeDisk(ctx, vm, diskID)
	if d == nil {
		res.Fault = opFault(&types.NotFound{}, "volume %s is not attached to VM %s", id, vm.Self.Value)
		return res
	}

	// The node's block device goes first: a detach that cannot free it
	// fails and leaves the disk attached, as a failed hot-remove does.
	if err := diskStore(ctx).Detach(diskID); err != nil {
		res.Fault = cnsFault("volume %s: freeing its block device on VM %s failed: %v", id, vm.Self.Value, err)
		return res
	}

	// No FileOperation "destroy": the vmdk stays, the FCD stays listed.
	remove := &types.VirtualDeviceConfigSpec{
		Operation: types.VirtualDeviceConfigSpecOperationRemove,
		Device:    d,
	}
	if fault := reconfigure(ctx, vm, remove); fault != nil {
		res.Fault = fault
		return res
	}
	if disk := findFCD(ctx, diskID); disk != nil {
		setFCDConsumer(ctx, disk, nil)
	}
	return res
}

// biosUUID is the VM's BIOS UUID (config.uuid), which a real node reports
// as its system serial and the disk store knows the node by.
func biosUUID(ctx *simulator.Context, vm *simulator.VirtualMachine) string {
	var u string
	ctx.WithLock(vm, func() {
		if vm.Config != nil {
			u = vm.Config.Uuid
		}
	})
	return u
}
