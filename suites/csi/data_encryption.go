package csi

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

var _ = Describe("Data on an encrypted volume", Label(labels.CSI, labels.Encryption, labels.Data), func() {
	It("written on one node is read on another after the disk was re-keyed for that node's VM", labels.Catches("encryption-ignored", "no-rekey-on-move"), func(ctx SpecContext) {
		t := target.Current()
		t.Require(target.BlockVolumes, target.Encryption, target.DataPath)
		nodeA, nodeB, terms := realNodePairInOneSegment(ctx, t)
		ns := t.CreateNamespace(ctx, "csi-data-encrypt").Name
		sc := target.StorageClassForPolicy(encryptionPolicy)
		sc.AllowedTopologies = terms
		claim := t.CreatePVC(ctx, ns, target.NewPVC("secret", t.CreateStorageClass(ctx, sc).Name, "1Gi"))
		vol := target.DataVolume{Claim: claim.Name}
		file := vol.Path() + "/payload"
		want := target.NewPayload(ns, 16<<10)

		By(fmt.Sprintf("writing on node %s through the encrypted disk", nodeA))
		wrote := runData(ctx, t, ns, "writer", nodeA, want.WriteScript(file), vol)
		Expect(wrote.Node).To(Equal(nodeA))
		_, pv, v := boundVolume(ctx, t, ns, claim.Name)
		id := v.VolumeId.Id
		keyA := fcdKey(ctx, t, id)
		Expect(keyA).NotTo(BeNil(), "FCD %s of policy %q is not encrypted", id, encryptionPolicy)
		Expect(t.DeletePod(ctx, ns, "writer")).To(Succeed())
		_, err := t.WaitForVolumeAttachment(ctx, pv.Name, nodeA, false)
		Expect(err).NotTo(HaveOccurred())

		By(fmt.Sprintf("reading the same bytes on node %s, under the disk's new key", nodeB))
		read := runData(ctx, t, ns, "reader", nodeB, target.ReadScript(file), vol)
		Expect(read.Node).To(Equal(nodeB))
		expectPayload(read, file, want, "after the move to node "+nodeB)
		keyB := fcdKey(ctx, t, id)
		Expect(keyB).NotTo(BeNil(), "FCD %s is no longer encrypted on node %s", id, nodeB)
		Expect(keyB.KeyId).NotTo(Equal(keyA.KeyId), "FCD %s kept key %s after moving from %s to %s: not re-keyed", id, keyA.KeyId, nodeA, nodeB)
	}, SpecTimeout(5*time.Minute))
})

// realNodePairInOneSegment picks two schedulable nodes where pods really run
// (not kwok's) in one topology segment, and that segment's terms.
func realNodePairInOneSegment(ctx SpecContext, t *target.Target) (string, string, []corev1.TopologySelectorTerm) {
	GinkgoHelper()
	a, b, terms := nodePairWhere(ctx, t, "type!=kwok")
	if a == nil {
		Skip(fmt.Sprintf("target %s has no two real (non-kwok) schedulable nodes in one topology segment: a move of the data needs them", t.Config.Name))
	}
	return a.Name, b.Name, terms
}
