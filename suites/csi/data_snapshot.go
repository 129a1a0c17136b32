package csi

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

var _ = Describe("Data in a snapshot of a block volume", Label(labels.CSI, labels.Snapshot, labels.Data), func() {
	It("restores the bytes of the snapshot's moment, not those written after it", labels.Catches("restore-ignores-snapshot"), func(ctx SpecContext) {
		t := target.Current()
		t.Require(target.BlockVolumes, target.Snapshots, target.DataPath)
		ns := t.CreateNamespace(ctx, "csi-data-snap").Name
		sc := dataStorageClass(ctx, t, "", false)
		claim := t.CreatePVC(ctx, ns, target.NewPVC("source", sc.Name, "1Gi"))
		vol := target.DataVolume{Claim: claim.Name}
		file := vol.Path() + "/payload"
		first, later := target.NewPayload(ns+"-first", 16<<10), target.NewPayload(ns+"-later", 16<<10)

		By("writing the first payload and taking a snapshot")
		wrote := runData(ctx, t, ns, "first", "", first.WriteScript(file), vol)
		Expect(t.DeletePod(ctx, ns, "first")).To(Succeed())
		snap := createSnapshot(ctx, t, ns, "snap", claim.Name)
		waitSnapshotReady(ctx, t, ns, snap)

		By("overwriting the file after the snapshot")
		runData(ctx, t, ns, "later", wrote.Node, later.WriteScript(file), vol)
		Expect(t.DeletePod(ctx, ns, "later")).To(Succeed())

		By("restoring the snapshot into a new claim, which holds the first payload")
		restore := target.NewPVC("restored", sc.Name, "1Gi")
		restore.Spec.DataSource = &corev1.TypedLocalObjectReference{APIGroup: ptr.To(snapshotGVR.Group), Kind: "VolumeSnapshot", Name: snap}
		restore = t.CreatePVC(ctx, ns, restore)
		restored := target.DataVolume{Claim: restore.Name}
		// Not runData: a blank restore has no payload file, and the failure
		// says where the file was missing.
		read, err := t.RunDataPod(ctx, ns, t.NewDataPod("reader", "", target.ReadScript(restored.Path()+"/payload"), restored))
		Expect(err).NotTo(HaveOccurred(), "reading the payload in the volume restored from the snapshot %s", snap)
		expectPayload(read, restored.Path()+"/payload", first, "in the volume restored from the snapshot")

		By("and the source volume keeps the later payload")
		src := runData(ctx, t, ns, "source-reader", "", target.ReadScript(file), vol)
		expectPayload(src, file, later, "in the source volume")
	}, SpecTimeout(6*time.Minute))
})
