package preflight

import "fmt"

// Rule is one kind of finding: its stable ID, a short name, the severity
// and how to fix it.
type Rule struct {
	ID       string
	Name     string
	Severity Severity
	Fix      string
}

// Rules, in ID order. IDs never change meaning; new rules get new IDs.
var (
	RuleCheckNotRun = Rule{"PF000", "check-not-run", SeverityError,
		"give the configured vCenter user read access (the ReadOnly role, propagated, on the vCenter root) and the harness the Kubernetes read access it needs, fix the connection named in the message, then run the preflight again: an unchecked prerequisite is not a met one"}

	RuleVCenterVersion = Rule{"PF001", "vcenter-version-unsupported", SeverityError,
		"upgrade vCenter Server (and its ESXi hosts to the same release) to at least the minimum in the message; the vSphere CSI driver connects only to a vCenter Server, never to an ESXi host directly"}

	RulePrivilegeMissing = Rule{"PF010", "privilege-missing", SeverityError,
		"create the documented role (CNS-DATASTORE, CNS-HOST-CONFIG-STORAGE, CNS-VM, CNS-SEARCH-AND-SPBM, or ReadOnly) with the privilege in the message and assign it to the CSI/CPI user on the objects named (vSphere Client: object > Permissions > Add; or govc role.create and govc permissions.set)"}
	RulePrivilegePartial = Rule{"PF011", "privilege-missing-on-some-datastores", SeverityWarning,
		"assign the CNS-DATASTORE role to the CSI user on every shared datastore that should hold volumes; the driver silently skips the datastores without Datastore.FileManagement when it places a volume"}

	RuleNodeVMNotFound = Rule{"PF020", "node-vm-not-found", SeverityError,
		"make the node's spec.providerID \"vsphere://<BIOS UUID>\" (set by the vSphere CPI) or status.nodeInfo.systemUUID name the BIOS UUID (config.uuid) of a VM in the configured datacenter; check vcenter.datacenter and that the CPI initialized the node"}
	RuleDiskEnableUUID = Rule{"PF021", "disk-enableuuid-not-set", SeverityError,
		"power the VM off and set disk.EnableUUID = TRUE (vSphere Client: Edit Settings > VM Options > Advanced > Edit Configuration; or govc vm.change -vm VM -e disk.enableUUID=TRUE), then power it on"}
	RuleHardwareVersion = Rule{"PF022", "vm-hardware-version-too-old", SeverityError,
		"power the VM off and upgrade its compatibility to at least the version in the message (vSphere Client: Compatibility > Upgrade VM Compatibility; or govc vm.upgrade -version=15 -vm VM)"}
	RuleSCSIController = Rule{"PF023", "scsi-controller-not-pvscsi", SeverityWarning,
		"use the VMware Paravirtual SCSI controller for the node VM's disks: add a VMware Paravirtual controller and move the disks to it (with the guest's pvscsi driver installed), or rebuild the VM from a template that has one"}

	RuleStoragePolicyMissing = Rule{"PF030", "storage-policy-missing", SeverityError,
		"create the VM storage policy in vCenter (Policies and Profiles > VM Storage Policies), or change the StorageClass parameter storagepolicyname (or the config's storage.policies) to an existing policy's exact name"}
	RuleDatastoreURLMissing = Rule{"PF031", "datastore-url-not-found", SeverityError,
		"set the StorageClass parameter datastoreurl to the URL of an existing datastore in the configured datacenter (vSphere Client: datastore > Summary > URL, e.g. ds:///vmfs/volumes/<id>/)"}
	RuleDatastoreNotMounted = Rule{"PF032", "datastore-not-mounted-on-node-hosts", SeverityError,
		"mount the datastore on the hosts named (or move the node VMs to hosts that mount it), or use a datastore shared by every node's host: a volume on it cannot attach to a node VM whose host does not mount it"}

	RuleTagCategoryMissing = Rule{"PF040", "tag-category-missing", SeverityError,
		"create the tag category the CPI's [Labels] names (e.g. govc tags.category.create -t HostSystem -t ClusterComputeResource -t Datacenter NAME), or correct cpi.zoneCategory / cpi.regionCategory to the existing category's exact name"}
	RuleTagCategoryEmpty = Rule{"PF041", "tag-category-without-tags", SeverityError,
		"create the zone/region tags in the category and attach them to the datacenters or clusters of the node VMs (govc tags.create -c k8s-zone zone-a; govc tags.attach -c k8s-zone zone-a /DC/host/cluster)"}
)

// AllRules lists every rule, for docs and tests.
var AllRules = []Rule{
	RuleCheckNotRun, RuleVCenterVersion, RulePrivilegeMissing, RulePrivilegePartial,
	RuleNodeVMNotFound, RuleDiskEnableUUID, RuleHardwareVersion, RuleSCSIController,
	RuleStoragePolicyMissing, RuleDatastoreURLMissing, RuleDatastoreNotMounted,
	RuleTagCategoryMissing, RuleTagCategoryEmpty,
}

// finding makes a Finding of rule r about object.
func (r Rule) finding(object, format string, args ...any) Finding {
	return Finding{ID: r.ID, Name: r.Name, Severity: r.Severity, Object: object, Message: fmt.Sprintf(format, args...), Fix: r.Fix}
}

// notRun is the finding of a check that could not read what it checks.
func notRun(check, object string, err error) Finding {
	return RuleCheckNotRun.finding(object, "%s: not checked: %v", check, err)
}
