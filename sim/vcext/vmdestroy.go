package vcext

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// vCenter detaches FCDs (keepAfterDeleteVm, as CNS creates them) when their
// VM is destroyed, so they can later be deleted. vcsim's Destroy_Task removes
// the devices but knows nothing of the FCD consumer recorded on attach:
// clear it here, for a powered-off VM (Destroy_Task fails otherwise).
func installVMDestroyCleanup(vim *simulator.Registry) {
	observeCalls(vim, func(ctx *simulator.Context, m *simulator.Method) {
		if m.Name != "Destroy_Task" || m.This.Type != "VirtualMachine" || ctx.Session == nil {
			return
		}
		vm, ok := ctx.Map.Get(m.This).(*simulator.VirtualMachine)
		if !ok {
			return
		}
		var ids []string
		ctx.WithLock(vm, func() {
			if vm.Config == nil || vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff {
				return
			}
			for _, dev := range vm.Config.Hardware.Device {
				if d, ok := dev.(*types.VirtualDisk); ok && d.VDiskId != nil {
					ids = append(ids, d.VDiskId.Id)
				}
			}
		})
		for _, id := range ids {
			if disk := findFCD(ctx, id); disk != nil {
				setFCDConsumer(ctx, disk, nil)
			}
		}
	})
}
