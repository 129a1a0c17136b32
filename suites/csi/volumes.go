package csi

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/vim25/types"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// Helpers shared by the csi specs: each waits with a bound and fails the
// spec with what it saw.

// boundVolume waits for the claim to be Bound to a PV of the vSphere CSI
// driver and returns the claim, its PV and the CNS volume behind it.
func boundVolume(ctx SpecContext, t *target.Target, ns, claim string) (*corev1.PersistentVolumeClaim, *corev1.PersistentVolume, *cnstypes.CnsVolume) {
	GinkgoHelper()
	pvc, err := t.WaitForPVCBound(ctx, ns, claim)
	Expect(err).NotTo(HaveOccurred())
	pv, err := t.Kube.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	Expect(pv.Spec.CSI).NotTo(BeNil(), "PV %s is not a CSI volume", pv.Name)
	Expect(pv.Spec.CSI.Driver).To(Equal(driverName))
	id := pv.Spec.CSI.VolumeHandle
	Expect(id).NotTo(BeEmpty(), "PV %s has no volume handle", pv.Name)
	vol, err := t.CNSVolume(ctx, id)
	Expect(err).NotTo(HaveOccurred())
	Expect(vol).NotTo(BeNil(), "CNS has no volume %s (PV %s)", id, pv.Name)
	return pvc, pv, vol
}

// cnsCapacityMB is a CNS volume's capacity as CNS reports it.
func cnsCapacityMB(vol *cnstypes.CnsVolume) int64 {
	GinkgoHelper()
	mb, err := cnsCapacity(vol)
	Expect(err).NotTo(HaveOccurred())
	return mb
}

// cnsCapacity is cnsCapacityMB for polls: an error, not a failure, so
// Eventually retries.
func cnsCapacity(vol *cnstypes.CnsVolume) (int64, error) {
	if vol == nil || vol.BackingObjectDetails == nil {
		return 0, fmt.Errorf("CNS volume has no backing details: %+v", vol)
	}
	return vol.BackingObjectDetails.GetCnsBackingObjectDetails().CapacityInMb, nil
}

// fcdCapacity is an FCD's capacity in MiB, for polls.
func fcdCapacity(ctx context.Context, t *target.Target, id string) (int64, error) {
	fcd, err := t.FCD(ctx, id)
	if err != nil {
		return 0, err
	}
	if fcd == nil {
		return 0, fmt.Errorf("no first-class disk %s in vCenter", id)
	}
	return fcd.Config.CapacityInMB, nil
}

// mustFCD returns the first-class disk behind a volume, failing if none.
func mustFCD(ctx SpecContext, t *target.Target, id string) *types.VStorageObject {
	GinkgoHelper()
	fcd, err := t.FCD(ctx, id)
	Expect(err).NotTo(HaveOccurred())
	Expect(fcd).NotTo(BeNil(), "no first-class disk %s in vCenter", id)
	return fcd
}

// expectFCDGone waits (bounded) until the first-class disk is deleted.
func expectFCDGone(ctx SpecContext, t *target.Target, id string) {
	GinkgoHelper()
	Eventually(func(ctx SpecContext) (*types.VStorageObject, error) {
		return t.FCD(ctx, id)
	}).WithContext(ctx).WithTimeout(time.Minute).Should(BeNil(), "FCD %s still exists", id)
}

// runPodOn starts a pod that mounts claim and waits until its volume is
// attached (VolumeAttachment attached and the disk on the node's VM). It
// returns the pod's node name.
func runPodOn(ctx SpecContext, t *target.Target, ns, podName, claim string, pv *corev1.PersistentVolume) string {
	GinkgoHelper()
	pod := t.CreatePod(ctx, ns, target.NewPod(podName, claim))
	// vCenter's side first: a disk on the wrong VM (or none) leaves a real
	// node's pod waiting for its device, which says less.
	node := scheduledNode(ctx, t, ns, pod.Name)
	expectAttached(ctx, t, pv, node)
	_, err := t.WaitForPodRunning(ctx, ns, pod.Name)
	Expect(err).NotTo(HaveOccurred())
	return node
}

// expectAttached checks both sides of an attach: the VolumeAttachment and
// the VirtualDisk with VDiskId = volume ID on the node's VM.
func expectAttached(ctx SpecContext, t *target.Target, pv *corev1.PersistentVolume, node string) *storagev1.VolumeAttachment {
	GinkgoHelper()
	va, err := t.WaitForVolumeAttachment(ctx, pv.Name, node, true)
	Expect(err).NotTo(HaveOccurred())
	vm, err := t.VMByName(ctx, node)
	Expect(err).NotTo(HaveOccurred())
	Expect(attachedDiskIDs(ctx, t, vm)).To(ContainElement(pv.Spec.CSI.VolumeHandle),
		"VM %s has no disk backed by FCD %s", node, pv.Spec.CSI.VolumeHandle)
	return va
}

// deletePodAndWaitDetached deletes a pod and waits until its volume is
// detached on both sides.
func deletePodAndWaitDetached(ctx SpecContext, t *target.Target, ns, podName string, pv *corev1.PersistentVolume, node string) {
	GinkgoHelper()
	Expect(t.Kube.CoreV1().Pods(ns).Delete(ctx, podName, metav1.DeleteOptions{})).To(Succeed())
	Expect(t.WaitForPodDeleted(ctx, ns, podName)).To(Succeed())
	_, err := t.WaitForVolumeAttachment(ctx, pv.Name, node, false)
	Expect(err).NotTo(HaveOccurred())
	vm, err := t.VMByName(ctx, node)
	Expect(err).NotTo(HaveOccurred())
	Expect(attachedDiskIDs(ctx, t, vm)).NotTo(ContainElement(pv.Spec.CSI.VolumeHandle),
		"VM %s still has FCD %s after detach", node, pv.Spec.CSI.VolumeHandle)
}

// attachedAnywhere names every VM that holds a disk backed by this FCD,
// whether or not it is a node's: other specs' nodes come and go meanwhile,
// and a disk left on a VM no Node names is still a wrong attachment.
func attachedAnywhere(ctx SpecContext, t *target.Target, id string) []string {
	GinkgoHelper()
	vms, err := t.VMsWithDisk(ctx, id)
	Expect(err).NotTo(HaveOccurred())
	return vms
}

// vmNameOf names the VM of a node, found as the driver finds it.
func vmNameOf(ctx SpecContext, t *target.Target, node string) string {
	GinkgoHelper()
	n, err := t.Kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	vm, err := t.VMForNode(ctx, n)
	Expect(err).NotTo(HaveOccurred(), "VM of node %s", node)
	name, err := vm.ObjectName(ctx)
	Expect(err).NotTo(HaveOccurred())
	return name
}

// afterFullSync runs check again after a full sync of the CSI syncer, where
// the target can trigger one (capability fullSyncTrigger): a window of
// seconds that saw nothing wrong says nothing of the periodic full sync
// that comes minutes later.
func afterFullSync(ctx SpecContext, t *target.Target, check func()) {
	GinkgoHelper()
	if !t.Config.Capabilities.FullSyncTrigger {
		return
	}
	By("running a full sync of the CSI syncer, then checking again")
	Expect(t.TriggerFullSync(ctx)).To(Succeed())
	check()
}
