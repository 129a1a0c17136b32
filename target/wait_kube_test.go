package target

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

// shortTimeouts makes every typed wait give up fast for the test.
func shortTimeouts(t *testing.T, d time.Duration) {
	saved := Timeouts
	t.Cleanup(func() { Timeouts = saved })
	Timeouts = WaitTimeouts{PVCBound: d, PodRunning: d, Attach: d, Delete: d, CNSVolume: d, NamespaceGone: d}
}

func pendingPVC(ns, name string) *corev1.PersistentVolumeClaim {
	pvc := NewPVC(name, "gold", "1Gi")
	pvc.Namespace = ns
	pvc.Status.Phase = corev1.ClaimPending
	return pvc
}

func event(ns, kind, name, typ, reason, msg string, at time.Time) *corev1.Event {
	return &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Namespace: ns, Name: name + "." + reason},
		InvolvedObject: corev1.ObjectReference{Kind: kind, Name: name, Namespace: ns},
		Type:           typ, Reason: reason, Message: msg,
		LastTimestamp: metav1.NewTime(at),
	}
}

func TestWaitForPVCBound(t *testing.T) {
	ctx := context.Background()
	kube := fake.NewClientset(pendingPVC("ns", "data"))
	tg := &Target{Kube: kube}
	time.AfterFunc(300*time.Millisecond, func() {
		pvc, _ := kube.CoreV1().PersistentVolumeClaims("ns").Get(ctx, "data", metav1.GetOptions{})
		pvc.Status.Phase = corev1.ClaimBound
		pvc.Spec.VolumeName = "pv-1"
		_, _ = kube.CoreV1().PersistentVolumeClaims("ns").UpdateStatus(ctx, pvc, metav1.UpdateOptions{})
	})
	pvc, err := tg.WaitForPVCBound(ctx, "ns", "data")
	if err != nil || pvc.Spec.VolumeName != "pv-1" {
		t.Fatalf("got %v, %v", pvc, err)
	}
}

func TestWaitForPVCBoundTimeoutShowsLastEvent(t *testing.T) {
	shortTimeouts(t, 400*time.Millisecond)
	now := time.Now()
	kube := fake.NewClientset(
		pendingPVC("ns", "data"),
		event("ns", "PersistentVolumeClaim", "data", "Normal", "Provisioning", "External provisioner is provisioning", now.Add(-time.Minute)),
		event("ns", "PersistentVolumeClaim", "data", "Warning", "ProvisioningFailed", "failed to provision volume:\nno datastore", now),
		event("ns", "PersistentVolumeClaim", "other", "Warning", "Unrelated", "x", now.Add(time.Minute)),
	)
	tg := &Target{Kube: kube}
	_, err := tg.WaitForPVCBound(context.Background(), "ns", "data")
	want := "timed out after 400ms waiting for PVC ns/data to be Bound; last state: phase Pending; last event: Warning ProvisioningFailed: failed to provision volume: no datastore"
	if err == nil || err.Error() != want {
		t.Fatalf("error\n got %v\nwant %s", err, want)
	}
}

// A Normal "waiting" event after the Warning does not hide why.
func TestWaitForPVCBoundTimeoutShowsLastWarning(t *testing.T) {
	shortTimeouts(t, 400*time.Millisecond)
	now := time.Now()
	kube := fake.NewClientset(
		pendingPVC("ns", "data"),
		event("ns", "PersistentVolumeClaim", "data", "Warning", "ProvisioningFailed", "failed to calculate accessible topologies", now.Add(-time.Minute)),
		event("ns", "PersistentVolumeClaim", "data", "Normal", "ExternalProvisioning", "Waiting for a volume to be created", now),
	)
	tg := &Target{Kube: kube}
	_, err := tg.WaitForPVCBound(context.Background(), "ns", "data")
	want := "timed out after 400ms waiting for PVC ns/data to be Bound; last state: phase Pending; last event: Normal ExternalProvisioning: " +
		"Waiting for a volume to be created; last warning: ProvisioningFailed: failed to calculate accessible topologies"
	if err == nil || err.Error() != want {
		t.Fatalf("error\n got %v\nwant %s", err, want)
	}
}

func TestWaitForPVCPhaseWaitsForMissingClaim(t *testing.T) {
	shortTimeouts(t, 300*time.Millisecond)
	tg := &Target{Kube: fake.NewClientset()}
	_, err := tg.WaitForPVCBound(context.Background(), "ns", "www-web-0")
	if err == nil || !strings.HasSuffix(err.Error(), "last state: PVC does not exist") {
		t.Fatalf("got %v", err)
	}
}

func TestWaitForPodRunning(t *testing.T) {
	shortTimeouts(t, 300*time.Millisecond)
	pod := NewPod("app", "data")
	pod.Namespace = "ns"
	pod.Status.Phase = corev1.PodPending
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		Message: "0/3 nodes are available: 3 node(s) had volume node affinity conflict."}}
	tg := &Target{Kube: fake.NewClientset(pod)}
	_, err := tg.WaitForPodRunning(context.Background(), "ns", "app")
	want := "last state: phase Pending; unschedulable: 0/3 nodes are available: 3 node(s) had volume node affinity conflict."
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("got %v", err)
	}

	failed := NewPod("crash", "data")
	failed.Namespace = "ns"
	failed.Status.Phase = corev1.PodFailed
	failed.Status.Reason = "Evicted"
	tg = &Target{Kube: fake.NewClientset(failed)}
	if _, err := tg.WaitForPodRunning(context.Background(), "ns", "crash"); err == nil || !strings.Contains(err.Error(), "ended in phase Failed: Evicted") {
		t.Fatalf("got %v", err)
	}
}

func TestWaitForVolumeAttachment(t *testing.T) {
	shortTimeouts(t, 300*time.Millisecond)
	va := &storagev1.VolumeAttachment{
		ObjectMeta: metav1.ObjectMeta{Name: "csi-123"},
		Spec: storagev1.VolumeAttachmentSpec{
			Attacher: CSIDriverName, NodeName: "node-1",
			Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: ptr.To("pv-1")},
		},
		Status: storagev1.VolumeAttachmentStatus{AttachError: &storagev1.VolumeError{Message: "CnsFault: disk busy"}},
	}
	kube := fake.NewClientset(va)
	tg := &Target{Kube: kube}
	ctx := context.Background()

	_, err := tg.WaitForVolumeAttachment(ctx, "pv-1", "node-1", true)
	want := "timed out after 300ms waiting for PV pv-1 to be attached to node node-1; last state: VolumeAttachment csi-123 attached=false; attach error: CnsFault: disk busy"
	if err == nil || err.Error() != want {
		t.Fatalf("error\n got %v\nwant %s", err, want)
	}
	if _, err := tg.WaitForVolumeAttachment(ctx, "pv-1", "node-2", true); err == nil || !strings.HasSuffix(err.Error(), "last state: no VolumeAttachment") {
		t.Fatalf("other node: %v", err)
	}

	va.Status = storagev1.VolumeAttachmentStatus{Attached: true}
	if _, err := kube.StorageV1().VolumeAttachments().Update(ctx, va, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := tg.WaitForVolumeAttachment(ctx, "pv-1", "node-1", true)
	if err != nil || got.Name != "csi-123" {
		t.Fatalf("attached: %v, %v", got, err)
	}

	time.AfterFunc(200*time.Millisecond, func() {
		_ = kube.StorageV1().VolumeAttachments().Delete(ctx, "csi-123", metav1.DeleteOptions{})
	})
	Timeouts.Attach = 2 * time.Second
	if got, err := tg.WaitForVolumeAttachment(ctx, "pv-1", "node-1", false); err != nil || got != nil {
		t.Fatalf("detached: %v, %v", got, err)
	}
}

func TestWaitForNamespaceGoneShowsWhatRemains(t *testing.T) {
	shortTimeouts(t, 300*time.Millisecond)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "csi-x"}, Status: corev1.NamespaceStatus{
		Phase: corev1.NamespaceTerminating,
		Conditions: []corev1.NamespaceCondition{{Type: corev1.NamespaceContentRemaining, Status: corev1.ConditionTrue,
			Message: "Some resources are remaining: persistentvolumeclaims. has 1 resource instances"}},
	}}
	tg := &Target{Kube: fake.NewClientset(ns)}
	err := tg.WaitForNamespaceGone(context.Background(), "csi-x")
	want := "last state: phase Terminating; NamespaceContentRemaining: Some resources are remaining: persistentvolumeclaims. has 1 resource instances"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("got %v", err)
	}
}

func TestWaitForPVDeleted(t *testing.T) {
	shortTimeouts(t, 300*time.Millisecond)
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-1"}, Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeFailed}}
	kube := fake.NewClientset(pv, event("default", "PersistentVolume", "pv-1", "Warning", "VolumeFailedDelete", "rpc error: CnsFault", time.Now()))
	tg := &Target{Kube: kube}
	err := tg.WaitForPVDeleted(context.Background(), "pv-1")
	if err == nil || !strings.HasSuffix(err.Error(), "last state: phase Failed; last event: Warning VolumeFailedDelete: rpc error: CnsFault") {
		t.Fatalf("got %v", err)
	}
	_ = kube.CoreV1().PersistentVolumes().Delete(context.Background(), "pv-1", metav1.DeleteOptions{})
	if err := tg.WaitForPVDeleted(context.Background(), "pv-1"); err != nil {
		t.Fatal(err)
	}
}

func TestDescribePVC(t *testing.T) {
	pvc := pendingPVC("ns", "data")
	pvc.Spec.VolumeName = "pv-1"
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-1"}, Spec: corev1.PersistentVolumeSpec{
		PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: CSIDriverName, VolumeHandle: "vol-123"}},
	}}
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tg := &Target{Kube: fake.NewClientset(pvc, pv, event("ns", "PersistentVolumeClaim", "data", "Warning", "ProvisioningFailed", "boom", at))}
	out := tg.DescribePVC(context.Background(), "ns", "data")
	for _, want := range []string{
		"== PersistentVolumeClaim ns/data ==\n",
		"storageClassName: gold",
		"== Events of PersistentVolumeClaim data ==\n03:04:05 Warning ProvisioningFailed (x1): boom\n",
		"== PersistentVolume pv-1 ==\n",
		"volumeHandle: vol-123",
		"== VolumeAttachments of PV pv-1 ==\n(none)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("DescribePVC lacks %q:\n%s", want, out)
		}
	}
	id, err := tg.VolumeHandle(context.Background(), pvc)
	if err != nil || id != "vol-123" {
		t.Errorf("VolumeHandle = %q, %v", id, err)
	}
	if out := tg.DescribePod(context.Background(), "ns", "missing"); !strings.Contains(out, `(get: pods "missing" not found)`) {
		t.Errorf("DescribePod(missing):\n%s", out)
	}
}
