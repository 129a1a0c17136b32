package preflight

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// minVCenter is the oldest vCenter the vSphere CSI driver v3.3.x connects
// to: 6.7 Update 3, whose API version is 6.7.3.
//
// Documentation: "vSphere CSI Driver - Prerequisites", section "Compatible
// vSphere and ESXi versions" ("VMware's Cloud Native Storage (CNS) solution
// is delivered on vSphere version 6.7U3 and above. The volume driver ...
// only connects to vSphere 6.7U3 and above"),
// https://docs.vmware.com/en/VMware-vSphere-Container-Storage-Plug-in/3.0/vmware-vsphere-csp-getting-started/GUID-0AB6E692-AA47-4B6A-8CEA-38B754E16567.html
// (upstream copy: https://github.com/kubernetes-sigs/vsphere-csi-driver/blob/master/docs/book/driver-deployment/prerequisites.md).
// The driver enforces the same floor: v3.3.1's controller refuses to start
// when ServiceContent.About.ApiVersion is below MinSupportedVCenterMajor.
// Minor.Patch = 6.7.3 (pkg/csi/service/common/constants.go, checked by
// CheckAPI in common_controller_helper.go).
var minVCenter = [3]int{6, 7, 3}

// checkVCenterVersion: the vCenter the target connects to is a vCenter
// Server (CNS lives there, not on ESXi) at or above minVCenter.
func checkVCenterVersion(_ context.Context, e *env) []Finding {
	const what = "vcenter version"
	if e.t.VC == nil || e.t.VC.Client == nil {
		return []Finding{notRun(what, "", errNoVCenter)}
	}
	about := e.t.VC.ServiceContent.About
	object := about.FullName
	if object == "" {
		object = "vCenter"
	}
	if about.ApiType != "" && about.ApiType != "VirtualCenter" {
		return []Finding{RuleVCenterVersion.finding(object,
			"the target's vSphere endpoint is %s (apiType %s), not a vCenter Server; the CSI driver needs vCenter %s or later",
			about.FullName, about.ApiType, versionString(minVCenter))}
	}
	// The driver compares ApiVersion ("6.7.3", "8.0.3.0"); Version ("8.0.3")
	// is the fallback for an endpoint that leaves it empty.
	reported, field := about.ApiVersion, "apiVersion"
	if reported == "" {
		reported, field = about.Version, "version"
	}
	v, err := parseVersion(reported)
	if err != nil {
		return []Finding{notRun(what, object, fmt.Errorf("vCenter reports About.%s %q: %w", field, reported, err))}
	}
	if compareVersions(v, minVCenter) < 0 {
		return []Finding{RuleVCenterVersion.finding(object,
			"vCenter reports %s %s (version %s); the vSphere CSI driver v3.3 needs vCenter %s (6.7 Update 3) or later",
			field, reported, about.Version, versionString(minVCenter))}
	}
	return nil
}

// parseVersion reads "X.Y" or "X.Y.Z[.W]" into major, minor, patch (a
// missing patch is 0).
func parseVersion(s string) ([3]int, error) {
	var v [3]int
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return v, fmt.Errorf("not a version X.Y[.Z]")
	}
	for i := 0; i < len(parts) && i < 3; i++ {
		n, err := strconv.Atoi(parts[i])
		if err != nil || n < 0 {
			return v, fmt.Errorf("not a version X.Y[.Z]")
		}
		v[i] = n
	}
	return v, nil
}

func compareVersions(a, b [3]int) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

func versionString(v [3]int) string { return fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2]) }
