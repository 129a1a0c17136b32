package csi

import (
	"fmt"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// volumesPerPod groups the filler claims into a few pods: the scheduler
// counts volumes per node, not pods, and fewer pods are cheaper.
const volumesPerPod = 10

// Serial: it fills a node up, which no other spec may share.
var _ = Describe("The per-node limit of attached vSphere volumes", Serial, Label(labels.CSI, labels.AttachLimit, labels.Scale), func() {
	var (
		t  *target.Target
		ns string
	)

	BeforeEach(func(ctx SpecContext) {
		t = target.Current()
		t.Require(target.BlockVolumes, target.MaxVolumesPerNode)
		ns = t.CreateNamespace(ctx, "csi-attach-limit").Name
	})

	It("attaches as many volumes to a node as its CSINode allows, then leaves the next pod unscheduled with the reason and nothing half-attached", func(ctx SpecContext) {
		node, limit := leastAllocatableNode(ctx, t)
		Expect(limit).To(BeNumerically("<=", t.Config.Capabilities.MaxVolumesPerNode),
			"CSINode %s allows %d volumes, more than the target declares (%d)", node.Name, limit, t.Config.Capabilities.MaxVolumesPerNode)
		inUse := volumesInUse(ctx, t, node.Name)
		free := limit - len(inUse)
		Expect(free).To(BeNumerically(">", 0), "node %s already uses all %d volumes it may attach", node.Name, limit)
		vm, err := t.VMForNode(ctx, node)
		Expect(err).NotTo(HaveOccurred())
		By(fmt.Sprintf("filling node %s: limit %d from its CSINode, %d in use, %d to add", node.Name, limit, len(inUse), free))

		// Volumes reachable from the node: allowed only in its topology.
		sc := target.NewStorageClass("vsconform-limit", nil)
		sc.AllowedTopologies = nodeTopologyTerms(ctx, t, node)
		sc = t.CreateStorageClass(ctx, sc)

		By(fmt.Sprintf("provisioning %d claims: one per free slot and one more", free+1))
		claims := make([]string, free+1)
		for i := range claims {
			claims[i] = t.CreatePVC(ctx, ns, target.NewPVC(fmt.Sprintf("vol-%02d", i), sc.Name, "1Gi")).Name
		}
		pvs := make([]string, len(claims))
		ids := make([]string, len(claims))
		for i, c := range claims {
			pvc, err := t.WaitForPVCBound(ctx, ns, c)
			Expect(err).NotTo(HaveOccurred())
			pv, err := t.Kube.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(pv.Spec.CSI).NotTo(BeNil(), "PV %s is not a CSI volume", pv.Name)
			pvs[i], ids[i] = pv.Name, pv.Spec.CSI.VolumeHandle
		}
		fill, extra := claims[:free], claims[free]

		By(fmt.Sprintf("running pods of up to %d claims each on node %s until every free slot is used", volumesPerPod, node.Name))
		var pods []string
		for start := 0; start < len(fill); start += volumesPerPod {
			group := fill[start:min(start+volumesPerPod, len(fill))]
			pod := pinnedPod(fmt.Sprintf("fill-%d", len(pods)), node, group...)
			pods = append(pods, t.CreatePod(ctx, ns, pod).Name)
		}
		for _, p := range pods {
			_, err := t.WaitForPodRunning(ctx, ns, p)
			Expect(err).NotTo(HaveOccurred())
		}
		for _, pv := range pvs[:free] {
			_, err := t.WaitForVolumeAttachment(ctx, pv, node.Name, true)
			Expect(err).NotTo(HaveOccurred())
		}
		attached := attachedDiskIDs(ctx, t, vm)
		Expect(attached).To(ContainElements(ids[:free]), "VM %s lacks disks of attached volumes", node.Name)
		Expect(len(attached)).To(BeNumerically("<=", limit), "VM %s has %d first-class disks, over the limit %d", node.Name, len(attached), limit)

		By("leaving a pod that needs one more volume on the node unscheduled, for the volume limit")
		waiting := t.CreatePod(ctx, ns, pinnedPod("one-more", node, extra)).Name
		Eventually(func(ctx SpecContext) ([]string, error) {
			return eventMessages(ctx, t, ns, "Pod", waiting, "FailedScheduling")
		}).WithContext(ctx).WithTimeout(2*time.Minute).Should(ContainElement(ContainSubstring("exceed max volume count")),
			"no FailedScheduling event naming the volume limit for pod %s", waiting)
		pod, err := t.Kube.CoreV1().Pods(ns).Get(ctx, waiting, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(pod.Spec.NodeName).To(BeEmpty(), "pod %s was bound to node %s beyond the limit", waiting, pod.Spec.NodeName)

		By("attaching nothing of the waiting pod's volume, in Kubernetes or in vCenter")
		Consistently(func(ctx SpecContext) error {
			if va, err := anyVolumeAttachment(ctx, t, pvs[free]); err != nil || va != "" {
				return fmt.Errorf("VolumeAttachment %q for PV %s of the unscheduled pod (err %v)", va, pvs[free], err)
			}
			disks, err := t.AttachedDisks(ctx, vm)
			if err != nil {
				return err
			}
			now := target.DiskIDs(disks)
			if slices.Contains(now, ids[free]) || len(now) != len(attached) {
				return fmt.Errorf("VM %s disks changed while the pod waited: %d first-class disks, %d before, FCD %s attached: %t",
					node.Name, len(now), len(attached), ids[free], slices.Contains(now, ids[free]))
			}
			return nil
		}).WithContext(ctx).WithTimeout(5 * time.Second).WithPolling(time.Second).Should(Succeed())

		By("scheduling the waiting pod once a pod on the node gives its volumes back")
		last := pods[len(pods)-1]
		Expect(t.Kube.CoreV1().Pods(ns).Delete(ctx, last, metav1.DeleteOptions{})).To(Succeed())
		Expect(t.WaitForPodDeleted(ctx, ns, last)).To(Succeed())
		pod, err = t.WaitForPodRunning(ctx, ns, waiting)
		Expect(err).NotTo(HaveOccurred())
		Expect(pod.Spec.NodeName).To(Equal(node.Name))
		_, err = t.WaitForVolumeAttachment(ctx, pvs[free], node.Name, true)
		Expect(err).NotTo(HaveOccurred())
		Expect(attachedDiskIDs(ctx, t, vm)).To(ContainElement(ids[free]), "VM %s has no disk backed by FCD %s", node.Name, ids[free])

		// The tracked cleanup deletes one claim at a time; releasing all at
		// once lets the driver detach and delete them in parallel.
		By(fmt.Sprintf("releasing the %d volumes together", len(claims)))
		remaining := append(slices.Clone(pods[:len(pods)-1]), waiting)
		for _, p := range remaining {
			Expect(t.Kube.CoreV1().Pods(ns).Delete(ctx, p, metav1.DeleteOptions{})).To(Succeed())
		}
		for _, p := range remaining {
			Expect(t.WaitForPodDeleted(ctx, ns, p)).To(Succeed())
		}
		for _, c := range claims {
			Expect(t.Kube.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, c, metav1.DeleteOptions{})).To(Succeed())
		}
		for _, pv := range pvs {
			Expect(t.WaitForPVDeleted(ctx, pv)).To(Succeed())
		}
		Expect(attachedDiskIDs(ctx, t, vm)).NotTo(ContainElement(BeElementOf(ids)), "VM %s keeps disks of deleted volumes", node.Name)
	}, SpecTimeout(15*time.Minute))
})

// leastAllocatableNode picks the node whose CSINode allows the fewest
// volumes of the driver (the cheapest to fill), by name among equals.
func leastAllocatableNode(ctx SpecContext, t *target.Target) (*corev1.Node, int) {
	GinkgoHelper()
	csiNodes, err := t.Kube.StorageV1().CSINodes().List(ctx, metav1.ListOptions{})
	Expect(err).NotTo(HaveOccurred())
	name, limit := "", 0
	for _, cn := range csiNodes.Items {
		for _, d := range cn.Spec.Drivers {
			if d.Name != driverName || d.Allocatable == nil || d.Allocatable.Count == nil {
				continue
			}
			n := int(*d.Allocatable.Count)
			if name == "" || n < limit || (n == limit && cn.Name < name) {
				name, limit = cn.Name, n
			}
		}
	}
	if name == "" {
		// The target declares maxVolumesPerNode (Require above): a node
		// plugin that reports no limit is a failure, not a skip.
		Fail(fmt.Sprintf("target %s declares capability maxVolumesPerNode but no CSINode reports an allocatable volume count for %s "+
			"(NodeGetInfo max_volumes_per_node)", t.Config.Name, driverName))
	}
	node, err := t.Kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	return node, limit
}

// volumesInUse lists the driver's volumes that pods on the node use: what
// the scheduler counts against the limit.
func volumesInUse(ctx SpecContext, t *target.Target, node string) []string {
	GinkgoHelper()
	pods, err := t.Kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	Expect(err).NotTo(HaveOccurred())
	seen := map[string]bool{}
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim == nil {
				continue
			}
			pvc, err := t.Kube.CoreV1().PersistentVolumeClaims(p.Namespace).Get(ctx, v.PersistentVolumeClaim.ClaimName, metav1.GetOptions{})
			if err != nil || pvc.Spec.VolumeName == "" {
				continue
			}
			pv, err := t.Kube.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
			if err == nil && pv.Spec.CSI != nil && pv.Spec.CSI.Driver == driverName {
				seen[pv.Spec.CSI.VolumeHandle] = true
			}
		}
	}
	var out []string
	for id := range seen {
		out = append(out, id)
	}
	return out
}

// nodeTopologyTerms confines a StorageClass to the node's topology segment
// (its CSINode topology keys and the node's values), or returns nil when the
// driver reports no topology for the node.
func nodeTopologyTerms(ctx SpecContext, t *target.Target, node *corev1.Node) []corev1.TopologySelectorTerm {
	GinkgoHelper()
	cn, err := t.Kube.StorageV1().CSINodes().Get(ctx, node.Name, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	var reqs []corev1.TopologySelectorLabelRequirement
	for _, d := range cn.Spec.Drivers {
		if d.Name != driverName {
			continue
		}
		for _, k := range d.TopologyKeys {
			Expect(node.Labels).To(HaveKey(k), "node %s lacks its CSINode topology label %s", node.Name, k)
			reqs = append(reqs, corev1.TopologySelectorLabelRequirement{Key: k, Values: []string{node.Labels[k]}})
		}
	}
	if len(reqs) == 0 {
		return nil
	}
	return []corev1.TopologySelectorTerm{{MatchLabelExpressions: reqs}}
}

// pinnedPod is a pod of the claims that only the scheduler may place, and
// only on node (a nodeSelector, not spec.nodeName, so the volume limit is
// checked).
func pinnedPod(name string, node *corev1.Node, claims ...string) *corev1.Pod {
	pod := target.NewPod(name, claims...)
	pod.Spec.NodeSelector = map[string]string{corev1.LabelHostname: node.Labels[corev1.LabelHostname]}
	return pod
}

// anyVolumeAttachment names a VolumeAttachment of the PV on any node, or "".
func anyVolumeAttachment(ctx SpecContext, t *target.Target, pvName string) (string, error) {
	list, err := t.Kube.StorageV1().VolumeAttachments().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	for _, va := range list.Items {
		if isVolumeAttachmentOf(va, pvName) {
			return va.Name, nil
		}
	}
	return "", nil
}

func isVolumeAttachmentOf(va storagev1.VolumeAttachment, pvName string) bool {
	return va.Spec.Source.PersistentVolumeName != nil && *va.Spec.Source.PersistentVolumeName == pvName
}
