// Package migration holds the conformance specs of in-tree vSphere volumes
// (the vSphere Cloud Provider's kubernetes.io/vsphere-volume, "VCP") served
// by the vSphere CSI driver after CSI migration: legacy vmdks keep their
// path and become CNS volumes, in-tree StorageClasses and manifests keep
// working. Every spec checks Kubernetes and vCenter.
package migration

const (
	driverName    = "csi.vsphere.vmware.com"
	inTreePlugin  = "kubernetes.io/vsphere-volume"
	annProvidedBy = "pv.kubernetes.io/provisioned-by"
	annMigratedTo = "pv.kubernetes.io/migrated-to"
)
