package csi

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// What vCenter really does to its clients, injected through the target's
// fault endpoint (capability faultInjection): a CNS call that fails, a
// restart that ends every session, a period without answers, slow CNS.
// Each spec proves its fault hit before it judges the recovery, so a fault
// that never fired cannot pass for one survived. Serial: a fault hits every
// client of vCenter, other specs' too.
var _ = Describe("Recovery of the vSphere CSI driver from vCenter faults", Serial, Label(labels.CSI, labels.Disruptive), func() {
	var (
		t  *target.Target
		ns string
		sc string
	)

	BeforeEach(func(ctx SpecContext) {
		t = target.Current()
		t.Require(target.BlockVolumes, target.FaultInjection)
		ns = t.CreateNamespace(ctx, "csi-faults").Name
		sc = t.CreateStorageClass(ctx, target.StorageClassForPolicy(requestedPolicy(t))).Name
	})

	It("binds a claim whose first CNS create failed, with exactly one CNS volume and one FCD", labels.Catches("create-leaves-stray-fcd"), func(ctx SpecContext) {
		before := inventory(ctx, t)
		rule := t.InjectFault(ctx, target.FaultRule{Method: "CnsCreateVolume", Fault: "SystemError", Times: 1,
			Message: "vsconform: transient CNS create fault"})

		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc, "1Gi"))
		claim, err := t.WaitForPVCBound(ctx, ns, claim.Name)
		Expect(err).NotTo(HaveOccurred())
		Expect(t.FaultHits(ctx, rule.ID)).To(BeNumerically("==", 1), "the CNS create fault never fired: the spec proved nothing")

		volumeID := volumeHandle(ctx, t, claim)
		after := inventory(ctx, t)
		Expect(before.Leaked(after).IDsOf(target.KindCNSVolume)).To(ConsistOf(volumeID), "CNS volumes created for one claim")
		Expect(before.Leaked(after).IDsOf(target.KindFCD)).To(ConsistOf(volumeID), "FCDs created for one claim")
	}, SpecTimeout(4*time.Minute))

	// Finding (README): the driver v3.3.1 records the failed task as an
	// error and creates anew; the first volume stays, an orphan.
	It("binds a claim whose CNS create task failed after it had made the volume, and leaves no orphan CNS volume or FCD", Label(labels.Finding), func(ctx SpecContext) {
		before := inventory(ctx, t)
		message := "vsconform: CNS create task result lost " + rand.String(8)
		rule := t.InjectFault(ctx, target.FaultRule{Method: "CnsCreateVolume", Object: "CnsVolumeManager", Fault: "SystemError",
			Message: message, Times: 1, AfterRun: true})

		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc, "1Gi"))
		claim, err := t.WaitForPVCBound(ctx, ns, claim.Name)
		Expect(err).NotTo(HaveOccurred())
		Expect(t.FaultHits(ctx, rule.ID)).To(BeNumerically("==", 1), "the failed-after-work fault never fired: the spec proved nothing")
		Expect(eventMessages(ctx, t, ns, "PersistentVolumeClaim", claim.Name, "ProvisioningFailed")).
			To(ContainElement(ContainSubstring(message)), "the driver did not report the failed CNS task")

		// The failed task made a volume; the driver's retry must reuse it
		// or remove it: one claim, one CNS volume, one FCD.
		volumeID := volumeHandle(ctx, t, claim)
		after := inventory(ctx, t)
		// What the claim does not own is removed with the spec, found or not.
		for _, id := range before.Leaked(after).IDsOf(target.KindCNSVolume) {
			if id != volumeID {
				DeferCleanup(t.DeleteVolumeAndDisk, id)
			}
		}
		Expect(before.Leaked(after).IDsOf(target.KindCNSVolume)).To(ConsistOf(volumeID), "CNS volumes left for one claim after a create task failed after its work")
		Expect(before.Leaked(after).IDsOf(target.KindFCD)).To(ConsistOf(volumeID), "FCDs left for one claim after a create task failed after its work")
	}, SpecTimeout(4*time.Minute))

	It("leaves a claim Pending with an event naming a persistent CNS create fault, creates nothing, and binds once it is lifted", Label(labels.Negative), func(ctx SpecContext) {
		before := inventory(ctx, t)
		message := "vsconform injected fault " + rand.String(8)
		rule := t.InjectFault(ctx, target.FaultRule{Method: "CnsCreateVolume", Fault: "SystemError", Message: message})

		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc, "1Gi"))
		Eventually(func(ctx SpecContext) ([]string, error) {
			return eventMessages(ctx, t, ns, "PersistentVolumeClaim", claim.Name, "ProvisioningFailed")
		}).WithContext(ctx).WithTimeout(2*time.Minute).Should(ContainElement(ContainSubstring(message)),
			"no ProvisioningFailed event carries the fault's message %q", message)
		Expect(t.FaultHits(ctx, rule.ID)).To(BeNumerically(">=", 1))

		got, err := t.Kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim.Name, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Status.Phase).To(Equal(corev1.ClaimPending))
		during := inventory(ctx, t)
		Expect(before.Leaked(during).IDsOf(target.KindCNSVolume)).To(BeEmpty(), "CNS volumes created while every create failed")
		Expect(before.Leaked(during).IDsOf(target.KindFCD)).To(BeEmpty(), "FCDs created while every create failed")

		By("lifting the fault: the claim binds to one new volume")
		Expect(t.RemoveFault(ctx, rule.ID)).To(Succeed())
		got, err = t.WaitForPVCBound(ctx, ns, claim.Name)
		Expect(err).NotTo(HaveOccurred())
		volumeID := volumeHandle(ctx, t, got)
		after := inventory(ctx, t)
		Expect(before.Leaked(after).IDsOf(target.KindCNSVolume)).To(ConsistOf(volumeID))
		Expect(before.Leaked(after).IDsOf(target.KindFCD)).To(ConsistOf(volumeID))
	}, SpecTimeout(6*time.Minute))

	It("attaches a volume whose attach began while vCenter stopped answering for 30 s, with one disk on the VM", func(ctx SpecContext) {
		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc, "1Gi"))
		claim, err := t.WaitForPVCBound(ctx, ns, claim.Name)
		Expect(err).NotTo(HaveOccurred())
		volumeID := volumeHandle(ctx, t, claim)

		const outage = 30 * time.Second
		Expect(t.VCenterOutage(ctx, outage)).To(Succeed())
		start := time.Now()
		pod := t.CreatePod(ctx, ns, target.NewPod("app", claim.Name))
		node := scheduledNode(ctx, t, ns, pod.Name)

		_, err = t.WaitForVolumeAttachment(ctx, claim.Spec.VolumeName, node, true)
		Expect(err).NotTo(HaveOccurred())
		// The attach-detach controller took the outage's errors as final;
		// until its next retry sees the VolumeAttachment attached it does
		// not count the volume as attached, and a pod deleted before then
		// leaves the attachment behind for good (it detaches only what it
		// recorded). Kubernetes has the volume once the node lists it.
		waitNodeVolumeAttached(ctx, t, node, volumeID)
		took := time.Since(start)
		AddReportEntry("attach through a 30 s vCenter outage", took.Round(time.Second).String())
		Expect(took).To(BeNumerically(">=", outage-5*time.Second),
			"attached %s after the outage began: vCenter was not down (the fault endpoint did nothing)", took.Round(time.Second))

		vm, err := t.VMByName(ctx, node)
		Expect(err).NotTo(HaveOccurred())
		disks := attachedDiskIDs(ctx, t, vm)
		Expect(countOf(disks, volumeID)).To(Equal(1), "VM %s disks %v: want FCD %s exactly once", node, disks, volumeID)
	}, SpecTimeout(6*time.Minute))

	It("logs in again after vCenter ended every session: a new claim binds and a new node initialises", func(ctx SpecContext) {
		ended, err := t.InvalidateSessions(ctx)
		Expect(err).NotTo(HaveOccurred())
		// The harness's own session is one; the driver's and the CPI's are others.
		Expect(ended.SOAP).To(BeNumerically(">", 1), "vCenter ended %d SOAP sessions: the driver's were not among them", ended.SOAP)

		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc, "1Gi"))
		claim, err = t.WaitForPVCBound(ctx, ns, claim.Name)
		Expect(err).NotTo(HaveOccurred())
		volumeID := volumeHandle(ctx, t, claim)
		volume, err := t.CNSVolume(ctx, volumeID)
		Expect(err).NotTo(HaveOccurred())
		Expect(volume).NotTo(BeNil(), "CNS has no volume %s", volumeID)

		if !t.Config.Capabilities.Has(target.FakeNodes) {
			return // a real cluster's nodes are not the harness's to add
		}
		By("registering a node for a new VM: the CPI, logged out too, initialises it")
		name := "vsconform-relogin-" + rand.String(5)
		folders, err := t.Datacenter.Folders(ctx)
		Expect(err).NotTo(HaveOccurred())
		pool := t.NodePool(ctx)
		_, uuid := t.CreateNodeVM(ctx, target.NodeVMSpec{Name: name, IP: "198.51.100.251", Folder: folders.VmFolder, Pool: pool})
		t.RegisterFakeNode(ctx, name, uuid, nil)
		err = target.WaitFor(ctx, "the CPI to initialise node "+name, 2*time.Minute, func(ctx context.Context) (bool, string, error) {
			n, err := t.Kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error(), nil
			}
			tainted := slices.ContainsFunc(n.Spec.Taints, func(tn corev1.Taint) bool { return tn.Key == target.TaintUninitialized })
			return !tainted && n.Spec.ProviderID != "", fmt.Sprintf("providerID %q, uninitialised taint %v", n.Spec.ProviderID, tainted), nil
		})
		Expect(err).NotTo(HaveOccurred())
	}, SpecTimeout(5*time.Minute))

	It("shows a failing CNS detach on the VolumeAttachment, keeps the disk on the VM, and detaches once the fault is lifted", func(ctx SpecContext) {
		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc, "1Gi"))
		claim, err := t.WaitForPVCBound(ctx, ns, claim.Name)
		Expect(err).NotTo(HaveOccurred())
		volumeID := volumeHandle(ctx, t, claim)
		pod := t.CreatePod(ctx, ns, target.NewPod("app", claim.Name))
		node := scheduledNode(ctx, t, ns, pod.Name)
		_, err = t.WaitForVolumeAttachment(ctx, claim.Spec.VolumeName, node, true)
		Expect(err).NotTo(HaveOccurred())
		waitNodeVolumeAttached(ctx, t, node, volumeID)
		vm, err := t.VMByName(ctx, node)
		Expect(err).NotTo(HaveOccurred())

		message := "vsconform injected detach fault " + rand.String(8)
		rule := t.InjectFault(ctx, target.FaultRule{Method: "CnsDetachVolume", Fault: "SystemError", Message: message})
		Expect(t.Kube.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{})).To(Succeed())
		Expect(t.WaitForPodDeleted(ctx, ns, pod.Name)).To(Succeed())

		By("the VolumeAttachment carries the detach error while the disk stays on the VM")
		err = target.WaitFor(ctx, "the VolumeAttachment of "+claim.Spec.VolumeName+" to show the detach fault", 3*time.Minute, func(ctx context.Context) (bool, string, error) {
			vas, err := t.Kube.StorageV1().VolumeAttachments().List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err.Error(), nil
			}
			for _, va := range vas.Items {
				if va.Spec.Source.PersistentVolumeName == nil || *va.Spec.Source.PersistentVolumeName != claim.Spec.VolumeName {
					continue
				}
				if e := va.Status.DetachError; e != nil {
					return strings.Contains(e.Message, message), "detachError " + e.Message, nil
				}
				return false, fmt.Sprintf("attached %v, no detachError", va.Status.Attached), nil
			}
			return false, "", fmt.Errorf("the VolumeAttachment of %s is gone: it detached through the fault", claim.Spec.VolumeName)
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(t.FaultHits(ctx, rule.ID)).To(BeNumerically(">=", 1))
		Expect(attachedDiskIDs(ctx, t, vm)).To(ContainElement(volumeID), "VM %s lost FCD %s while every detach failed", node, volumeID)

		By("lifting the fault: the volume detaches and the disk leaves the VM")
		Expect(t.RemoveFault(ctx, rule.ID)).To(Succeed())
		_, err = t.WaitForVolumeAttachment(ctx, claim.Spec.VolumeName, node, false)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(ctx SpecContext) ([]string, error) {
			disks, err := t.AttachedDisks(ctx, vm)
			return target.DiskIDs(disks), err
		}).WithContext(ctx).WithTimeout(time.Minute).
			ShouldNot(ContainElement(volumeID), "VM %s still has FCD %s after the detach", node, volumeID)
	}, SpecTimeout(8*time.Minute))

	It("completes a claim's lifecycle with every CNS call 2 s slow", func(ctx SpecContext) {
		rule := t.InjectFault(ctx, target.FaultRule{Method: "*", Object: "CnsVolumeManager", Delay: target.Duration(2 * time.Second)})
		start := time.Now()
		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc, "1Gi"))
		claim, err := t.WaitForPVCBound(ctx, ns, claim.Name)
		Expect(err).NotTo(HaveOccurred())
		bound := time.Since(start)
		volumeID := volumeHandle(ctx, t, claim)

		Expect(t.Kube.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, claim.Name, metav1.DeleteOptions{})).To(Succeed())
		Expect(t.WaitForPVDeleted(ctx, claim.Spec.VolumeName)).To(Succeed())
		_, err = t.WaitForCNSVolume(ctx, volumeID, false)
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("claim bound with 2 s CNS latency", bound.Round(100*time.Millisecond).String())
		AddReportEntry("claim created and deleted with 2 s CNS latency", time.Since(start).Round(100*time.Millisecond).String())
		Expect(t.FaultHits(ctx, rule.ID)).To(BeNumerically(">=", 2), "the latency rule slowed fewer than the create and the delete")
	}, SpecTimeout(5*time.Minute))
})

// inventory is the target's leak inventory, or a failed spec.
func inventory(ctx context.Context, t *target.Target) target.Inventory {
	GinkgoHelper()
	inv, err := t.Inventory(ctx)
	Expect(err).NotTo(HaveOccurred())
	return inv
}

// volumeHandle is the CSI volume handle (the CNS volume ID) of a bound claim's PV.
func volumeHandle(ctx context.Context, t *target.Target, claim *corev1.PersistentVolumeClaim) string {
	GinkgoHelper()
	pv, err := t.Kube.CoreV1().PersistentVolumes().Get(ctx, claim.Spec.VolumeName, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	Expect(pv.Spec.CSI).NotTo(BeNil(), "PV %s is not a CSI volume", pv.Name)
	return pv.Spec.CSI.VolumeHandle
}

func countOf(ids []string, id string) int {
	n := 0
	for _, v := range ids {
		if v == id {
			n++
		}
	}
	return n
}

// scheduledNode waits for the pod to be scheduled and returns its node.
func scheduledNode(ctx context.Context, t *target.Target, ns, name string) string {
	GinkgoHelper()
	var node string
	err := target.WaitFor(ctx, fmt.Sprintf("pod %s/%s to be scheduled", ns, name), time.Minute, func(ctx context.Context) (bool, string, error) {
		pod, err := t.Kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		node = pod.Spec.NodeName
		return node != "", "phase " + string(pod.Status.Phase), nil
	})
	Expect(err).NotTo(HaveOccurred())
	return node
}

// waitNodeVolumeAttached waits until the attach-detach controller records
// the CSI volume as attached to the node (node.status.volumesAttached).
func waitNodeVolumeAttached(ctx context.Context, t *target.Target, node, volumeHandle string) {
	GinkgoHelper()
	want := corev1.UniqueVolumeName("kubernetes.io/csi/" + driverName + "^" + volumeHandle)
	err := target.WaitFor(ctx, fmt.Sprintf("node %s to list volume %s as attached", node, volumeHandle), 3*time.Minute, func(ctx context.Context) (bool, string, error) {
		n, err := t.Kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		var names []string
		for _, v := range n.Status.VolumesAttached {
			if v.Name == want {
				return true, "", nil
			}
			names = append(names, string(v.Name))
		}
		return false, fmt.Sprintf("volumesAttached %v", names), nil
	})
	Expect(err).NotTo(HaveOccurred())
}
