package csi

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/pbm"
	pbmtypes "github.com/vmware/govmomi/pbm/types"
	"github.com/vmware/govmomi/vim25/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

var _ = Describe("Dynamic provisioning of a block volume", Label(labels.CSI, labels.Provisioning), func() {
	var (
		t  *target.Target
		ns string
	)

	BeforeEach(func(ctx SpecContext) {
		t = target.Current()
		t.Require(target.BlockVolumes)
		ns = t.CreateNamespace(ctx, "csi-provisioning").Name
	})

	It("creates a CNS volume with the requested policy, attaches it to the pod's node VM, and removes it with the claim", labels.Catches("delete-leaves-fcd", "delete-does-nothing", "create-ignores-policy",
		"create-smaller-disk", "detach-leaves-disk", "attach-wrong-vm", "attach-adds-no-disk", "metadata-wrong-cluster"), func(ctx SpecContext) {
		policy := requestedPolicy(t)
		sc := t.CreateStorageClass(ctx, target.StorageClassForPolicy(policy))
		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc.Name, "1Gi"))

		By("binding the claim to a PV of the vSphere CSI driver")
		claim, err := t.WaitForPVCBound(ctx, ns, claim.Name)
		Expect(err).NotTo(HaveOccurred())
		pv, err := t.Kube.CoreV1().PersistentVolumes().Get(ctx, claim.Spec.VolumeName, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(pv.Spec.CSI).NotTo(BeNil(), "PV %s is not a CSI volume", pv.Name)
		Expect(pv.Spec.CSI.Driver).To(Equal(driverName))
		volumeID := pv.Spec.CSI.VolumeHandle
		Expect(volumeID).NotTo(BeEmpty())

		By("finding in vCenter a CNS block volume with that ID, its size and the requested policy")
		volume, err := t.CNSVolume(ctx, volumeID)
		Expect(err).NotTo(HaveOccurred())
		Expect(volume).NotTo(BeNil(), "CNS has no volume %s", volumeID)
		Expect(volume.VolumeType).To(Equal("BLOCK"))
		Expect(volume.BackingObjectDetails).NotTo(BeNil())
		Expect(volume.BackingObjectDetails.GetCnsBackingObjectDetails().CapacityInMb).To(Equal(int64(1024)),
			"CNS volume %s is not the size the claim asked for (MB)", volumeID)
		policyID, err := t.PolicyID(ctx, policy)
		Expect(err).NotTo(HaveOccurred())
		Expect(volume.StoragePolicyId).To(Equal(policyID), "CNS volume %s has policy %q, want %q (%s)", volumeID, volume.StoragePolicyId, policyID, policy)
		if id := t.Config.CSI.ClusterID; id != "" {
			Expect(volume.Metadata.ContainerCluster.ClusterId).To(Equal(id),
				"CNS volume %s belongs to container cluster %q, want %q", volumeID, volume.Metadata.ContainerCluster.ClusterId, id)
		}

		By("finding the first-class disk on a datastore compatible with the policy")
		fcd, err := t.FCD(ctx, volumeID)
		Expect(err).NotTo(HaveOccurred())
		Expect(fcd).NotTo(BeNil(), "no first-class disk %s", volumeID)
		Expect(fcd.Config.CapacityInMB).To(Equal(int64(1024)), "FCD %s is not the size the claim asked for (MB)", volumeID)
		ds, err := t.DatastoreOf(ctx, fcd)
		Expect(err).NotTo(HaveOccurred())
		Expect(compatibleDatastores(ctx, t, policyID)).To(ContainElement(ds.Reference().Value),
			"FCD %s is on datastore %s, which policy %q does not allow", volumeID, ds.Reference().Value, policy)

		By("attaching the volume to the VM of the node that runs the pod")
		pod := t.CreatePod(ctx, ns, target.NewPod("app", claim.Name))
		// vCenter's side first: a disk on the wrong VM leaves a real node's
		// pod waiting for its device, which says less.
		node := scheduledNode(ctx, t, ns, pod.Name)
		_, err = t.WaitForVolumeAttachment(ctx, pv.Name, node, true)
		Expect(err).NotTo(HaveOccurred())
		vm, err := t.VMByName(ctx, node)
		Expect(err).NotTo(HaveOccurred())
		Expect(attachedDiskIDs(ctx, t, vm)).To(ContainElement(volumeID), "VM %s has no disk backed by FCD %s", node, volumeID)
		_, err = t.WaitForPodRunning(ctx, ns, pod.Name)
		Expect(err).NotTo(HaveOccurred())

		By("detaching the disk when the pod is deleted")
		Expect(t.Kube.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{})).To(Succeed())
		Expect(t.WaitForPodDeleted(ctx, ns, pod.Name)).To(Succeed())
		_, err = t.WaitForVolumeAttachment(ctx, pv.Name, node, false)
		Expect(err).NotTo(HaveOccurred())
		Expect(attachedDiskIDs(ctx, t, vm)).NotTo(ContainElement(volumeID), "VM %s still has FCD %s after detach", node, volumeID)

		By("removing the CNS volume and the FCD when the claim is deleted")
		Expect(t.Kube.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, claim.Name, metav1.DeleteOptions{})).To(Succeed())
		Expect(t.WaitForPVDeleted(ctx, pv.Name)).To(Succeed())
		_, err = t.WaitForCNSVolume(ctx, volumeID, false)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(ctx SpecContext) (*types.VStorageObject, error) {
			return t.FCD(ctx, volumeID)
		}).WithContext(ctx).WithTimeout(time.Minute).Should(BeNil(), "FCD %s still exists after its claim was deleted", volumeID)
	}, SpecTimeout(5*time.Minute))

	It("leaves a claim Pending with a ProvisioningFailed event that names a policy which does not exist", Label(labels.Negative), func(ctx SpecContext) {
		policy := "vsconform-missing-" + rand.String(6)
		sc := t.CreateStorageClass(ctx, target.StorageClassForPolicy(policy))
		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc.Name, "1Gi"))

		Eventually(func(ctx SpecContext) ([]string, error) {
			return eventMessages(ctx, t, ns, "PersistentVolumeClaim", claim.Name, "ProvisioningFailed")
		}).WithContext(ctx).WithTimeout(2*time.Minute).Should(ContainElement(ContainSubstring(policy)),
			"no ProvisioningFailed event naming policy %q", policy)

		claim, err := t.Kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim.Name, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(claim.Status.Phase).To(Equal(corev1.ClaimPending))
		Expect(claim.Spec.VolumeName).To(BeEmpty())
	}, SpecTimeout(3*time.Minute))
})

// requestedPolicy picks a policy other than the default StorageClass's when
// the target offers one, so the check cannot pass by falling back.
func requestedPolicy(t *target.Target) string {
	policies := t.Config.Storage.Policies
	if len(policies) == 0 {
		Skip(fmt.Sprintf("target %s declares no storage.policies", t.Config.Name))
	}
	return policies[len(policies)-1]
}

// compatibleDatastores asks SPBM which datastores satisfy the policy.
func compatibleDatastores(ctx SpecContext, t *target.Target, policyID string) []string {
	GinkgoHelper()
	datastores, err := t.Finder.DatastoreList(ctx, "*")
	Expect(err).NotTo(HaveOccurred())
	var hubs []pbmtypes.PbmPlacementHub
	for _, ds := range datastores {
		hubs = append(hubs, pbmtypes.PbmPlacementHub{HubType: ds.Reference().Type, HubId: ds.Reference().Value})
	}
	req := []pbmtypes.BasePbmPlacementRequirement{&pbmtypes.PbmPlacementCapabilityProfileRequirement{
		ProfileId: pbmtypes.PbmProfileId{UniqueId: policyID},
	}}
	result, err := t.PBM.CheckRequirements(ctx, hubs, nil, req)
	Expect(err).NotTo(HaveOccurred())
	var ids []string
	for _, hub := range pbm.PlacementCompatibilityResult(result).CompatibleDatastores() {
		ids = append(ids, hub.HubId)
	}
	return ids
}

// tagRuleNamespace is the capability namespace of SPBM's tag-based
// placement rules (vSphere Storage, "Create a Storage Policy for Tag-Based
// Placement"): the capability id is the tag category, the property's value
// the tags a datastore may carry.
const tagRuleNamespace = "http://www.vmware.com/storage/tag"

// policyTagRules reads a policy's tag rules: category -> allowed tags.
func policyTagRules(ctx SpecContext, t *target.Target, policyID string) map[string][]string {
	GinkgoHelper()
	profiles, err := t.PBM.RetrieveContent(ctx, []pbmtypes.PbmProfileId{{UniqueId: policyID}})
	Expect(err).NotTo(HaveOccurred())
	rules := map[string][]string{}
	for _, p := range profiles {
		cp, ok := p.(*pbmtypes.PbmCapabilityProfile)
		if !ok {
			continue
		}
		sub, ok := cp.Constraints.(*pbmtypes.PbmCapabilitySubProfileConstraints)
		if !ok {
			continue
		}
		for _, s := range sub.SubProfiles {
			for _, c := range s.Capability {
				if c.Id.Namespace != tagRuleNamespace {
					continue
				}
				for _, ci := range c.Constraint {
					for _, prop := range ci.PropertyInstance {
						rules[c.Id.Id] = append(rules[c.Id.Id], ruleValues(prop.Value)...)
					}
				}
			}
		}
	}
	return rules
}

func ruleValues(v types.AnyType) []string {
	var vals []types.AnyType
	switch v := v.(type) {
	case pbmtypes.PbmCapabilityDiscreteSet:
		vals = v.Values
	case *pbmtypes.PbmCapabilityDiscreteSet:
		vals = v.Values
	default:
		vals = []types.AnyType{v}
	}
	var out []string
	for _, x := range vals {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// expectTagRulesMet checks, through vAPI tagging, that the datastore holding
// a volume carries a tag of each category the policy's tag rules name.
func expectTagRulesMet(ctx SpecContext, t *target.Target, policyID, policy string, ds types.ManagedObjectReference, volumeID string) {
	GinkgoHelper()
	attached, err := t.Tags.GetAttachedTags(ctx, ds)
	Expect(err).NotTo(HaveOccurred())
	carried := map[string][]string{} // category name -> tags
	for _, tag := range attached {
		cat, err := t.Tags.GetCategory(ctx, tag.CategoryID)
		Expect(err).NotTo(HaveOccurred())
		carried[cat.Name] = append(carried[cat.Name], tag.Name)
	}
	for category, allowed := range policyTagRules(ctx, t, policyID) {
		Expect(carried[category]).To(ContainElement(BeElementOf(allowed)),
			"FCD %s is on datastore %s, which carries none of the tags %v of category %q that policy %q requires",
			volumeID, ds.Value, allowed, category, policy)
	}
}

func attachedDiskIDs(ctx SpecContext, t *target.Target, vm *object.VirtualMachine) []string {
	GinkgoHelper()
	disks, err := t.AttachedDisks(ctx, vm)
	Expect(err).NotTo(HaveOccurred())
	return target.DiskIDs(disks)
}

// eventMessages lists the messages of the object's events with reason.
func eventMessages(ctx SpecContext, t *target.Target, ns, kind, name, reason string) ([]string, error) {
	events, err := t.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
		FieldSelector: fmt.Sprintf("involvedObject.kind=%s,involvedObject.name=%s,reason=%s", kind, name, reason),
	})
	if err != nil {
		return nil, err
	}
	var msgs []string
	for _, e := range events.Items {
		msgs = append(msgs, e.Message)
	}
	return msgs, nil
}
