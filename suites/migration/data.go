package migration

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

var _ = Describe("Data on a migrated in-tree vSphere volume", Label(labels.Migration, labels.Data), func() {
	It("written through the in-tree PV is read back through a CSI PV of the same CNS volume", labels.Catches("register-copies-vmdk"), func(ctx SpecContext) {
		t := target.Current()
		t.Require(target.Migration, target.DataPath)
		ns := t.CreateNamespace(ctx, "migr-data").Name
		nodes, err := t.DataNodes(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(nodes).NotTo(BeEmpty(), "the target declares dataPath but has no node a pod can really run on")
		// The reader runs on another node when there is one: the data moves with the disk.
		writerNode, readerNode := nodes[0].Name, nodes[len(nodes)-1].Name
		dss, err := t.NodeDatastores(ctx, &nodes[0])
		Expect(err).NotTo(HaveOccurred())
		Expect(dss).NotTo(BeEmpty(), "no datastore is mounted on the host of node %s", writerNode)

		By("creating a legacy kubevols vmdk and an in-tree PV (spec.vsphereVolume) with a claim")
		name := "vsconform-legacy-" + rand.String(6)
		path := createLegacyVMDK(ctx, t, dss[0], name, 1024)
		inTree := createPV(ctx, t, staticPV(name, corev1.PersistentVolumeSource{VsphereVolume: &corev1.VsphereVirtualDiskVolumeSource{
			VolumePath: path, FSType: "ext4",
		}}))
		claim := bindClaim(ctx, t, ns, "legacy", inTree.Name)

		By("writing a payload through the in-tree claim on node " + writerNode)
		vol := target.DataVolume{Claim: claim}
		file := vol.Path() + "/payload"
		payload := target.NewPayload(ns, 64<<10)
		_, err = t.RunDataPod(ctx, ns, t.NewDataPod("writer", writerNode, payload.WriteScript(file), vol))
		Expect(err).NotTo(HaveOccurred())
		id := waitMigrated(ctx, t, path)

		By("removing the writer, the claim and the in-tree PV, keeping the disk (Retain)")
		Expect(t.DeletePod(ctx, ns, "writer")).To(Succeed())
		_, err = t.WaitForVolumeAttachment(ctx, inTree.Name, writerNode, false)
		Expect(err).NotTo(HaveOccurred())
		Expect(t.Kube.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, claim, metav1.DeleteOptions{})).To(Succeed())
		Expect(deletePV(ctx, t, inTree.Name)).To(Succeed())

		By("binding a CSI PV with volumeHandle " + id + " and reading the payload on node " + readerNode)
		csiPV := createPV(ctx, t, staticPV(name+"-csi", corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
			Driver: driverName, VolumeHandle: id, FSType: "ext4",
		}}))
		vol = target.DataVolume{Claim: bindClaim(ctx, t, ns, "csi", csiPV.Name)}
		read, err := t.RunDataPod(ctx, ns, t.NewDataPod("reader", readerNode, target.ReadScript(vol.Path()+"/payload"), vol))
		Expect(err).NotTo(HaveOccurred())
		Expect(read.CheckPayload(vol.Path()+"/payload", payload, "in the migrated volume read through CSI")).To(Succeed())
		va, err := t.WaitForVolumeAttachment(ctx, csiPV.Name, readerNode, true)
		Expect(err).NotTo(HaveOccurred())
		Expect(va.Spec.Attacher).To(Equal(driverName))
		files := vmDiskFiles(ctx, t, readerNode)
		Expect(files).To(HaveKeyWithValue(id, path),
			"the volume's disk file moved: VM %s has no disk %s backed by the legacy vmdk %s (its FCD disks: %v)", readerNode, id, path, files)
	}, SpecTimeout(6*time.Minute))
})

// staticPV is a pre-provisioned 1Gi RWO PV that keeps its disk (Retain).
func staticPV(name string, src corev1.PersistentVolumeSource) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{target.LabelSpec: "true"}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			PersistentVolumeSource:        src,
		},
	}
}

// bindClaim creates a claim bound to the PV and waits until it is Bound.
func bindClaim(ctx SpecContext, t *target.Target, ns, name, pv string) string {
	GinkgoHelper()
	claim := target.NewPVC(name, "", "1Gi")
	claim.Spec.StorageClassName = ptr.To("")
	claim.Spec.VolumeName = pv
	claim = t.CreatePVC(ctx, ns, claim)
	_, err := t.WaitForPVCBound(ctx, ns, claim.Name)
	Expect(err).NotTo(HaveOccurred())
	return claim.Name
}
