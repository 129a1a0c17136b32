package csi

import (
	"fmt"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

var _ = Describe("Exclusive attachment of a ReadWriteOnce block volume", Label(labels.CSI, labels.Provisioning), func() {
	var (
		t  *target.Target
		ns string
	)

	BeforeEach(func(ctx SpecContext) {
		t = target.Current()
		t.Require(target.BlockVolumes)
		ns = t.CreateNamespace(ctx, "csi-attach-rwo").Name
	})

	It("keeps the disk on one node VM while a pod on a second node waits with a Multi-Attach error, and moves it to the second node's VM once the first pod is gone",
		labels.Catches("detach-leaves-disk", "attach-wrong-vm", "attach-adds-no-disk"), func(ctx SpecContext) {
			// Real nodes only: kwok runs a pod whatever its volume does, so
			// only a real kubelet shows the second pod waiting.
			x, y, terms := nodePairWhere(ctx, t, "type!=kwok")
			if x == nil {
				Skip(fmt.Sprintf("target %s has no two real (non-kwok) schedulable nodes in one topology segment: a second pod waiting for a volume held by another node needs them", t.Config.Name))
			}
			sc := target.NewStorageClass("vsconform-rwo", nil)
			sc.AllowedTopologies = terms // both nodes can reach the volume's datastore
			sc = t.CreateStorageClass(ctx, sc)
			claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc.Name, "1Gi", corev1.ReadWriteOnce))
			_, pv, vol := boundVolume(ctx, t, ns, claim.Name)
			id := vol.VolumeId.Id

			By(fmt.Sprintf("attaching the volume to node %s's VM for a first pod", x.Name))
			t.CreatePod(ctx, ns, pinnedPod("app-a", x, claim.Name))
			// vCenter's side first: on a real node a disk on the wrong VM
			// shows only as a pod that never runs.
			expectAttached(ctx, t, pv, x.Name)
			a, err := t.WaitForPodRunning(ctx, ns, "app-a")
			Expect(err).NotTo(HaveOccurred())
			Expect(a.Spec.NodeName).To(Equal(x.Name), "pod app-a runs on node %s, not on node %s it was pinned to", a.Spec.NodeName, x.Name)

			By(fmt.Sprintf("leaving a second pod of the claim on node %s waiting with a Multi-Attach error", y.Name))
			t.CreatePod(ctx, ns, pinnedPod("app-b", y, claim.Name))
			Eventually(func(ctx SpecContext) ([]string, error) {
				return eventMessages(ctx, t, ns, "Pod", "app-b", "FailedAttachVolume")
			}).WithContext(ctx).WithTimeout(time.Minute).Should(ContainElement(ContainSubstring("Multi-Attach error")),
				"no FailedAttachVolume event with a Multi-Attach error for pod app-b on node %s while the volume is attached to %s", y.Name, x.Name)

			By(fmt.Sprintf("attaching nothing to node %s, in Kubernetes or in vCenter, while node %s holds the volume", y.Name, x.Name))
			vmX, vmY := mustVM(ctx, t, x.Name), mustVM(ctx, t, y.Name)
			// A few seconds suffice: the attach-detach controller reconciles
			// every 100 ms, so an attach it let through shows within them;
			// a longer watch only slows the spec.
			Consistently(func(ctx SpecContext) error {
				b, err := t.Kube.CoreV1().Pods(ns).Get(ctx, "app-b", metav1.GetOptions{})
				if err != nil {
					return err
				}
				if b.Status.Phase != corev1.PodPending {
					return fmt.Errorf("pod app-b is %s on node %s while its ReadWriteOnce volume %s is attached to %s", b.Status.Phase, y.Name, id, x.Name)
				}
				vas, err := t.Kube.StorageV1().VolumeAttachments().List(ctx, metav1.ListOptions{})
				if err != nil {
					return err
				}
				for _, va := range vas.Items {
					if isVolumeAttachmentOf(va, pv.Name) && va.Spec.NodeName == y.Name && va.Status.Attached {
						return fmt.Errorf("VolumeAttachment %s attaches PV %s to node %s while it is attached to %s", va.Name, pv.Name, y.Name, x.Name)
					}
				}
				onY, err := t.AttachedDisks(ctx, vmY)
				if err != nil {
					return err
				}
				if slices.Contains(target.DiskIDs(onY), id) {
					return fmt.Errorf("VM %s has FCD %s while the volume is attached to %s: one RWO disk on two VMs", y.Name, id, x.Name)
				}
				onX, err := t.AttachedDisks(ctx, vmX)
				if err != nil {
					return err
				}
				if !slices.Contains(target.DiskIDs(onX), id) {
					return fmt.Errorf("VM %s lost FCD %s while pod app-a still uses it", x.Name, id)
				}
				return nil
			}).WithContext(ctx).WithTimeout(5*time.Second).WithPolling(time.Second).Should(Succeed(),
				"pod app-b on node %s got the volume held by node %s", y.Name, x.Name)
			held := attachedAnywhere(ctx, t, id)
			Expect(held).To(ConsistOf(vmNameOf(ctx, t, x.Name)), "FCD %s is on VMs %v, want node %s's only: one RWO disk on several VMs", id, held, x.Name)

			By(fmt.Sprintf("detaching the disk from node %s's VM when the first pod is deleted", x.Name))
			deletePodAndWaitDetached(ctx, t, ns, "app-a", pv, x.Name)

			By(fmt.Sprintf("attaching the disk to node %s's VM and running the waiting pod", y.Name))
			expectAttached(ctx, t, pv, y.Name)
			b, err := t.WaitForPodRunning(ctx, ns, "app-b")
			Expect(err).NotTo(HaveOccurred())
			Expect(b.Spec.NodeName).To(Equal(y.Name), "pod app-b runs on node %s, not on node %s it was pinned to", b.Spec.NodeName, y.Name)
			held = attachedAnywhere(ctx, t, id)
			Expect(held).To(ConsistOf(vmNameOf(ctx, t, y.Name)), "FCD %s is on VMs %v after the move, want node %s's only", id, held, y.Name)
		}, SpecTimeout(4*time.Minute))
})
