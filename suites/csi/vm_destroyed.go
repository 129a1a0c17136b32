package csi

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vmware/govmomi/object"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// A node VM deleted with its volume still attached is the in-tree vSphere
// volume's data-loss bug: vCenter keeps a first class disk whose
// keepAfterDeleteVm is set (CNS sets it) and detaches it instead. Serial:
// the spec's node and its destroyed VM are visible to every spec that
// lists nodes.
var _ = Describe("A block volume whose node VM is destroyed", Serial, Label(labels.CSI, labels.Nodes), func() {
	var (
		t  *target.Target
		ns string
	)

	BeforeEach(func(ctx SpecContext) {
		t = target.Current()
		t.Require(target.BlockVolumes, target.FakeNodes)
		ns = t.CreateNamespace(ctx, "csi-vm-destroyed").Name
	})

	It("survives: vCenter keeps its FCD and CNS volume, and a pod on another node attaches it", labels.Catches("destroy-deletes-attached-fcd", "destroy-does-nothing"), func(ctx SpecContext) {
		neighbour, terms := csiNeighbourNode(ctx, t)
		sc := target.StorageClassForPolicy(requestedPolicy(t))
		sc.AllowedTopologies = terms // the spec's node and the neighbour can both attach it
		sc = t.CreateStorageClass(ctx, sc)
		// The claim before the node: its cleanup then runs after the node's,
		// once nothing holds the volume.
		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc.Name, "1Gi"))
		_, pv, _ := boundVolume(ctx, t, ns, claim.Name)
		id := pv.Spec.CSI.VolumeHandle
		claimName := ns + "/" + claim.Name

		By("starting a pod with the claim on a node of the spec's own VM")
		fake := createCSIFakeNode(ctx, t, neighbour, "vsconform-vmgone", "198.51.100.241", terms)
		runPinnedPod(ctx, t, ns, "app", claim.Name, pv, fake.node)
		forceDeleteOnCleanup(t, ns, "app")
		capacity := mustFCD(ctx, t, id).Config.CapacityInMB

		By("destroying the node's VM in vCenter, its kubelet going with it")
		Expect(t.StopFakeKubelet(ctx, fake.name)).To(Succeed())
		Expect(t.DestroyVM(ctx, fake.vm)).To(Succeed())
		found, err := object.NewSearchIndex(t.VC.Client).FindByUuid(ctx, t.Datacenter, fake.uuid, true, nil)
		Expect(err).NotTo(HaveOccurred())
		if found != nil { // not To(BeNil()): that prints the whole client
			Fail(fmt.Sprintf("vCenter still finds VM %s (%s, BIOS UUID %s) after its Destroy task succeeded", fake.name, found.Reference().Value, fake.uuid))
		}

		By("finding the claim's FCD, the same size, and its CNS volume in vCenter")
		expectVolumeKept(ctx, t, id, claimName, fake.name, capacity)

		// As an operator does for a node whose VM is gone (non-graceful
		// node shutdown): without the taint Kubernetes waits 6 minutes
		// (maxWaitForUnmountDuration) before it detaches.
		By("tainting the dead node " + outOfServiceTaint.ToString() + " and removing its pod: the volume is detached in Kubernetes")
		taintNode(ctx, t, fake.name, outOfServiceTaint)
		Expect(forceDeletePod(ctx, t, ns, "app")).To(Succeed())
		_, err = t.WaitForVolumeAttachment(ctx, pv.Name, fake.name, false)
		Expect(err).NotTo(HaveOccurred())
		// The driver's detach from a VM that is gone must not delete it either.
		expectVolumeKept(ctx, t, id, claimName, fake.name, capacity)
		deleteNode(ctx, t, fake.name)

		By("starting a pod with the claim on node " + neighbour.Name + ": its VM gets the disk")
		runPinnedPod(ctx, t, ns, "app-moved", claim.Name, pv, neighbour)
	}, SpecTimeout(10*time.Minute))
})

// expectVolumeKept checks in vCenter that the claim's FCD is there with its
// size and that CNS still has the volume, after the node VM vm went.
func expectVolumeKept(ctx SpecContext, t *target.Target, id, claim, vm string, capacityMB int64) {
	GinkgoHelper()
	fcd, err := t.FCD(ctx, id)
	Expect(err).NotTo(HaveOccurred())
	Expect(fcd).NotTo(BeNil(), "FCD %s of claim %s is gone after its node VM %s was destroyed", id, claim, vm)
	Expect(fcd.Config.CapacityInMB).To(Equal(capacityMB),
		"FCD %s of claim %s changed size after its node VM %s was destroyed", id, claim, vm)
	vol, err := t.CNSVolume(ctx, id)
	Expect(err).NotTo(HaveOccurred())
	Expect(vol).NotTo(BeNil(), "CNS volume %s of claim %s is gone after its node VM %s was destroyed", id, claim, vm)
}
