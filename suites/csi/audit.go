package csi

import (
	"context"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// The leak audit (`vsconform audit` runs the same check): vCenter must hold
// nothing of this cluster that Kubernetes does not explain. The spec plants
// one orphan of each kind to prove the audit sees it, so it cannot pass on
// an empty target or with a blind audit.
// Serial: it audits the whole target, where parallel specs' volumes are
// half-made (an FCD before its CNS volume and PV) while they run.
var _ = Describe("The leak audit", Serial, Label(labels.CSI, labels.Audit), func() {
	It("finds nothing the cluster does not explain, but finds a CNS volume without a PV and a disk attached without a VolumeAttachment", labels.Catches("create-leaves-stray-fcd"), func(ctx SpecContext) {
		t := target.Current()
		t.Require(target.BlockVolumes)
		ns := t.CreateNamespace(ctx, "csi-audit").Name
		audit := func(ctx SpecContext) (target.Findings, error) { return t.Audit(ctx) }

		By("auditing the target as the suite left it")
		Expect(audit(ctx)).To(BeEmpty(), "vCenter holds volumes or disks that Kubernetes does not explain")

		By("not reporting a bound, attached volume")
		sc := t.CreateStorageClass(ctx, target.StorageClassForPolicy(requestedPolicy(t)))
		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc.Name, "1Gi"))
		_, pv, vol := boundVolume(ctx, t, ns, claim.Name)
		node := runPodOn(ctx, t, ns, "app", claim.Name, pv)
		Expect(audit(ctx)).To(BeEmpty(), "the audit reports volume %s, which PV %s explains and which is attached to %s", vol.VolumeId.Id, pv.Name, node)

		By("reporting a CNS volume of this cluster that no PV references")
		n, err := t.Kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		dss, err := t.NodeDatastores(ctx, n)
		Expect(err).NotTo(HaveOccurred())
		Expect(dss).NotTo(BeEmpty())
		orphan, err := t.CreateCNSVolume(ctx, target.CNSVolumeSpec{Name: "vsconform-orphan-" + rand.String(6), Datastore: dss[0].Ref, CapacityMB: 64})
		Expect(err).NotTo(HaveOccurred())
		t.Track("planted CNS volume "+orphan, func(ctx context.Context) error { return t.DeleteVolumeAndDisk(ctx, orphan) })
		Expect(audit(ctx)).To(ConsistOf(HaveField("ID", orphan)), "the audit must report exactly the planted volume")
		Expect(audit(ctx)).To(ContainElement(HaveField("Kind", target.FindingCNSVolume)))

		By("reporting that volume's disk once attached to a node VM behind Kubernetes' back")
		vm, err := t.VMByName(ctx, node)
		Expect(err).NotTo(HaveOccurred())
		Expect(t.AttachCNSVolume(ctx, orphan, vm.Reference())).To(Succeed())
		t.Track("planted attachment of "+orphan, func(ctx context.Context) error {
			if err := t.DetachCNSVolume(ctx, orphan, vm.Reference()); err != nil && !isDetached(ctx, t, n, orphan) {
				return err
			}
			return nil
		})
		Expect(audit(ctx)).To(ConsistOf(
			And(HaveField("Kind", target.FindingCNSVolume), HaveField("ID", orphan)),
			And(HaveField("Kind", target.FindingAttachedDisk), HaveField("ID", orphan)),
		))

		By("finding nothing once the planted volume is detached and deleted")
		Expect(t.DetachCNSVolume(ctx, orphan, vm.Reference())).To(Succeed())
		Expect(t.DeleteVolumeAndDisk(ctx, orphan)).To(Succeed())
		expectFCDGone(ctx, t, orphan)
		Expect(audit(ctx)).To(BeEmpty())
	}, SpecTimeout(4*time.Minute))
})

// isDetached reports whether no disk of the node's VM is the volume.
func isDetached(ctx context.Context, t *target.Target, node *corev1.Node, id string) bool {
	vm, err := t.VMForNode(ctx, node)
	if err != nil {
		return false
	}
	disks, err := t.AttachedDisks(ctx, vm)
	return err == nil && !slices.Contains(target.DiskIDs(disks), id)
}
