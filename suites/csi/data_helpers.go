package csi

import (
	"fmt"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vmware/govmomi/object"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/utils/ptr"

	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// Helpers of the data specs (capability dataPath): pods that write and read
// volumes and say what they found.

// dataStorageClass is a class of the requested policy and fstype ("" for
// the driver's default) that binds at the first consumer, so the volume is
// placed where the data pod can run (a real node's zone).
func dataStorageClass(ctx SpecContext, t *target.Target, fsType string, expandable bool) *storagev1.StorageClass {
	GinkgoHelper()
	class := target.StorageClassForPolicy(requestedPolicy(t))
	if fsType != "" {
		class.Parameters["csi.storage.k8s.io/fstype"] = fsType
	}
	class.VolumeBindingMode = ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)
	if expandable {
		class.AllowVolumeExpansion = ptr.To(true)
	}
	return t.CreateStorageClass(ctx, class)
}

// runData runs a data pod to its end and fails the spec, quoting the pod's
// output, unless it exited 0.
func runData(ctx SpecContext, t *target.Target, ns, name, node, script string, vols ...target.DataVolume) target.DataResult {
	GinkgoHelper()
	res, err := t.RunDataPod(ctx, ns, t.NewDataPod(name, node, script, vols...))
	Expect(err).NotTo(HaveOccurred())
	return res
}

// expectPayload checks that a ReadScript's output shows the payload's bytes
// at path, naming what was found otherwise.
func expectPayload(res target.DataResult, path string, want target.Payload, what string) {
	GinkgoHelper()
	Expect(res.CheckPayload(path, want, what)).To(Succeed())
}

// mountLine is the script that prints the /proc/mounts entry of a mount
// point: "DEVICE MOUNTPOINT FSTYPE OPTIONS ...".
func mountLine(path string) string {
	return fmt.Sprintf("echo \"mount: $(grep ' %s ' /proc/mounts)\"\n", path)
}

// mountedFSType reads the filesystem type of a mountLine's output.
func mountedFSType(output string) string {
	for _, line := range strings.Split(output, "\n") {
		if v, ok := strings.CutPrefix(line, "mount: "); ok {
			if f := strings.Fields(v); len(f) >= 3 {
				return f[2]
			}
		}
	}
	return ""
}

// fsSizeScript prints the size in bytes of the filesystem at path
// (busybox df -k: blocks of 1 KiB in the second column).
func fsSizeScript(path string) string {
	return fmt.Sprintf("echo \"fs size: $(( $(df -k %s | tail -n 1 | awk '{print $2}') * 1024 ))\"\n", path)
}

// fsSize reads what fsSizeScript printed; -1 when absent.
func fsSize(output string) int64 {
	for _, line := range strings.Split(output, "\n") {
		if v, ok := strings.CutPrefix(line, "fs size: "); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return n
			}
		}
	}
	return -1
}

// mustVM finds the VM of a node.
func mustVM(ctx SpecContext, t *target.Target, node string) *object.VirtualMachine {
	GinkgoHelper()
	vm, err := t.VMByName(ctx, node)
	Expect(err).NotTo(HaveOccurred(), "VM of node %s", node)
	return vm
}
