package preflight

import (
	"fmt"
	"slices"

	"github.com/vmware/govmomi/vim25/types"
)

// role is a vCenter role the CSI driver's documentation asks for, with its
// documented privilege IDs (as `govc role.ls ROLE` lists them).
type role struct {
	Name       string
	Privileges []string
}

// The documented roles.
//
// Documentation: "vSphere CSI Driver - Prerequisites", section "vSphere
// Roles and Privileges" (table "Role / Privileges for the role / Required
// on"),
// https://docs.vmware.com/en/VMware-vSphere-Container-Storage-Plug-in/3.0/vmware-vsphere-csp-getting-started/GUID-0AB6E692-AA47-4B6A-8CEA-38B754E16567.html
// (upstream copy: https://github.com/kubernetes-sigs/vsphere-csi-driver/blob/master/docs/book/driver-deployment/prerequisites.md).
// The driver v3.3.1 itself asks the AuthorizationManager for
// Datastore.FileManagement + System.Read on datastores and
// Host.Config.Storage on clusters (pkg/csi/service/common/authmanager.go).
var (
	// Required on the shared datastores where volumes are provisioned.
	roleCNSDatastore = role{"CNS-DATASTORE", []string{"Datastore.FileManagement", "System.Anonymous", "System.Read", "System.View"}}
	// Required on vSAN file service enabled clusters, for file volumes only.
	roleCNSHostConfigStorage = role{"CNS-HOST-CONFIG-STORAGE", []string{"Host.Config.Storage", "System.Anonymous", "System.Read", "System.View"}}
	// Required on all node VMs.
	roleCNSVM = role{"CNS-VM", []string{"System.Anonymous", "System.Read", "System.View", "VirtualMachine.Config.AddExistingDisk", "VirtualMachine.Config.AddRemoveDevice"}}
	// Required on the root vCenter Server.
	roleCNSSearchAndSPBM = role{"CNS-SEARCH-AND-SPBM", []string{"Cns.Searchable", "StorageProfile.View", "System.Anonymous", "System.Read", "System.View"}}
	// Built into vCenter; required on the node VMs' ancestors (host,
	// cluster, datacenter) for zones and topology, and to find the shared
	// datastores.
	roleReadOnly = role{"ReadOnly", []string{"System.Anonymous", "System.Read"}}
)

// checked are the role's privileges worth asking about. System.Anonymous
// and System.View are system privileges every role includes, granted
// wherever the user holds any role; where it holds none, System.Read is
// missing too, and one finding says so.
func (r role) checked() []string {
	return slices.DeleteFunc(slices.Clone(r.Privileges), func(p string) bool {
		return p == "System.Anonymous" || p == "System.View"
	})
}

// entity is a vSphere object privileges are asked about.
type entity struct {
	Ref  types.ManagedObjectReference
	Name string
}

// privilegeRequest is one role required on one kind of object.
type privilegeRequest struct {
	Kind     string // "datastore", "node VM", ...: singular, for messages
	Role     role
	Why      string // what the driver needs it for
	Entities []entity
	// SkipsWithout: the driver uses only the entities that have the
	// privilege and skips the rest (shared datastores without
	// Datastore.FileManagement, since CSI v2.2.0), so missing on some is a
	// warning and missing on all an error.
	SkipsWithout bool
}

// privilegeAnswer is the AuthorizationManager's answer to one request
// (HasUserPrivilegeOnEntities: one EntityPrivilege per entity).
type privilegeAnswer struct {
	Request privilegeRequest
	Answers []types.EntityPrivilege
}

// evaluatePrivileges turns the answers into findings: one per missing
// privilege per request (kind of object), naming up to three of the objects
// that lack it. An entity or privilege the answer leaves out counts as not
// granted.
func evaluatePrivileges(user string, answers []privilegeAnswer) []Finding {
	var out []Finding
	for _, a := range answers {
		granted := map[types.ManagedObjectReference]map[string]bool{}
		for _, ep := range a.Answers {
			m := granted[ep.Entity]
			if m == nil {
				m = map[string]bool{}
				granted[ep.Entity] = m
			}
			for _, pa := range ep.PrivAvailability {
				m[pa.PrivId] = m[pa.PrivId] || pa.IsGranted
			}
		}
		r := a.Request
		for _, priv := range r.Role.checked() {
			var missing []string
			for _, ent := range r.Entities {
				if !granted[ent.Ref][priv] {
					missing = append(missing, ent.Name)
				}
			}
			if len(missing) == 0 {
				continue
			}
			rule := RulePrivilegeMissing
			if r.SkipsWithout && len(missing) < len(r.Entities) {
				rule = RulePrivilegePartial
			}
			where := fmt.Sprintf("%s %s", r.Kind, missing[0])
			if len(r.Entities) > 1 {
				where = fmt.Sprintf("%d of %d %ss: %s", len(missing), len(r.Entities), r.Kind, listNames(missing))
			}
			out = append(out, rule.finding(r.Kind+" "+listNames(missing),
				"user %q lacks %s (role %s) on %s; %s", user, priv, r.Role.Name, where, r.Why))
		}
	}
	return out
}
