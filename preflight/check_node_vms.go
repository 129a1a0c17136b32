package preflight

import (
	"context"
	"fmt"
	"strings"
)

// checkNodeVMs: every Kubernetes node has a VM in the configured datacenter,
// found the way the CPI and the CSI driver find it: by the BIOS UUID in
// spec.providerID ("vsphere://UUID", which the CPI sets) or in
// status.nodeInfo.systemUUID (target.VMForNode, which then also tries the
// node's name).
//
// Documentation: "vSphere CSI Driver - Prerequisites", section "vSphere
// Cloud Provider Interface (CPI)", step 4 ("Verify ProviderID is set for all
// nodes ... vSphere CSI driver needs the ProviderID field to be set for all
// nodes"),
// https://docs.vmware.com/en/VMware-vSphere-Container-Storage-Plug-in/3.0/vmware-vsphere-csp-getting-started/GUID-0AB6E692-AA47-4B6A-8CEA-38B754E16567.html
// (upstream copy: https://github.com/kubernetes-sigs/vsphere-csi-driver/blob/master/docs/book/driver-deployment/prerequisites.md).
func checkNodeVMs(ctx context.Context, e *env) []Finding {
	e.nodeVMs(ctx)
	return e.vmFindings
}

// nodeVMNotFound names the node and every UUID the lookup tried.
func nodeVMNotFound(node, providerID, systemUUID, datacenter string, err error) Finding {
	var tried []string
	if uuid, ok := strings.CutPrefix(providerID, "vsphere://"); ok && uuid != "" {
		tried = append(tried, fmt.Sprintf("BIOS UUID %s (spec.providerID %s)", uuid, providerID))
	} else if providerID != "" {
		tried = append(tried, fmt.Sprintf("no UUID in spec.providerID %q (not vsphere://)", providerID))
	} else {
		tried = append(tried, "no spec.providerID")
	}
	if systemUUID != "" {
		tried = append(tried, fmt.Sprintf("BIOS UUID %s (status.nodeInfo.systemUUID)", systemUUID))
	}
	tried = append(tried, fmt.Sprintf("VM name %s", node))
	return RuleNodeVMNotFound.finding("node "+node,
		"node %s has no VM in datacenter %s; looked for %s: %v", node, datacenter, strings.Join(tried, ", then "), err)
}
