package preflight

import (
	"context"
	"fmt"
	"strings"

	"github.com/vmware/govmomi/vim25/types"
)

// enableUUIDKey is the node VM's extraConfig key that makes each VMDK
// present a stable UUID (SCSI page 83) to the guest; the driver's node
// plugin finds an attached volume's device by it.
const enableUUIDKey = "disk.EnableUUID"

// checkDiskEnableUUID: every node VM has disk.EnableUUID = TRUE.
//
// Documentation: "vSphere CSI Driver - Prerequisites", section "Virtual
// Machine Configuration" ("Set the disk.EnableUUID parameter to TRUE for
// each node VM. This step is necessary so that the VMDK always presents a
// consistent UUID to the VM, thus allowing the disk to be mounted
// properly"),
// https://docs.vmware.com/en/VMware-vSphere-Container-Storage-Plug-in/3.0/vmware-vsphere-csp-getting-started/GUID-0AB6E692-AA47-4B6A-8CEA-38B754E16567.html
// (upstream copy: https://github.com/kubernetes-sigs/vsphere-csi-driver/blob/master/docs/book/driver-deployment/prerequisites.md).
func checkDiskEnableUUID(ctx context.Context, e *env) []Finding {
	var out []Finding
	for _, v := range e.nodeVMs(ctx) {
		if v.VM.Config == nil {
			out = append(out, notRun("disk.EnableUUID", v.object(), fmt.Errorf("VM config not readable")))
			continue
		}
		value, set := extraConfig(v.VM.Config.ExtraConfig, enableUUIDKey)
		switch {
		case !set:
			out = append(out, RuleDiskEnableUUID.finding(v.object(), "%s is not set in the VM's extraConfig (it must be TRUE)", enableUUIDKey))
		case !vmxTrue(value):
			out = append(out, RuleDiskEnableUUID.finding(v.object(), "%s is %q in the VM's extraConfig (it must be TRUE)", enableUUIDKey, value))
		}
	}
	return out
}

// extraConfig returns the value of an extraConfig key; vmx keys are case
// insensitive (the docs write disk.EnableUUID, govc examples disk.enableUUID).
func extraConfig(opts []types.BaseOptionValue, key string) (string, bool) {
	for _, o := range opts {
		ov := o.GetOptionValue()
		if ov != nil && strings.EqualFold(ov.Key, key) {
			return fmt.Sprint(ov.Value), true
		}
	}
	return "", false
}

// vmxTrue reads a vmx boolean: TRUE in any case, or 1.
func vmxTrue(s string) bool {
	s = strings.TrimSpace(s)
	return strings.EqualFold(s, "true") || s == "1"
}
