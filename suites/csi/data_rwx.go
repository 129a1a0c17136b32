package csi

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

var _ = Describe("Data on a ReadWriteMany file volume", Label(labels.CSI, labels.RWX, labels.Data), func() {
	It("written by a pod on one node is read by a pod on another while both use the share", func(ctx SpecContext) {
		t := target.Current()
		t.Require(target.FileVolumes, target.DataPath, target.FileVolumeMounts)
		nodeA, nodeB, _ := realNodePairInOneSegment(ctx, t)
		ns := t.CreateNamespace(ctx, "csi-data-rwx").Name
		sc := t.CreateStorageClass(ctx, target.NewStorageClass("vsconform-file", nil))
		claim := t.CreatePVC(ctx, ns, target.NewPVC("shared", sc.Name, "1Gi", corev1.ReadWriteMany))
		vol := target.DataVolume{Claim: claim.Name}
		file := vol.Path() + "/payload"
		want := target.NewPayload(ns, 16<<10)

		By("keeping a pod on the first node using the share while another writes on the second")
		holder := t.CreatePod(ctx, ns, t.NewDataPod("holder", nodeA, "exec sleep 3600\n", vol))
		_, err := t.WaitForPodRunning(ctx, ns, holder.Name)
		Expect(err).NotTo(HaveOccurred())
		runData(ctx, t, ns, "writer", nodeB, want.WriteScript(file), vol)

		By("reading the bytes on the first node")
		read := runData(ctx, t, ns, "reader", nodeA, target.ReadScript(file), vol)
		expectPayload(read, file, want, "written on "+nodeB+", read on "+nodeA)
	}, SpecTimeout(5*time.Minute))
})
