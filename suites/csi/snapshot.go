package csi

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// snapshotClass is the VolumeSnapshotClass of the vSphere CSI driver that
// the target provides.
const snapshotClass = "vsphere-snapshots"

var (
	snapshotGVR        = schema.GroupVersionResource{Group: "snapshot.storage.k8s.io", Version: "v1", Resource: "volumesnapshots"}
	snapshotContentGVR = schema.GroupVersionResource{Group: "snapshot.storage.k8s.io", Version: "v1", Resource: "volumesnapshotcontents"}
	snapshotClassGVR   = schema.GroupVersionResource{Group: "snapshot.storage.k8s.io", Version: "v1", Resource: "volumesnapshotclasses"}
)

var _ = Describe("Snapshots of a block volume", Label(labels.CSI, labels.Snapshot), func() {
	var (
		t  *target.Target
		ns string
		sc string
	)

	BeforeEach(func(ctx SpecContext) {
		t = target.Current()
		t.Require(target.BlockVolumes, target.Snapshots)
		class, err := t.Dynamic.Resource(snapshotClassGVR).Get(ctx, snapshotClass, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred(), "VolumeSnapshotClass %s", snapshotClass)
		Expect(class.Object["driver"]).To(Equal(driverName))
		ns = t.CreateNamespace(ctx, "csi-snapshot").Name
		sc = t.CreateStorageClass(ctx, target.StorageClassForPolicy(requestedPolicy(t))).Name
	})

	It("becomes ready with a CNS snapshot of the FCD, restores into a new claim, and removes the CNS snapshot when deleted", labels.Catches("snapshot-delete-does-nothing", "snapshot-delete-cns-only"), func(ctx SpecContext) {
		claim := t.CreatePVC(ctx, ns, target.NewPVC("source", sc, "1Gi"))
		_, _, vol := boundVolume(ctx, t, ns, claim.Name)
		id := vol.VolumeId.Id

		By("taking a VolumeSnapshot that becomes readyToUse")
		snap := createSnapshot(ctx, t, ns, "snap", claim.Name)
		handle := waitSnapshotReady(ctx, t, ns, snap)
		// The driver's snapshot handle is "<CNS volume ID>+<CNS snapshot ID>".
		volID, snapID, ok := strings.Cut(handle, "+")
		Expect(ok).To(BeTrue(), "snapshot handle %q is not <volume>+<snapshot>", handle)
		Expect(volID).To(Equal(id))
		Expect(cnsSnapshotIDs(ctx, t, id)).To(ContainElement(snapID), "CNS has no snapshot %s on volume %s", snapID, id)

		By("restoring it into a new claim, backed by a new CNS volume")
		restore := target.NewPVC("restored", sc, "1Gi")
		restore.Spec.DataSource = &corev1.TypedLocalObjectReference{
			APIGroup: ptr.To(snapshotGVR.Group), Kind: "VolumeSnapshot", Name: snap,
		}
		restore = t.CreatePVC(ctx, ns, restore)
		_, _, restored := boundVolume(ctx, t, ns, restore.Name)
		Expect(restored.VolumeId.Id).NotTo(Equal(id))
		mustFCD(ctx, t, restored.VolumeId.Id)
		// The content is compared where pods really run (data_snapshot.go).

		By("deleting the VolumeSnapshot removes the CNS snapshot")
		Expect(t.Dynamic.Resource(snapshotGVR).Namespace(ns).Delete(ctx, snap, metav1.DeleteOptions{})).To(Succeed())
		Eventually(func(ctx SpecContext) ([]string, error) {
			return cnsSnapshotIDsErr(ctx, t, id)
		}).WithContext(ctx).WithTimeout(2*time.Minute).ShouldNot(ContainElement(snapID), "CNS snapshot %s is still on volume %s", snapID, id)

		By("and from the FCD's own snapshot list (VSLM), which a CNS snapshot is")
		Eventually(func(ctx SpecContext) ([]string, error) {
			return t.FCDSnapshotIDs(ctx, id)
		}).WithContext(ctx).WithTimeout(time.Minute).ShouldNot(ContainElement(snapID),
			"FCD %s still lists snapshot %s in its VSLM snapshot list after the CNS snapshot was deleted", id, snapID)
	}, SpecTimeout(5*time.Minute))

	It("refuses a snapshot beyond the per-volume limit with a clear error", Label(labels.Negative), func(ctx SpecContext) {
		t.Require(target.MaxSnapshotsPerVolume)
		limit := t.Config.Capabilities.MaxSnapshotsPerVolume
		claim := t.CreatePVC(ctx, ns, target.NewPVC("source", sc, "1Gi"))
		_, _, vol := boundVolume(ctx, t, ns, claim.Name)
		id := vol.VolumeId.Id
		for i := range limit {
			waitSnapshotReady(ctx, t, ns, createSnapshot(ctx, t, ns, fmt.Sprintf("snap-%d", i), claim.Name))
		}
		Expect(cnsSnapshotIDs(ctx, t, id)).To(HaveLen(limit))

		By(fmt.Sprintf("asking for snapshot %d of a volume limited to %d", limit+1, limit))
		over := createSnapshot(ctx, t, ns, "one-too-many", claim.Name)
		Eventually(func(ctx SpecContext) (string, error) {
			return snapshotError(ctx, t, ns, over)
		}).WithContext(ctx).WithTimeout(2*time.Minute).Should(ContainSubstring("reaches the configured maximum"),
			"VolumeSnapshot %s beyond the limit has no error that names the limit", over)
		got, err := t.Dynamic.Resource(snapshotGVR).Namespace(ns).Get(ctx, over, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		ready, _, _ := unstructured.NestedBool(got.Object, "status", "readyToUse")
		Expect(ready).To(BeFalse())
		Expect(cnsSnapshotIDs(ctx, t, id)).To(HaveLen(limit), "CNS holds more snapshots of %s than the limit", id)
	}, SpecTimeout(5*time.Minute))
})

// createSnapshot creates a VolumeSnapshot of a claim and registers its
// deletion, which waits until its content (and so the CNS snapshot) is gone.
func createSnapshot(ctx SpecContext, t *target.Target, ns, name, claim string) string {
	GinkgoHelper()
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "snapshot.storage.k8s.io/v1",
		"kind":       "VolumeSnapshot",
		"metadata":   map[string]any{"name": name, "labels": map[string]any{target.LabelSpec: "true"}},
		"spec": map[string]any{
			"volumeSnapshotClassName": snapshotClass,
			"source":                  map[string]any{"persistentVolumeClaimName": claim},
		},
	}}
	_, err := t.Dynamic.Resource(snapshotGVR).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred(), "create VolumeSnapshot %s/%s", ns, name)
	t.Track(fmt.Sprintf("VolumeSnapshot %s/%s", ns, name), func(ctx context.Context) error {
		got, err := t.Dynamic.Resource(snapshotGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		content, _, _ := unstructured.NestedString(got.Object, "status", "boundVolumeSnapshotContentName")
		err = t.Dynamic.Resource(snapshotGVR).Namespace(ns).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if content == "" {
			return nil
		}
		return target.WaitFor(ctx, "VolumeSnapshotContent "+content+" to be deleted", target.Timeouts.Delete, func(ctx context.Context) (bool, string, error) {
			_, err := t.Dynamic.Resource(snapshotContentGVR).Get(ctx, content, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, "", nil
			}
			if err != nil {
				return false, err.Error(), nil
			}
			return false, "present", nil
		})
	})
	return name
}

// waitSnapshotReady waits until the VolumeSnapshot is readyToUse and
// returns its content's snapshot handle.
func waitSnapshotReady(ctx SpecContext, t *target.Target, ns, name string) string {
	GinkgoHelper()
	var content string
	err := target.WaitFor(ctx, fmt.Sprintf("VolumeSnapshot %s/%s to be readyToUse", ns, name), 2*time.Minute,
		func(ctx context.Context) (bool, string, error) {
			got, err := t.Dynamic.Resource(snapshotGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error(), nil
			}
			ready, _, _ := unstructured.NestedBool(got.Object, "status", "readyToUse")
			content, _, _ = unstructured.NestedString(got.Object, "status", "boundVolumeSnapshotContentName")
			msg, _, _ := unstructured.NestedString(got.Object, "status", "error", "message")
			return ready && content != "", fmt.Sprintf("readyToUse %t, content %q, error %q", ready, content, msg), nil
		})
	Expect(err).NotTo(HaveOccurred())
	c, err := t.Dynamic.Resource(snapshotContentGVR).Get(ctx, content, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	handle, _, _ := unstructured.NestedString(c.Object, "status", "snapshotHandle")
	Expect(handle).NotTo(BeEmpty(), "VolumeSnapshotContent %s has no snapshotHandle", content)
	return handle
}

// snapshotError is the error the snapshot or its content reports.
func snapshotError(ctx SpecContext, t *target.Target, ns, name string) (string, error) {
	got, err := t.Dynamic.Resource(snapshotGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	msg, _, _ := unstructured.NestedString(got.Object, "status", "error", "message")
	if content, _, _ := unstructured.NestedString(got.Object, "status", "boundVolumeSnapshotContentName"); content != "" {
		if c, err := t.Dynamic.Resource(snapshotContentGVR).Get(ctx, content, metav1.GetOptions{}); err == nil {
			if m, _, _ := unstructured.NestedString(c.Object, "status", "error", "message"); m != "" {
				msg += " | content: " + m
			}
		}
	}
	return msg, nil
}

func cnsSnapshotIDs(ctx SpecContext, t *target.Target, volumeID string) []string {
	GinkgoHelper()
	ids, err := cnsSnapshotIDsErr(ctx, t, volumeID)
	Expect(err).NotTo(HaveOccurred())
	return ids
}

func cnsSnapshotIDsErr(ctx SpecContext, t *target.Target, volumeID string) ([]string, error) {
	snaps, err := t.CNSSnapshots(ctx, volumeID)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, s := range snaps {
		ids = append(ids, s.SnapshotId.Id)
	}
	return ids, nil
}
