package vcext

import (
	"log"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// vSphere API reference, BaseConfigInfo.keepAfterDeleteVm: an FCD with it
// set (CNS creates them so) is not deleted with the VM it is attached to; it
// is detached and kept. vcsim's Destroy_Task destroys every disk file,
// including FCD vmdks attached by CNS. So before a VM is destroyed, detach
// such disks (keeping their files) and clear the FCD's consumer. Skipped for
// a powered-on VM: Destroy_Task then fails and the VM keeps its disks.
func installVMDestroyCleanup(vim *simulator.Registry) {
	observeCalls(vim, func(ctx *simulator.Context, m *simulator.Method) {
		if m.Name != "Destroy_Task" || m.This.Type != "VirtualMachine" || ctx.Session == nil {
			return
		}
		vm, ok := ctx.Map.Get(m.This).(*simulator.VirtualMachine)
		if !ok {
			return
		}
		var disks []*types.VirtualDisk
		ctx.WithLock(vm, func() {
			if vm.Config == nil || vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn {
				return
			}
			for _, dev := range vm.Config.Hardware.Device {
				if d, ok := dev.(*types.VirtualDisk); ok && d.VDiskId != nil {
					disks = append(disks, copyDisk(d))
				}
			}
		})
		for _, d := range disks {
			disk := findFCD(ctx, d.VDiskId.Id)
			if disk == nil || !disk.keep {
				continue
			}
			remove := &types.VirtualDeviceConfigSpec{
				Operation: types.VirtualDeviceConfigSpecOperationRemove,
				Device:    d,
			}
			if err := diskStore(ctx).Detach(disk.id.Id); err != nil {
				log.Printf("vcext: VM %s destroyed: freeing the block device of disk %s failed: %v",
					vm.Self.Value, disk.id.Id, err)
			}
			if reconfigure(ctx, vm, remove) == nil {
				setFCDConsumer(ctx, disk, nil)
			}
		}
	})
}
