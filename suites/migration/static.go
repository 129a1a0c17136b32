package migration

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

var _ = Describe("In-tree vSphere volumes after CSI migration", Label(labels.Migration), func() {
	It("attaches a legacy kubevols vmdk through csi.vsphere.vmware.com, registers it in CNS and keeps its file path", func(ctx SpecContext) {
		t := target.Current()
		t.Require(target.Migration)
		ns := t.CreateNamespace(ctx, "migr-static").Name

		nodes, err := t.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(nodes.Items).NotTo(BeEmpty(), "the cluster has no nodes")
		node := &nodes.Items[0]
		dss, err := t.NodeDatastores(ctx, node)
		Expect(err).NotTo(HaveOccurred())
		Expect(dss).NotTo(BeEmpty(), "no datastore is mounted on the host of node %s", node.Name)

		By("creating a vmdk in the datastore's kubevols folder, as the in-tree provisioner did")
		name := "vsconform-legacy-" + rand.String(6)
		path := createLegacyVMDK(ctx, t, dss[0], name, 1024)

		By("creating an in-tree PV (spec.vsphereVolume.volumePath) and a claim bound to it")
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{target.LabelSpec: "true"}},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				PersistentVolumeSource: corev1.PersistentVolumeSource{VsphereVolume: &corev1.VsphereVirtualDiskVolumeSource{
					VolumePath: path, FSType: "ext4",
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
		claim := target.NewPVC("legacy", "", "1Gi")
		claim.Spec.StorageClassName = ptr.To("")
		claim.Spec.VolumeName = pv.Name
		claim = t.CreatePVC(ctx, ns, claim)
		_, err = t.WaitForPVCBound(ctx, ns, claim.Name)
		Expect(err).NotTo(HaveOccurred())

		By("waiting for the syncer to register the vmdk in CNS, keeping its path")
		id := waitMigrated(ctx, t, path)
		vol := expectCNSBacking(ctx, t, id, path)
		Expect(vol.BackingObjectDetails.GetCnsBackingObjectDetails().CapacityInMb).To(BeEquivalentTo(1024),
			"CNS reports the registered disk's size wrong")

		By("running a pod with the claim on node " + node.Name)
		pod := target.NewPod("app", claim.Name)
		pod.Spec.NodeName = node.Name
		t.CreatePod(ctx, ns, pod)
		va, err := t.WaitForVolumeAttachment(ctx, pv.Name, node.Name, true)
		Expect(err).NotTo(HaveOccurred())
		Expect(va.Spec.Attacher).To(Equal(driverName), "the in-tree volume was not attached by the CSI driver")
		Expect(vmDiskFiles(ctx, t, node.Name)).To(HaveKeyWithValue(id, path),
			"VM %s has no disk %s backed by %s", node.Name, id, path)

		By("deleting the pod: the disk leaves the VM and stays registered")
		Expect(t.Kube.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{})).To(Succeed())
		Expect(t.WaitForPodDeleted(ctx, ns, pod.Name)).To(Succeed())
		_, err = t.WaitForVolumeAttachment(ctx, pv.Name, node.Name, false)
		Expect(err).NotTo(HaveOccurred())
		Expect(vmDiskFiles(ctx, t, node.Name)).NotTo(HaveKey(id))
		expectCNSBacking(ctx, t, id, path)
	}, SpecTimeout(4*time.Minute))
})
