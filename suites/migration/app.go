package migration

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// inTreeApp is an application manifest as written for the in-tree plugin:
// a StatefulSet whose claim template names an in-tree StorageClass.
func inTreeApp(storageClass string) *appsv1.StatefulSet {
	match := map[string]string{"app": "vsconform-intree"}
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: match},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: match},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: target.PodImage,
					VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
				}}},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					StorageClassName: ptr.To(storageClass),
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceStorage: resource.MustParse("1Gi"),
					}},
				},
			}},
		},
	}
}

var _ = Describe("Applications written for in-tree vSphere volumes", Label(labels.Migration), func() {
	It("run from their unchanged manifest, and get the same CNS volume back when the manifest is applied again", func(ctx SpecContext) {
		t := target.Current()
		t.Require(target.Migration)
		ns := t.CreateNamespace(ctx, "migr-app").Name
		sc := t.CreateStorageClass(ctx, inTreeStorageClass(map[string]string{"diskformat": "thin"}, corev1.PersistentVolumeReclaimDelete))
		manifest := inTreeApp(sc.Name)

		run := func() (string, string, string) {
			GinkgoHelper()
			t.CreateStatefulSet(ctx, ns, manifest)
			pv, id := migratedPV(ctx, t, ns, "data-web-0")
			pod, err := t.WaitForPodRunning(ctx, ns, "web-0")
			Expect(err).NotTo(HaveOccurred())
			node := pod.Spec.NodeName
			va, err := t.WaitForVolumeAttachment(ctx, pv.Name, node, true)
			Expect(err).NotTo(HaveOccurred())
			Expect(va.Spec.Attacher).To(Equal(driverName))
			path := pv.Spec.VsphereVolume.VolumePath
			expectCNSBacking(ctx, t, id, path)
			Expect(vmDiskFiles(ctx, t, node)).To(HaveKeyWithValue(id, path), "VM %s has no disk %s", node, id)
			return pv.Name, id, node
		}

		By("applying the in-tree manifest: the claim is served by the CSI driver and attached to the pod's VM")
		pvName, id, node := run()

		By("deleting the StatefulSet (its claim stays): the disk leaves the VM")
		Expect(t.Kube.AppsV1().StatefulSets(ns).Delete(ctx, manifest.Name, metav1.DeleteOptions{})).To(Succeed())
		Expect(t.WaitForPodDeleted(ctx, ns, "web-0")).To(Succeed())
		_, err := t.WaitForVolumeAttachment(ctx, pvName, node, false)
		Expect(err).NotTo(HaveOccurred())
		Expect(vmDiskFiles(ctx, t, node)).NotTo(HaveKey(id))

		By("applying the same manifest again: the same PV and CNS volume come back")
		pvName2, id2, _ := run()
		Expect(pvName2).To(Equal(pvName))
		Expect(id2).To(Equal(id))
	}, SpecTimeout(5*time.Minute))
})
