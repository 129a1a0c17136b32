package migration

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	cnstypes "github.com/vmware/govmomi/cns/types"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ktypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// inTreeStorageClass is a StorageClass as written for the in-tree plugin,
// with its own parameter names.
func inTreeStorageClass(params map[string]string, reclaim corev1.PersistentVolumeReclaimPolicy) *storagev1.StorageClass {
	return &storagev1.StorageClass{
		ObjectMeta:           metav1.ObjectMeta{Name: "vsconform-intree"},
		Provisioner:          inTreePlugin,
		Parameters:           params,
		ReclaimPolicy:        ptr.To(reclaim),
		VolumeBindingMode:    ptr.To(storagev1.VolumeBindingImmediate),
		AllowVolumeExpansion: ptr.To(true),
	}
}

// requestedPolicy is a policy other than the default StorageClass's when the
// target offers one, so a fallback to the default cannot pass.
func requestedPolicy(t *target.Target) string {
	policies := t.Config.Storage.Policies
	if len(policies) == 0 {
		Skip(fmt.Sprintf("target %s declares no storage.policies", t.Config.Name))
	}
	return policies[len(policies)-1]
}

// migratedPV waits for the claim to bind and checks the PV the CSI driver
// provisioned for the in-tree class: an in-tree vsphereVolume PV with the
// migration annotations, recorded in CNS under its path. It returns the PV
// and the CNS volume ID.
func migratedPV(ctx SpecContext, t *target.Target, ns, claim string) (*corev1.PersistentVolume, string) {
	GinkgoHelper()
	pvc, err := t.WaitForPVCBound(ctx, ns, claim)
	Expect(err).NotTo(HaveOccurred())
	pv, err := t.Kube.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	Expect(pv.Spec.VsphereVolume).NotTo(BeNil(), "PV %s is not an in-tree vSphere volume", pv.Name)
	Expect(pv.Annotations).To(HaveKeyWithValue(annProvidedBy, inTreePlugin))
	Expect(pv.Annotations).To(HaveKeyWithValue(annMigratedTo, driverName))
	path := pv.Spec.VsphereVolume.VolumePath
	Expect(path).To(MatchRegexp(`^\[[^\]]+\] .+\.vmdk$`), "PV %s volumePath is not a datastore path", pv.Name)
	return pv, waitMigrated(ctx, t, path)
}

func expectCapacityMB(ctx SpecContext, t *target.Target, id string, mb int64) {
	GinkgoHelper()
	Eventually(func(ctx SpecContext) (int64, error) {
		vol, err := t.CNSVolume(ctx, id)
		if err != nil || vol == nil {
			return 0, err
		}
		return vol.BackingObjectDetails.GetCnsBackingObjectDetails().CapacityInMb, nil
	}).WithContext(ctx).WithTimeout(time.Minute).Should(Equal(mb), "CNS volume %s is not the size the claim asked for (MB)", id)
	fcd, err := t.FCD(ctx, id)
	Expect(err).NotTo(HaveOccurred())
	Expect(fcd).NotTo(BeNil())
	Expect(fcd.Config.CapacityInMB).To(Equal(mb), "FCD %s is not the size the claim asked for (MB)", id)
}

var _ = Describe("In-tree vSphere StorageClasses after CSI migration", Label(labels.Migration), func() {
	var t *target.Target
	var ns string
	BeforeEach(func(ctx SpecContext) {
		t = target.Current()
		t.Require(target.Migration)
		ns = t.CreateNamespace(ctx, "migr-dyn").Name
	})

	It("provisions through the CSI driver with the requested policy, expands it and deletes it with its claim", labels.Catches("delete-leaves-fcd", "delete-does-nothing",
		"create-ignores-policy", "create-smaller-disk"), func(ctx SpecContext) {
		policy := requestedPolicy(t)
		policyID, err := t.PolicyID(ctx, policy)
		Expect(err).NotTo(HaveOccurred())
		sc := t.CreateStorageClass(ctx, inTreeStorageClass(map[string]string{
			"storagePolicyName": policy, "diskformat": "thin",
		}, corev1.PersistentVolumeReclaimDelete))
		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc.Name, "1Gi"))

		By("checking the PV (in-tree, migration annotations) and the CNS volume (policy " + policy + ")")
		pv, id := migratedPV(ctx, t, ns, claim.Name)
		vol := expectCNSBacking(ctx, t, id, pv.Spec.VsphereVolume.VolumePath)
		Expect(vol.StoragePolicyId).To(Equal(policyID), "CNS volume %s has another policy than %s", id, policy)
		expectCapacityMB(ctx, t, id, 1024)

		By("expanding the claim to 2Gi: the PV, the CNS volume and the FCD grow")
		patch := []byte(`{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}`)
		_, err = t.Kube.CoreV1().PersistentVolumeClaims(ns).Patch(ctx, claim.Name, ktypes.MergePatchType, patch, metav1.PatchOptions{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(ctx SpecContext) (bool, error) {
			got, err := t.Kube.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			q := got.Spec.Capacity[corev1.ResourceStorage]
			return q.Cmp(resource.MustParse("2Gi")) == 0, nil
		}).WithContext(ctx).WithTimeout(2*time.Minute).Should(BeTrue(), "PV %s did not grow to 2Gi", pv.Name)
		expectCapacityMB(ctx, t, id, 2048)

		By("deleting the claim: reclaim policy Delete removes the PV, the CNS volume, the FCD and the record")
		Expect(t.Kube.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, claim.Name, metav1.DeleteOptions{})).To(Succeed())
		Expect(t.WaitForPVDeleted(ctx, pv.Name)).To(Succeed())
		_, err = t.WaitForCNSVolume(ctx, id, false)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(ctx SpecContext) (bool, error) {
			fcd, err := t.FCD(ctx, id)
			return fcd != nil, err
		}).WithContext(ctx).WithTimeout(time.Minute).Should(BeFalse(), "FCD %s still exists", id)
	}, SpecTimeout(5*time.Minute))

	It("keeps the CNS volume and its disk after the claim is deleted when the reclaim policy is Retain", func(ctx SpecContext) {
		sc := t.CreateStorageClass(ctx, inTreeStorageClass(map[string]string{"diskformat": "thin"}, corev1.PersistentVolumeReclaimRetain))
		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc.Name, "1Gi"))
		pv, id := migratedPV(ctx, t, ns, claim.Name)
		path := pv.Spec.VsphereVolume.VolumePath
		t.Track("retained volume "+path, func(ctx context.Context) error {
			err := t.Kube.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			if err := t.WaitForPVDeleted(ctx, pv.Name); err != nil {
				return err
			}
			return removeLegacyVMDK(ctx, t, path)
		})
		expectCNSBacking(ctx, t, id, path)

		Expect(t.Kube.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, claim.Name, metav1.DeleteOptions{})).To(Succeed())
		Expect(t.WaitForPVCDeleted(ctx, ns, claim.Name)).To(Succeed())
		_, err := t.WaitForPVPhase(ctx, pv.Name, corev1.VolumeReleased)
		Expect(err).NotTo(HaveOccurred())
		// A few seconds for a wrong delete to show in vCenter.
		Consistently(func(ctx SpecContext) (*cnstypes.CnsVolume, error) {
			return t.CNSVolume(ctx, id)
		}).WithContext(ctx).WithTimeout(5*time.Second).WithPolling(time.Second).ShouldNot(BeNil(), "CNS volume %s was deleted", id)
		expectCNSBacking(ctx, t, id, path)
		if t.Config.Capabilities.FullSyncTrigger {
			By("running a full sync of the CSI syncer: the retained volume stays")
			Expect(t.TriggerFullSync(ctx)).To(Succeed())
			expectCNSBacking(ctx, t, id, path)
		}
	}, SpecTimeout(4*time.Minute))

	// The driver's migration path (v3.3.1 pkg/csi/service/common/util.go,
	// parseStorageClassParams) refuses the in-tree vSAN policy parameters
	// hostFailuresToTolerate, forceProvisioning, cacheReservation,
	// diskStripes, objectSpaceReservation, iopsLimit, and any diskformat
	// other than thin.
	DescribeTable("refuses an in-tree parameter it does not support with a clear error and creates no volume",
		Label(labels.Negative),
		func(ctx SpecContext, key, value, want string) {
			before, err := t.ListCNSVolumes(ctx)
			Expect(err).NotTo(HaveOccurred())
			sc := t.CreateStorageClass(ctx, inTreeStorageClass(map[string]string{key: value}, corev1.PersistentVolumeReclaimDelete))
			claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc.Name, "1Gi"))
			Eventually(func(ctx SpecContext) ([]string, error) {
				return eventMessages(ctx, t, ns, claim.Name, "ProvisioningFailed")
			}).WithContext(ctx).WithTimeout(2*time.Minute).Should(ContainElement(ContainSubstring(want)),
				"no ProvisioningFailed event with %q", want)
			got, err := t.Kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim.Name, metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(got.Status.Phase).To(Equal(corev1.ClaimPending))
			after, err := t.ListCNSVolumes(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(after).To(HaveLen(len(before)), "CNS got a volume although the claim was refused")
		},
		Entry("hostFailuresToTolerate", SpecTimeout(3*time.Minute), "hostFailuresToTolerate", "1",
			"does not support creating volume using in-tree vSphere volume plugin parameter key:hostfailurestotolerate"),
		Entry("iopsLimit", SpecTimeout(3*time.Minute), "iopsLimit", "100",
			"does not support creating volume using in-tree vSphere volume plugin parameter key:iopslimit"),
		Entry("diskformat zeroedthick", SpecTimeout(3*time.Minute), "diskformat", "zeroedthick", "invalid parameter. key:diskformat"),
	)
})

func eventMessages(ctx SpecContext, t *target.Target, ns, name, reason string) ([]string, error) {
	events, err := t.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
		FieldSelector: fmt.Sprintf("involvedObject.kind=PersistentVolumeClaim,involvedObject.name=%s,reason=%s", name, reason),
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
