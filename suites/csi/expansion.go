package csi

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

var _ = Describe("Expanding a block volume", Label(labels.CSI, labels.Expansion), func() {
	var (
		t  *target.Target
		ns string
		sc string
	)

	BeforeEach(func(ctx SpecContext) {
		t = target.Current()
		t.Require(target.BlockVolumes)
		ns = t.CreateNamespace(ctx, "csi-expand").Name
		class := target.StorageClassForPolicy(requestedPolicy(t))
		class.AllowVolumeExpansion = ptr.To(true)
		sc = t.CreateStorageClass(ctx, class).Name
	})

	It("offline grows the CNS volume, the FCD and the PV, and the bigger disk attaches again", labels.Catches("extend-cns-only", "extend-does-nothing"), func(ctx SpecContext) {
		t.Require(target.OfflineExpansion)
		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc, "1Gi"))
		_, pv, vol := boundVolume(ctx, t, ns, claim.Name)
		id := vol.VolumeId.Id
		node := runPodOn(ctx, t, ns, "before", claim.Name, pv)
		deletePodAndWaitDetached(ctx, t, ns, "before", pv, node)

		By("resizing the detached claim to 2Gi")
		resize(ctx, t, ns, claim.Name, "2Gi")
		Eventually(func(ctx SpecContext) (int64, error) {
			v, err := t.CNSVolume(ctx, id)
			if err != nil || v == nil {
				return 0, err
			}
			return cnsCapacity(v)
		}).WithContext(ctx).WithTimeout(2*time.Minute).Should(Equal(int64(2048)), "CNS volume %s did not grow to the resized claim's size (MB)", id)
		Expect(mustFCD(ctx, t, id).Config.CapacityInMB).To(Equal(int64(2048)), "FCD %s did not grow to the resized claim's size (MB)", id)
		Eventually(func(ctx SpecContext) (string, error) {
			got, err := t.Kube.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{})
			if err != nil {
				return "", err
			}
			q := got.Spec.Capacity[corev1.ResourceStorage]
			return q.String(), nil
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Equal("2Gi"), "PV %s capacity", pv.Name)

		// The controller side is done; the filesystem is grown by the
		// kubelet's NodeExpandVolume at the next mount. Until then the claim
		// keeps its old status capacity and says FileSystemResizePending
		// (kwok runs no kubelet, so here it stays so; on a real cluster the
		// next step would move it to 2Gi).
		// The resizer updates the PV before it moves the claim's condition
		// from Resizing on, so the claim is polled, not read once.
		Eventually(func(ctx SpecContext) ([]string, error) {
			claimNow, err := t.Kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim.Name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return claimConditions(claimNow), nil
		}).WithContext(ctx).WithTimeout(time.Minute).Should(ContainElement(string(corev1.PersistentVolumeClaimFileSystemResizePending)),
			"claim after the controller expanded its volume")

		By("attaching the grown disk to a new pod's node VM")
		node = runPodOn(ctx, t, ns, "after", claim.Name, pv)
		vm, err := t.VMByName(ctx, node)
		Expect(err).NotTo(HaveOccurred())
		disks, err := t.AttachedDisks(ctx, vm)
		Expect(err).NotTo(HaveOccurred())
		var sizeKB int64
		for _, d := range disks {
			if d.VDiskId != nil && d.VDiskId.Id == id {
				sizeKB = d.CapacityInKB
			}
		}
		Expect(sizeKB).To(Equal(int64(2048*1024)), "disk %s on VM %s did not grow to the resized claim's size (KB)", id, node)
	}, SpecTimeout(4*time.Minute))

	It("rejects shrinking a claim in the API server and leaves the volume as it was", Label(labels.Negative), func(ctx SpecContext) {
		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc, "2Gi"))
		_, _, vol := boundVolume(ctx, t, ns, claim.Name)
		patch := []byte(`{"spec":{"resources":{"requests":{"storage":"1Gi"}}}}`)
		_, err := t.Kube.CoreV1().PersistentVolumeClaims(ns).Patch(ctx, claim.Name, types.MergePatchType, patch, metav1.PatchOptions{})
		Expect(err).To(HaveOccurred(), "the API server accepted a smaller size")
		Expect(apierrors.IsInvalid(err) || apierrors.IsForbidden(err)).To(BeTrue(), "shrink refused with an unexpected error: %v", err)
		// kube-apiserver v1.34: "field can not be less than status.capacity".
		Expect(err.Error()).To(ContainSubstring("can not be less than"))
		v, err := t.CNSVolume(ctx, vol.VolumeId.Id)
		Expect(err).NotTo(HaveOccurred())
		Expect(cnsCapacityMB(v)).To(Equal(int64(2048)))
	}, SpecTimeout(2*time.Minute))

	It("fails a size beyond the datastore's free space with a clear event and loses nothing", Label(labels.Negative), func(ctx SpecContext) {
		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc, "1Gi"))
		_, pv, vol := boundVolume(ctx, t, ns, claim.Name)
		id := vol.VolumeId.Id
		ds, err := t.DatastoreByURL(ctx, vol.DatastoreUrl)
		Expect(err).NotTo(HaveOccurred())
		// Whole GiB above the free space, so no rounding can make it fit.
		tooBig := fmt.Sprintf("%dGi", ds.FreeSpace/(1<<30)+2)
		By(fmt.Sprintf("asking for %s on datastore %s, which has %d GiB free", tooBig, ds.Name, ds.FreeSpace>>30))
		resize(ctx, t, ns, claim.Name, tooBig)

		Eventually(func(ctx SpecContext) ([]string, error) {
			return eventMessages(ctx, t, ns, "PersistentVolumeClaim", claim.Name, "VolumeResizeFailed")
		}).WithContext(ctx).WithTimeout(2*time.Minute).Should(ContainElement(ContainSubstring("disk space")),
			"no VolumeResizeFailed event that says the datastore lacks space")

		By("keeping the volume, its data size and the claim's binding")
		got, err := t.Kube.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		capacity := got.Spec.Capacity[corev1.ResourceStorage]
		Expect(capacity.Cmp(resource.MustParse("1Gi"))).To(Equal(0), "PV %s capacity is %s after a failed expansion", pv.Name, capacity.String())
		c, err := t.Kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim.Name, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Status.Phase).To(Equal(corev1.ClaimBound))
		v, err := t.CNSVolume(ctx, id)
		Expect(err).NotTo(HaveOccurred())
		Expect(v).NotTo(BeNil(), "CNS volume %s is gone after a failed expansion", id)
		Expect(cnsCapacityMB(v)).To(Equal(int64(1024)))
		Expect(mustFCD(ctx, t, id).Config.CapacityInMB).To(Equal(int64(1024)))
	}, SpecTimeout(3*time.Minute))
})

// Online expansion is a Describe of its own so that a target without it
// skips before any object is made.
var _ = Describe("Expanding an attached block volume", Label(labels.CSI, labels.Expansion), func() {
	It("online grows an attached volume", labels.Catches("extend-cns-only", "extend-does-nothing"), func(ctx SpecContext) {
		t := target.Current()
		t.Require(target.BlockVolumes, target.OnlineExpansion)
		ns := t.CreateNamespace(ctx, "csi-expand-online").Name
		class := target.StorageClassForPolicy(requestedPolicy(t))
		class.AllowVolumeExpansion = ptr.To(true)
		sc := t.CreateStorageClass(ctx, class).Name
		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc, "1Gi"))
		_, pv, vol := boundVolume(ctx, t, ns, claim.Name)
		id := vol.VolumeId.Id
		node := runPodOn(ctx, t, ns, "app", claim.Name, pv)
		resize(ctx, t, ns, claim.Name, "2Gi")
		Eventually(func(ctx SpecContext) (int64, error) {
			return fcdCapacity(ctx, t, id)
		}).WithContext(ctx).WithTimeout(2*time.Minute).Should(Equal(int64(2048)), "FCD %s did not grow to the resized claim's size (MB)", id)
		expectAttached(ctx, t, pv, node)
	}, SpecTimeout(4*time.Minute))
})

func resize(ctx SpecContext, t *target.Target, ns, name, size string) {
	GinkgoHelper()
	patch := fmt.Appendf(nil, `{"spec":{"resources":{"requests":{"storage":%q}}}}`, size)
	_, err := t.Kube.CoreV1().PersistentVolumeClaims(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	Expect(err).NotTo(HaveOccurred(), "resize PVC %s/%s to %s", ns, name, size)
}

func claimConditions(pvc *corev1.PersistentVolumeClaim) []string {
	var out []string
	for _, c := range pvc.Status.Conditions {
		if c.Status == corev1.ConditionTrue {
			out = append(out, string(c.Type))
		}
	}
	return out
}
