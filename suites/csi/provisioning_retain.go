package csi

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

var _ = Describe("The reclaim policy of a block volume", Label(labels.CSI, labels.Provisioning), func() {
	var (
		t  *target.Target
		ns string
	)

	BeforeEach(func(ctx SpecContext) {
		t = target.Current()
		t.Require(target.BlockVolumes)
		ns = t.CreateNamespace(ctx, "csi-reclaim").Name
	})

	It("Delete removes the CNS volume and the FCD with the claim", labels.Catches("delete-leaves-fcd", "delete-does-nothing"), func(ctx SpecContext) {
		sc := t.CreateStorageClass(ctx, target.StorageClassForPolicy(requestedPolicy(t)))
		Expect(ptr.Deref(sc.ReclaimPolicy, "")).To(Equal(corev1.PersistentVolumeReclaimDelete))
		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc.Name, "1Gi"))
		_, pv, vol := boundVolume(ctx, t, ns, claim.Name)
		id := vol.VolumeId.Id
		mustFCD(ctx, t, id)

		Expect(t.Kube.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, claim.Name, metav1.DeleteOptions{})).To(Succeed())
		Expect(t.WaitForPVDeleted(ctx, pv.Name)).To(Succeed())
		_, err := t.WaitForCNSVolume(ctx, id, false)
		Expect(err).NotTo(HaveOccurred())
		expectFCDGone(ctx, t, id)
	}, SpecTimeout(3*time.Minute))

	It("Retain keeps the CNS volume and the FCD after the claim is deleted", func(ctx SpecContext) {
		sc := target.StorageClassForPolicy(requestedPolicy(t))
		sc.ReclaimPolicy = ptr.To(corev1.PersistentVolumeReclaimRetain)
		sc = t.CreateStorageClass(ctx, sc)
		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc.Name, "1Gi"))
		_, pv, vol := boundVolume(ctx, t, ns, claim.Name)
		id := vol.VolumeId.Id
		Expect(pv.Spec.PersistentVolumeReclaimPolicy).To(Equal(corev1.PersistentVolumeReclaimRetain))
		// Retained on purpose, so nobody else deletes it: this spec does,
		// through CNS, as an admin would once the data is no longer needed.
		t.Track("retained volume "+id, func(ctx context.Context) error {
			return t.DeleteVolumeAndDisk(ctx, id)
		})

		By("deleting the claim: the PV is Released, not deleted")
		Expect(t.Kube.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, claim.Name, metav1.DeleteOptions{})).To(Succeed())
		Expect(t.WaitForPVCDeleted(ctx, ns, claim.Name)).To(Succeed())
		_, err := t.WaitForPVPhase(ctx, pv.Name, corev1.VolumeReleased)
		Expect(err).NotTo(HaveOccurred(), "PV %s after its claim was deleted", pv.Name)

		By("keeping the CNS volume and the FCD")
		// Give a wrong delete time to happen before checking it did not.
		Consistently(func(ctx SpecContext) (bool, error) {
			v, err := t.CNSVolume(ctx, id)
			return v != nil, err
		}).WithContext(ctx).WithTimeout(5*time.Second).WithPolling(time.Second).Should(BeTrue(), "CNS volume %s of a retained PV was deleted", id)
		mustFCD(ctx, t, id)
		afterFullSync(ctx, t, func() {
			v, err := t.CNSVolume(ctx, id)
			Expect(err).NotTo(HaveOccurred())
			Expect(v).NotTo(BeNil(), "CNS volume %s of a retained PV was deleted by the syncer's full sync", id)
			mustFCD(ctx, t, id)
		})

		By("deleting the released PV keeps the FCD")
		Expect(t.Kube.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{})).To(Succeed())
		Expect(t.WaitForPVDeleted(ctx, pv.Name)).To(Succeed())
		// The syncer then drops the PV's entity metadata and, once no entity
		// is left, untracks the volume in CNS (CnsDeleteVolume with
		// deleteDisk=false): the disk must survive either way.
		Consistently(func(ctx SpecContext) (bool, error) {
			fcd, err := t.FCD(ctx, id)
			return fcd != nil, err
		}).WithContext(ctx).WithTimeout(5*time.Second).WithPolling(time.Second).Should(BeTrue(), "FCD %s of a retained PV was deleted with the PV", id)
		afterFullSync(ctx, t, func() { mustFCD(ctx, t, id) })
		v, err := t.CNSVolume(ctx, id)
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("after the PV was deleted, CNS still tracks volume %s: %t\n", id, v != nil)

		By("deleting the kept volume as an admin removes the FCD")
		Expect(t.DeleteVolumeAndDisk(ctx, id)).To(Succeed())
		_, err = t.WaitForCNSVolume(ctx, id, false)
		Expect(err).NotTo(HaveOccurred())
		expectFCDGone(ctx, t, id)
	}, SpecTimeout(3*time.Minute))
})
