// Package csi holds the conformance specs of the vSphere CSI driver: block
// volumes (CNS, first-class disks, SPBM policies), file volumes, snapshots,
// expansion, topology and attach limits. One feature per file; every spec
// checks what Kubernetes shows and what vCenter shows.
//
// To add a check, write one file here with a Describe labelled
// labels.CSI plus its feature label, get the target with target.Current(),
// and create objects through the target so they are cleaned up.
package csi

// driverName is the CSI driver under test.
const driverName = "csi.vsphere.vmware.com"
