package csi

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// kwok marks pods Running whatever their volumes do, so every step here is
// checked through VolumeAttachments and the node VMs' disks.
var _ = Describe("A StatefulSet with volumeClaimTemplates", Label(labels.CSI, labels.StatefulSet), func() {
	It("gets one FCD per replica, keeps the scaled-down replica's volume detached, re-attaches the same volume on scale-up, and loses all FCDs with its claims", labels.Catches("detach-leaves-disk", "delete-leaves-fcd"), func(ctx SpecContext) {
		t := target.Current()
		t.Require(target.BlockVolumes)
		ns := t.CreateNamespace(ctx, "csi-sts").Name
		sc := t.CreateStorageClass(ctx, target.StorageClassForPolicy(requestedPolicy(t)))
		const name = "web"
		sts := t.CreateStatefulSet(ctx, ns, newStatefulSet(name, sc.Name, 3))
		claimOf := func(i int) string { return fmt.Sprintf("data-%s-%d", sts.Name, i) }
		podOf := func(i int) string { return fmt.Sprintf("%s-%d", sts.Name, i) }

		By("binding 3 claims to 3 distinct FCDs, each attached to its pod's node VM")
		ids := map[int]string{}
		pvs := map[int]*corev1.PersistentVolume{}
		for i := range 3 {
			_, pv, vol := boundVolume(ctx, t, ns, claimOf(i))
			pvs[i], ids[i] = pv, vol.VolumeId.Id
			mustFCD(ctx, t, ids[i])
			pod, err := t.WaitForPodRunning(ctx, ns, podOf(i))
			Expect(err).NotTo(HaveOccurred())
			expectAttached(ctx, t, pv, pod.Spec.NodeName)
		}
		Expect([]string{ids[0], ids[1], ids[2]}).To(HaveLen(3))
		Expect(ids[0]).NotTo(Or(Equal(ids[1]), Equal(ids[2])))
		Expect(ids[1]).NotTo(Equal(ids[2]))

		By("scaling to 2: the third claim stays Bound, its FCD exists and is on no node VM")
		pod2, err := t.Kube.CoreV1().Pods(ns).Get(ctx, podOf(2), metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		scale(ctx, t, ns, sts.Name, 2)
		Expect(t.WaitForPodDeleted(ctx, ns, podOf(2))).To(Succeed())
		_, err = t.WaitForVolumeAttachment(ctx, pvs[2].Name, pod2.Spec.NodeName, false)
		Expect(err).NotTo(HaveOccurred())
		claim2, err := t.Kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claimOf(2), metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(claim2.Status.Phase).To(Equal(corev1.ClaimBound))
		Expect(claim2.Spec.VolumeName).To(Equal(pvs[2].Name))
		mustFCD(ctx, t, ids[2])
		Expect(attachedAnywhere(ctx, t, ids[2])).To(BeEmpty(), "FCD %s of the scaled-down replica is still on a VM", ids[2])

		By("scaling back to 3: the same claim and volume ID attach to the new pod's node VM")
		scale(ctx, t, ns, sts.Name, 3)
		pod, err := t.WaitForPodRunning(ctx, ns, podOf(2))
		Expect(err).NotTo(HaveOccurred())
		Expect(pod.UID).NotTo(Equal(pod2.UID), "pod %s was not recreated", podOf(2))
		_, pv, vol := boundVolume(ctx, t, ns, claimOf(2))
		Expect(pv.Name).To(Equal(pvs[2].Name))
		Expect(vol.VolumeId.Id).To(Equal(ids[2]))
		expectAttached(ctx, t, pv, pod.Spec.NodeName)
		Expect(attachedAnywhere(ctx, t, ids[2])).To(ConsistOf(vmNameOf(ctx, t, pod.Spec.NodeName)), "FCD %s of the rescheduled replica", ids[2])

		By("deleting the StatefulSet and its claims: every FCD is gone")
		Expect(t.Kube.AppsV1().StatefulSets(ns).Delete(ctx, sts.Name, metav1.DeleteOptions{})).To(Succeed())
		for i := range 3 {
			Expect(t.WaitForPodDeleted(ctx, ns, podOf(i))).To(Succeed())
		}
		for i := range 3 {
			Expect(t.Kube.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, claimOf(i), metav1.DeleteOptions{})).To(Succeed())
		}
		for i := range 3 {
			Expect(t.WaitForPVDeleted(ctx, pvs[i].Name)).To(Succeed())
			_, err := t.WaitForCNSVolume(ctx, ids[i], false)
			Expect(err).NotTo(HaveOccurred())
			expectFCDGone(ctx, t, ids[i])
		}
	}, SpecTimeout(6*time.Minute))
})

func newStatefulSet(name, storageClass string, replicas int32) *appsv1.StatefulSet {
	labels := map[string]string{"app": name}
	pod := target.NewPod("", "data")
	pod.Labels = labels
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            ptr.To(replicas),
			Selector:            &metav1.LabelSelector{MatchLabels: labels},
			PodManagementPolicy: appsv1.ParallelPodManagement,
			Template:            corev1.PodTemplateSpec{ObjectMeta: pod.ObjectMeta, Spec: pod.Spec},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					StorageClassName: ptr.To(storageClass),
					AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
					},
				},
			}},
		},
	}
}

func scale(ctx SpecContext, t *target.Target, ns, name string, replicas int) {
	GinkgoHelper()
	patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas)
	_, err := t.Kube.AppsV1().StatefulSets(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	Expect(err).NotTo(HaveOccurred(), "scale StatefulSet %s/%s to %d", ns, name, replicas)
}
