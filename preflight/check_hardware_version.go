package preflight

import (
	"context"
	"fmt"

	"github.com/vmware/govmomi/vim25/types"
)

// minHardwareVersion is the oldest virtual hardware a node VM may have.
//
// Documentation: "vSphere CSI Driver - Prerequisites", section "Virtual
// Machine Configuration" ("VM Hardware version must be 15 or higher"),
// https://docs.vmware.com/en/VMware-vSphere-Container-Storage-Plug-in/3.0/vmware-vsphere-csp-getting-started/GUID-0AB6E692-AA47-4B6A-8CEA-38B754E16567.html
// (upstream copy: https://github.com/kubernetes-sigs/vsphere-csi-driver/blob/master/docs/book/driver-deployment/prerequisites.md).
const minHardwareVersion = types.VMX15

// checkHardwareVersion: every node VM's config.version ("vmx-NN") is at
// least minHardwareVersion.
func checkHardwareVersion(ctx context.Context, e *env) []Finding {
	var out []Finding
	for _, v := range e.nodeVMs(ctx) {
		if v.VM.Config == nil {
			out = append(out, notRun("VM hardware version", v.object(), fmt.Errorf("VM config not readable")))
			continue
		}
		hw, err := types.ParseHardwareVersion(v.VM.Config.Version)
		if err != nil {
			out = append(out, notRun("VM hardware version", v.object(), fmt.Errorf("config.version %q: %w", v.VM.Config.Version, err)))
			continue
		}
		if hw < minHardwareVersion {
			out = append(out, RuleHardwareVersion.finding(v.object(),
				"virtual hardware version is %s; the CSI driver needs %s or later", hw, minHardwareVersion))
		}
	}
	return out
}
