package vcext

import (
	"bytes"
	"sort"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

// scsiUnits is the number of unit numbers on a (paravirtual) SCSI bus; the
// controller itself takes one (scsiCtlrUnitNumber, 7), leaving 15 disks per
// controller: 4 controllers x 15 - the root disk = the CSI node limit of 59.
const scsiUnits = 16

// vmVolumeDisk returns a copy of the VM's VirtualDisk whose vDiskId is id
// (how vCenter marks an attached FCD), or nil.
func vmVolumeDisk(ctx *simulator.Context, vm *simulator.VirtualMachine, id string) *types.VirtualDisk {
	var found *types.VirtualDisk
	ctx.WithLock(vm, func() {
		if vm.Config == nil {
			return
		}
		for _, dev := range vm.Config.Hardware.Device {
			if d, ok := dev.(*types.VirtualDisk); ok && d.VDiskId != nil && d.VDiskId.Id == id {
				found = copyDisk(d)
				return
			}
		}
	})
	return found
}

// volumeOwner finds the VM a volume is attached to, if any, by scanning the
// VMs' disks: the devices are the truth, whoever changed them.
func volumeOwner(ctx *simulator.Context, id string) (*simulator.VirtualMachine, *types.VirtualDisk) {
	for _, e := range ctx.Map.All("VirtualMachine") {
		vm, ok := e.(*simulator.VirtualMachine)
		if !ok {
			continue
		}
		if d := vmVolumeDisk(ctx, vm, id); d != nil {
			return vm, d
		}
	}
	return nil, nil
}

// diskUUID is the disk's backing UUID, what CNS returns as DiskUUID.
func diskUUID(d *types.VirtualDisk) string {
	if b, ok := d.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
		return b.Uuid
	}
	return ""
}

// freeSCSISlot picks the first free unit on the VM's SCSI controllers, in bus
// order, skipping the unit the controller itself uses.
func freeSCSISlot(ctx *simulator.Context, vm *simulator.VirtualMachine) (controller int32, unit int32, ok bool) {
	ctx.WithLock(vm, func() {
		if vm.Config == nil {
			return
		}
		devices := vm.Config.Hardware.Device
		var ctrls []*types.VirtualSCSIController
		used := make(map[int32]map[int32]bool)
		for _, dev := range devices {
			if c, isSCSI := dev.(types.BaseVirtualSCSIController); isSCSI {
				ctrls = append(ctrls, c.GetVirtualSCSIController())
			}
			d := dev.GetVirtualDevice()
			if d.UnitNumber != nil {
				if used[d.ControllerKey] == nil {
					used[d.ControllerKey] = make(map[int32]bool)
				}
				used[d.ControllerKey][*d.UnitNumber] = true
			}
		}
		sort.Slice(ctrls, func(i, j int) bool { return ctrls[i].BusNumber < ctrls[j].BusNumber })
		for _, c := range ctrls {
			for u := int32(0); u < scsiUnits; u++ {
				if u != c.ScsiCtlrUnitNumber && !used[c.Key][u] {
					controller, unit, ok = c.Key, u, true
					return
				}
			}
		}
	})
	return controller, unit, ok
}

// hostSeesDatastore reports whether the VM's host mounts the datastore: a VM
// can only use disks on datastores its host can access.
func hostSeesDatastore(ctx *simulator.Context, vm *simulator.VirtualMachine, ds types.ManagedObjectReference) bool {
	var hostRef *types.ManagedObjectReference
	ctx.WithLock(vm, func() { hostRef = vm.Runtime.Host })
	if hostRef == nil {
		return false
	}
	host, ok := ctx.Map.Get(*hostRef).(*simulator.HostSystem)
	if !ok {
		return false
	}
	seen := false
	ctx.WithLock(host, func() {
		for _, ref := range host.Datastore {
			if ref == ds {
				seen = true
			}
		}
	})
	return seen
}

// reconfigure applies one device change with ReconfigVM_Task and waits. It
// uses its own context: the task's goroutine holds the VM lock on its behalf.
func reconfigure(ctx *simulator.Context, vm *simulator.VirtualMachine, change *types.VirtualDeviceConfigSpec) *types.LocalizedMethodFault {
	rctx := ctx.For(vim25.Path)
	body := vm.ReconfigVMTask(rctx, &types.ReconfigVM_Task{
		This: vm.Self,
		Spec: types.VirtualMachineConfigSpec{
			DeviceChange: []types.BaseVirtualDeviceConfigSpec{change},
		},
	})
	return waitTask(rctx, body)
}

// copyDisk deep-copies a device (the simulator mutates specs it is given, and
// the live device is shared with concurrent readers) by an XML round trip.
func copyDisk(d *types.VirtualDisk) *types.VirtualDisk {
	b, err := xml.Marshal(d)
	if err != nil {
		panic(err) // every vim25 type marshals
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.TypeFunc = types.TypeFunc()
	out := new(types.VirtualDisk)
	if err := dec.Decode(out); err != nil {
		panic(err)
	}
	return out
}
