package csi

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

var _ = Describe("Static provisioning", Label(labels.CSI, labels.Provisioning), func() {
	It("binds a claim to a PV for an existing CNS volume and attaches that volume to the pod's node VM", labels.Catches("attach-adds-no-disk", "detach-leaves-disk"), func(ctx SpecContext) {
		t := target.Current()
		t.Require(target.BlockVolumes)
		ns := t.CreateNamespace(ctx, "csi-static").Name

		By("creating a CNS volume through the CNS API, as an admin would, on a datastore of a node")
		nodes, err := t.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(nodes.Items).NotTo(BeEmpty(), "the cluster has no nodes")
		node := &nodes.Items[0]
		dss, err := t.NodeDatastores(ctx, node)
		Expect(err).NotTo(HaveOccurred())
		Expect(dss).NotTo(BeEmpty(), "no accessible datastore is mounted on the host of node %s", node.Name)
		name := "vsconform-static-" + rand.String(6)
		id, err := t.CreateCNSVolume(ctx, target.CNSVolumeSpec{Name: name, Datastore: dss[0].Ref, CapacityMB: 1024})
		Expect(err).NotTo(HaveOccurred())
		t.Track("static CNS volume "+id, func(ctx context.Context) error {
			return t.DeleteVolumeAndDisk(ctx, id)
		})
		mustFCD(ctx, t, id)

		By("creating a PV with that volume handle and a claim that selects it")
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{target.LabelSpec: "true"}},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				StorageClassName:              "",
				PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
					Driver: driverName, VolumeHandle: id, FSType: "ext4",
				}},
			},
		}
		pv, err = t.Kube.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		t.Track("PV "+pv.Name, func(ctx context.Context) error {
			err := t.Kube.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			return t.WaitForPVDeleted(ctx, pv.Name)
		})
		claim := target.NewPVC("static", "", "1Gi")
		claim.Spec.StorageClassName = ptr.To("") // no dynamic provisioning
		claim.Spec.VolumeName = pv.Name
		claim = t.CreatePVC(ctx, ns, claim)

		claim, pv, vol := boundVolume(ctx, t, ns, claim.Name)
		Expect(claim.Spec.VolumeName).To(Equal(name))
		Expect(vol.VolumeId.Id).To(Equal(id))
		Expect(vol.Name).To(Equal(name), "the claim must not have got a new CNS volume")

		By("attaching the existing volume to the VM of node " + node.Name + ", where a pod uses the claim")
		pod := target.NewPod("app", claim.Name)
		pod.Spec.NodeName = node.Name
		t.CreatePod(ctx, ns, pod)
		// vCenter's side first: on a real node a missing disk shows only as
		// a pod that never runs.
		expectAttached(ctx, t, pv, node.Name)
		_, err = t.WaitForPodRunning(ctx, ns, pod.Name)
		Expect(err).NotTo(HaveOccurred())
		deletePodAndWaitDetached(ctx, t, ns, pod.Name, pv, node.Name)
	}, SpecTimeout(4*time.Minute))
})
