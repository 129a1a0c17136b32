package csi

import (
	"context"
	"fmt"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vmware/govmomi/crypto"
	"github.com/vmware/govmomi/vim25/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// encryptionPolicy is vCenter's built-in policy whose rule is the VM
// encryption data service: every vCenter (6.5+) has it. The vSphere CSI
// driver has no encryption code: it passes the policy to CNS, which
// applies it to the volume's disk.
const encryptionPolicy = "VM Encryption Policy"

var _ = Describe("Encryption of block volumes through a storage policy", Label(labels.CSI, labels.Encryption), func() {
	var (
		t  *target.Target
		ns string
	)

	BeforeEach(func(ctx SpecContext) {
		t = target.Current()
		t.Require(target.BlockVolumes, target.Encryption)
		ns = t.CreateNamespace(ctx, "csi-encryption").Name
	})

	It("encrypts the disk of a volume of the encryption policy with a key of the target's key provider, and leaves a plain policy's disk unencrypted", labels.Catches("encryption-ignored"), func(ctx SpecContext) {
		providers := keyProviders(ctx, t)
		enc := t.CreateStorageClass(ctx, target.StorageClassForPolicy(encryptionPolicy))
		plain := t.CreateStorageClass(ctx, target.StorageClassForPolicy(requestedPolicy(t)))
		t.CreatePVC(ctx, ns, target.NewPVC("secret", enc.Name, "1Gi"))
		t.CreatePVC(ctx, ns, target.NewPVC("plain", plain.Name, "1Gi"))

		By("finding the encryption policy on the CNS volume and a key of a registered provider on its disk")
		_, _, vol := boundVolume(ctx, t, ns, "secret")
		policyID, err := t.PolicyID(ctx, encryptionPolicy)
		Expect(err).NotTo(HaveOccurred())
		Expect(vol.StoragePolicyId).To(Equal(policyID), "CNS volume %s has policy %q, want %q (%s)", vol.VolumeId.Id, vol.StoragePolicyId, policyID, encryptionPolicy)
		key := fcdKey(ctx, t, vol.VolumeId.Id)
		Expect(key).NotTo(BeNil(), "FCD %s of a volume with policy %q is not encrypted (no backing keyId)", vol.VolumeId.Id, encryptionPolicy)
		Expect(key.KeyId).NotTo(BeEmpty())
		Expect(key.ProviderId).NotTo(BeNil(), "key %s of FCD %s names no key provider", key.KeyId, vol.VolumeId.Id)
		Expect(providers.registered).To(ContainElement(key.ProviderId.Id),
			"FCD %s is encrypted with a key of provider %q, which vCenter's CryptoManager does not list", vol.VolumeId.Id, key.ProviderId.Id)
		Expect(key.ProviderId.Id).To(Equal(providers.defaultID), "the key comes from %q, not the default provider", key.ProviderId.Id)

		By("finding no key on the disk of the plain policy's volume")
		_, _, plainVol := boundVolume(ctx, t, ns, "plain")
		Expect(fcdKey(ctx, t, plainVol.VolumeId.Id)).To(BeNil(), "FCD %s of plain policy %q is encrypted", plainVol.VolumeId.Id, requestedPolicy(t))
	}, SpecTimeout(4*time.Minute))

	It("re-keys an encrypted volume that moves to another node, keeping its volume ID and disk file", labels.Catches("no-rekey-on-move"), func(ctx SpecContext) {
		nodeA, nodeB, terms := nodePairInOneSegment(ctx, t)
		sc := target.StorageClassForPolicy(encryptionPolicy)
		sc.AllowedTopologies = terms // both nodes can attach the volume
		enc := t.CreateStorageClass(ctx, sc)
		claim := t.CreatePVC(ctx, ns, target.NewPVC("secret", enc.Name, "1Gi"))
		_, pv, vol := boundVolume(ctx, t, ns, claim.Name)
		id := vol.VolumeId.Id
		path := fcdPath(mustFCD(ctx, t, id))

		By(fmt.Sprintf("attaching the volume to node %s for a first pod", nodeA.Name))
		t.CreatePod(ctx, ns, pinnedPod("app-a", nodeA, claim.Name))
		_, err := t.WaitForPodRunning(ctx, ns, "app-a")
		Expect(err).NotTo(HaveOccurred())
		expectAttached(ctx, t, pv, nodeA.Name)
		keyA := fcdKey(ctx, t, id)
		Expect(keyA).NotTo(BeNil(), "FCD %s is not encrypted while attached to %s", id, nodeA.Name)
		Expect(vmDiskKey(ctx, t, nodeA.Name, id)).To(Equal(keyA.KeyId), "the disk on VM %s does not carry the FCD's key", nodeA.Name)

		By(fmt.Sprintf("draining node %s (cordon, delete the pod) and starting the pod again on node %s", nodeA.Name, nodeB.Name))
		cordon(ctx, t, nodeA.Name)
		deletePodAndWaitDetached(ctx, t, ns, "app-a", pv, nodeA.Name)
		t.CreatePod(ctx, ns, pinnedPod("app-b", nodeB, claim.Name))
		_, err = t.WaitForPodRunning(ctx, ns, "app-b")
		Expect(err).NotTo(HaveOccurred())
		expectAttached(ctx, t, pv, nodeB.Name)

		By("finding the same volume and disk file, still encrypted, under a new key of the same provider")
		moved, err := t.CNSVolume(ctx, id)
		Expect(err).NotTo(HaveOccurred())
		Expect(moved).NotTo(BeNil(), "CNS volume %s is gone after the move", id)
		Expect(fcdPath(mustFCD(ctx, t, id))).To(Equal(path), "the disk file of FCD %s changed", id)
		keyB := fcdKey(ctx, t, id)
		Expect(keyB).NotTo(BeNil(), "FCD %s is no longer encrypted after moving to %s", id, nodeB.Name)
		Expect(keyB.KeyId).NotTo(Equal(keyA.KeyId), "FCD %s kept key %s after moving from %s to %s: not re-keyed", id, keyA.KeyId, nodeA.Name, nodeB.Name)
		Expect(keyB.ProviderId).NotTo(BeNil())
		Expect(keyA.ProviderId).NotTo(BeNil())
		Expect(keyB.ProviderId.Id).To(Equal(keyA.ProviderId.Id), "the new key is of another provider")
		Expect(vmDiskKey(ctx, t, nodeB.Name, id)).To(Equal(keyB.KeyId), "the disk on VM %s does not carry the FCD's new key", nodeB.Name)
	}, SpecTimeout(5*time.Minute))
})

// keyProviderIDs are the KMS clusters vCenter's CryptoManager lists.
type keyProviderIDs struct {
	registered []string
	defaultID  string
}

func keyProviders(ctx SpecContext, t *target.Target) keyProviderIDs {
	GinkgoHelper()
	km, err := crypto.GetManagerKmip(t.VC.Client)
	Expect(err).NotTo(HaveOccurred())
	clusters, err := km.ListKmipServers(ctx, nil)
	Expect(err).NotTo(HaveOccurred())
	var out keyProviderIDs
	for _, c := range clusters {
		out.registered = append(out.registered, c.ClusterId.Id)
	}
	Expect(out.registered).NotTo(BeEmpty(), "vCenter has no key provider: nothing can be encrypted")
	out.defaultID, err = km.GetDefaultKmsClusterID(ctx, nil, false)
	Expect(err).NotTo(HaveOccurred(), "vCenter has no default key provider")
	return out
}

// fcdKey is the key the first-class disk is encrypted with (its backing's
// keyId), nil when it is not encrypted.
func fcdKey(ctx SpecContext, t *target.Target, id string) *types.CryptoKeyId {
	GinkgoHelper()
	b, ok := mustFCD(ctx, t, id).Config.Backing.(*types.BaseConfigInfoDiskFileBackingInfo)
	Expect(ok).To(BeTrue(), "FCD %s has no disk file backing", id)
	return b.KeyId
}

func fcdPath(obj *types.VStorageObject) string {
	GinkgoHelper()
	b, ok := obj.Config.Backing.(*types.BaseConfigInfoDiskFileBackingInfo)
	Expect(ok).To(BeTrue(), "FCD %s has no disk file backing", obj.Config.Id.Id)
	return b.FilePath
}

// vmDiskKey is the key id of the node VM's disk backed by FCD id ("" if the
// disk is not encrypted).
func vmDiskKey(ctx SpecContext, t *target.Target, node, id string) string {
	GinkgoHelper()
	vm, err := t.VMByName(ctx, node)
	Expect(err).NotTo(HaveOccurred())
	disks, err := t.AttachedDisks(ctx, vm)
	Expect(err).NotTo(HaveOccurred())
	for _, d := range disks {
		if d.VDiskId == nil || d.VDiskId.Id != id {
			continue
		}
		if b, ok := d.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok && b.KeyId != nil {
			return b.KeyId.KeyId
		}
		return ""
	}
	Fail(fmt.Sprintf("VM %s has no disk backed by FCD %s", node, id))
	return ""
}

// nodePairInOneSegment picks two schedulable nodes in the same topology
// segment (zone), so a volume confined to it can attach to either, and the
// StorageClass terms for that segment (nil without topology).
func nodePairInOneSegment(ctx SpecContext, t *target.Target) (*corev1.Node, *corev1.Node, []corev1.TopologySelectorTerm) {
	GinkgoHelper()
	a, b, terms := nodePairWhere(ctx, t, "")
	if a == nil {
		Skip("no two schedulable nodes share a topology segment: moving a volume needs two nodes that can attach it")
	}
	return a, b, terms
}

// nodePairWhere is nodePairInOneSegment among the nodes a label selector
// picks; nil nodes when there are no two.
func nodePairWhere(ctx SpecContext, t *target.Target, selector string) (*corev1.Node, *corev1.Node, []corev1.TopologySelectorTerm) {
	GinkgoHelper()
	nodes, err := t.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: selector})
	Expect(err).NotTo(HaveOccurred())
	for i := range nodes.Items {
		a := &nodes.Items[i]
		if a.Spec.Unschedulable {
			continue
		}
		terms := nodeTopologyTerms(ctx, t, a)
		for j := range nodes.Items {
			b := &nodes.Items[j]
			if j != i && !b.Spec.Unschedulable && inSegment(b, terms) {
				return a, b, terms
			}
		}
	}
	return nil, nil, nil
}

// inSegment reports whether the node's labels satisfy the terms.
func inSegment(n *corev1.Node, terms []corev1.TopologySelectorTerm) bool {
	for _, term := range terms {
		for _, r := range term.MatchLabelExpressions {
			if !slices.Contains(r.Values, n.Labels[r.Key]) {
				return false
			}
		}
	}
	return true
}

// cordon marks the node unschedulable, as `kubectl drain` does first, and
// registers making it schedulable again.
func cordon(ctx SpecContext, t *target.Target, node string) {
	GinkgoHelper()
	set := func(ctx context.Context, v bool) error {
		patch := fmt.Sprintf(`{"spec":{"unschedulable":%t}}`, v)
		_, err := t.Kube.CoreV1().Nodes().Patch(ctx, node, k8stypes.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
		return err
	}
	Expect(set(ctx, true)).To(Succeed())
	t.Track("uncordon node "+node, func(ctx context.Context) error { return set(ctx, false) })
}
