package migration

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

var _ = Describe("In-tree vSphere volumes after CSI migration", Label(labels.Migration), func() {
	It("attaches a legacy kubevols vmdk through csi.vsphere.vmware.com, registers it in CNS and keeps its file path", labels.Catches("register-copies-vmdk"), func(ctx SpecContext) {
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
		pv := createPV(ctx, t, staticPV(name, corev1.PersistentVolumeSource{VsphereVolume: &corev1.VsphereVirtualDiskVolumeSource{
			VolumePath: path, FSType: "ext4",
		}}))
		claim := bindClaim(ctx, t, ns, "legacy", pv.Name)

		By("waiting for the syncer to register the vmdk in CNS, keeping its path")
		id := waitMigrated(ctx, t, path)
		vol := expectCNSBacking(ctx, t, id, path)
		Expect(vol.BackingObjectDetails.GetCnsBackingObjectDetails().CapacityInMb).To(BeEquivalentTo(1024),
			"CNS reports the registered disk's size wrong")

		By("running a pod with the claim on node " + node.Name)
		pod := target.NewPod("app", claim)
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
