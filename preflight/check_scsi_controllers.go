package preflight

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"github.com/vmware/govmomi/vim25/types"
)

// checkSCSIControllers: every SCSI controller of a node VM is a VMware
// Paravirtual one (ParaVirtualSCSIController); the CSI driver attaches
// volumes to the VM's SCSI controllers.
//
// Documentation: "vSphere CSI Driver - Prerequisites", section "Virtual
// Machine Configuration" ("We recommend using the VMware Paravirtual SCSI
// controller for Primary Disk on the Node VMs"), a recommendation, hence a
// warning,
// https://docs.vmware.com/en/VMware-vSphere-Container-Storage-Plug-in/3.0/vmware-vsphere-csp-getting-started/GUID-0AB6E692-AA47-4B6A-8CEA-38B754E16567.html
// (upstream copy: https://github.com/kubernetes-sigs/vsphere-csi-driver/blob/master/docs/book/driver-deployment/prerequisites.md).
func checkSCSIControllers(ctx context.Context, e *env) []Finding {
	var out []Finding
	for _, v := range e.nodeVMs(ctx) {
		if v.VM.Config == nil {
			out = append(out, notRun("SCSI controllers", v.object(), fmt.Errorf("VM config not readable")))
			continue
		}
		var other []string
		for _, d := range v.VM.Config.Hardware.Device {
			c, ok := d.(types.BaseVirtualSCSIController)
			if !ok {
				continue
			}
			if _, pv := c.(*types.ParaVirtualSCSIController); pv {
				continue
			}
			other = append(other, fmt.Sprintf("%s (%s)", deviceLabel(d), reflect.TypeOf(d).Elem().Name()))
		}
		if len(other) > 0 {
			out = append(out, RuleSCSIController.finding(v.object(),
				"SCSI controllers that are not VMware Paravirtual: %s", strings.Join(other, ", ")))
		}
	}
	return out
}

// deviceLabel is the device's label as the vSphere Client shows it
// ("SCSI controller 1"), or its key when it has none.
func deviceLabel(d types.BaseVirtualDevice) string {
	vd := d.GetVirtualDevice()
	if vd.DeviceInfo != nil {
		if l := vd.DeviceInfo.GetDescription().Label; l != "" {
			return l
		}
	}
	return fmt.Sprintf("device %d", vd.Key)
}
