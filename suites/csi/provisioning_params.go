package csi

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// What a StorageClass and a claim can ask of the driver (v3.3.1 accepts the
// parameters storagepolicyname, datastoreurl and fstype), checked in CNS and
// on the first-class disk.
var _ = Describe("Provisioning a block volume", Label(labels.CSI, labels.Provisioning), func() {
	var (
		t  *target.Target
		ns string
	)

	BeforeEach(func(ctx SpecContext) {
		t = target.Current()
		t.Require(target.BlockVolumes)
		ns = t.CreateNamespace(ctx, "csi-provision").Name
	})

	It("uses the default StorageClass and its policy when the claim names no class", func(ctx SpecContext) {
		def := t.Config.Storage.DefaultStorageClass
		if def == "" {
			Skip("target " + t.Config.Name + " declares no storage.defaultStorageClass")
		}
		sc, err := t.Kube.StorageV1().StorageClasses().Get(ctx, def, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred(), "the target's default StorageClass")
		Expect(sc.Annotations).To(HaveKeyWithValue("storageclass.kubernetes.io/is-default-class", "true"),
			"StorageClass %s is not marked as the cluster's default", def)

		pvc := target.NewPVC("data", "", "1Gi")
		pvc.Spec.StorageClassName = nil
		pvc = t.CreatePVC(ctx, ns, pvc)
		pvc, _, vol := boundVolume(ctx, t, ns, pvc.Name)
		Expect(ptr.Deref(pvc.Spec.StorageClassName, "")).To(Equal(def), "the claim did not get the default class")
		if policy := sc.Parameters["storagepolicyname"]; policy != "" {
			id, err := t.PolicyID(ctx, policy)
			Expect(err).NotTo(HaveOccurred())
			Expect(vol.StoragePolicyId).To(Equal(id), "CNS volume %s does not carry the default class's policy %q", vol.VolumeId.Id, policy)
		}
		Expect(mustFCD(ctx, t, vol.VolumeId.Id).Config.CapacityInMB).To(Equal(int64(1024)))
	}, SpecTimeout(3*time.Minute))

	It("places a volume by each storage policy the target offers, on a datastore that policy allows, and CNS reports it compliant", labels.Catches("placement-ignores-policy"), func(ctx SpecContext) {
		policies := t.Config.Storage.Policies
		if len(policies) == 0 {
			Skip("target " + t.Config.Name + " declares no storage.policies")
		}
		for i, policy := range policies {
			By("provisioning with storagepolicyname " + policy)
			sc := t.CreateStorageClass(ctx, target.StorageClassForPolicy(policy))
			claim := t.CreatePVC(ctx, ns, target.NewPVC(fmt.Sprintf("data-%d", i), sc.Name, "1Gi"))
			_, _, vol := boundVolume(ctx, t, ns, claim.Name)
			id, err := t.PolicyID(ctx, policy)
			Expect(err).NotTo(HaveOccurred())
			Expect(vol.StoragePolicyId).To(Equal(id), "CNS volume %s has policy %q, want %q (%s)", vol.VolumeId.Id, vol.StoragePolicyId, id, policy)
			ds, err := t.DatastoreOf(ctx, mustFCD(ctx, t, vol.VolumeId.Id))
			Expect(err).NotTo(HaveOccurred())
			Expect(compatibleDatastores(ctx, t, id)).To(ContainElement(ds.Reference().Value),
				"FCD %s is on datastore %s, which policy %q does not allow", vol.VolumeId.Id, ds.Reference().Value, policy)
			// SPBM's own answer is not enough: read the policy's tag
			// rules and the datastore's tags and check them ourselves.
			expectTagRulesMet(ctx, t, id, policy, ds.Reference(), vol.VolumeId.Id)
			Eventually(func(g Gomega) string {
				v, err := t.CNSVolume(ctx, vol.VolumeId.Id)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(v).NotTo(BeNil(), "CNS lost volume %s", vol.VolumeId.Id)
				return v.ComplianceStatus
			}).WithContext(ctx).WithTimeout(time.Minute).Should(Equal("compliant"),
				"CNS does not report volume %s compliant with policy %q", vol.VolumeId.Id, policy)
		}
	}, SpecTimeout(5*time.Minute))

	It("puts the volume on the datastore named by datastoreurl", labels.Catches("placement-ignores-datastores"), func(ctx SpecContext) {
		dss, err := t.Datastores(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(dss).NotTo(BeEmpty(), "vCenter lists no accessible datastore")
		want := dss[len(dss)-1]
		sc := t.CreateStorageClass(ctx, target.NewStorageClass("vsconform-dsurl", map[string]string{"datastoreurl": want.URL}))
		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc.Name, "1Gi"))
		_, _, vol := boundVolume(ctx, t, ns, claim.Name)
		Expect(vol.DatastoreUrl).To(Equal(want.URL), "CNS volume %s is on %s, want %s (datastoreurl)", vol.VolumeId.Id, vol.DatastoreUrl, want.URL)
		ds, err := t.DatastoreOf(ctx, mustFCD(ctx, t, vol.VolumeId.Id))
		Expect(err).NotTo(HaveOccurred())
		Expect(ds.Reference()).To(Equal(want.Ref), "FCD %s is on datastore %s, want %s", vol.VolumeId.Id, ds.Reference().Value, want.Name)
	}, SpecTimeout(3*time.Minute))

	It("records the filesystem type from csi.storage.k8s.io/fstype on the PV", func(ctx SpecContext) {
		sc := target.StorageClassForPolicy(requestedPolicy(t))
		sc.Parameters["csi.storage.k8s.io/fstype"] = "xfs"
		sc = t.CreateStorageClass(ctx, sc)
		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc.Name, "1Gi"))
		_, pv, vol := boundVolume(ctx, t, ns, claim.Name)
		Expect(pv.Spec.CSI.FSType).To(Equal("xfs"), "PV %s has fsType %q", pv.Name, pv.Spec.CSI.FSType)
		Expect(vol.VolumeType).To(Equal("BLOCK"))
		Expect(cnsCapacityMB(vol)).To(Equal(int64(1024)))
	}, SpecTimeout(3*time.Minute))

	It("rounds a size that is not a whole MiB up to the next MiB, in CNS, on the disk and on the PV", labels.Catches("create-smaller-disk"), func(ctx SpecContext) {
		// 1G = 10^9 bytes = 953.67 MiB; the driver rounds up to whole MiB
		// (common.RoundUpSize(bytes, MbInBytes) in CreateVolume) and reports
		// that as the volume's capacity.
		const wantMB = 954
		sc := t.CreateStorageClass(ctx, target.StorageClassForPolicy(requestedPolicy(t)))
		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc.Name, "1G"))
		claim, pv, vol := boundVolume(ctx, t, ns, claim.Name)
		Expect(cnsCapacityMB(vol)).To(Equal(int64(wantMB)), "CNS volume %s is not the size the claim asked for (MB)", vol.VolumeId.Id)
		Expect(mustFCD(ctx, t, vol.VolumeId.Id).Config.CapacityInMB).To(Equal(int64(wantMB)),
			"FCD %s is not the size the claim asked for (MB)", vol.VolumeId.Id)
		want := resource.MustParse("954Mi")
		got := pv.Spec.Capacity[corev1.ResourceStorage]
		Expect(got.Cmp(want)).To(Equal(0), "PV %s capacity %s, want %s", pv.Name, got.String(), want.String())
		got = claim.Status.Capacity[corev1.ResourceStorage]
		Expect(got.Cmp(want)).To(Equal(0), "PVC capacity %s, want %s", got.String(), want.String())
	}, SpecTimeout(3*time.Minute))

	It("provisions a raw block volume (volumeMode Block) and attaches it to the pod's node VM", func(ctx SpecContext) {
		sc := t.CreateStorageClass(ctx, target.StorageClassForPolicy(requestedPolicy(t)))
		pvc := target.NewPVC("raw", sc.Name, "1Gi")
		pvc.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeBlock)
		pvc = t.CreatePVC(ctx, ns, pvc)
		_, pv, vol := boundVolume(ctx, t, ns, pvc.Name)
		Expect(ptr.Deref(pv.Spec.VolumeMode, corev1.PersistentVolumeFilesystem)).To(Equal(corev1.PersistentVolumeBlock))
		Expect(vol.VolumeType).To(Equal("BLOCK"))

		pod := target.NewPod("app")
		pod.Spec.Volumes = []corev1.Volume{{Name: "raw", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: pvc.Name}}}}
		pod.Spec.Containers[0].VolumeDevices = []corev1.VolumeDevice{{Name: "raw", DevicePath: "/dev/xvda"}}
		pod = t.CreatePod(ctx, ns, pod)
		pod, err := t.WaitForPodRunning(ctx, ns, pod.Name)
		Expect(err).NotTo(HaveOccurred())
		expectAttached(ctx, t, pv, pod.Spec.NodeName)
		deletePodAndWaitDetached(ctx, t, ns, pod.Name, pv, pod.Spec.NodeName)
	}, SpecTimeout(4*time.Minute))
})
