package target

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// WaitTimeouts bound the typed waits.
type WaitTimeouts struct {
	PVCBound      time.Duration
	PodRunning    time.Duration
	Attach        time.Duration // attach and detach
	Delete        time.Duration // PVC, pod, PV deletion
	CNSVolume     time.Duration
	NamespaceGone time.Duration
}

// Timeouts are generous enough for a real vCenter under load; a runner may
// scale them for a slow target.
var Timeouts = WaitTimeouts{
	PVCBound:      5 * time.Minute,
	PodRunning:    5 * time.Minute,
	Attach:        5 * time.Minute,
	Delete:        5 * time.Minute,
	CNSVolume:     2 * time.Minute,
	NamespaceGone: 5 * time.Minute,
}

// WaitForPVCBound waits until the claim is Bound and returns it.
func (t *Target) WaitForPVCBound(ctx context.Context, ns, name string) (*corev1.PersistentVolumeClaim, error) {
	return t.WaitForPVCPhase(ctx, ns, name, corev1.ClaimBound)
}

// WaitForPVCPhase waits until the claim reaches phase. A claim that does
// not exist yet (a StatefulSet makes its claims later) is waited for.
func (t *Target) WaitForPVCPhase(ctx context.Context, ns, name string, phase corev1.PersistentVolumeClaimPhase) (*corev1.PersistentVolumeClaim, error) {
	var pvc *corev1.PersistentVolumeClaim
	what := fmt.Sprintf("PVC %s/%s to be %s", ns, name, phase)
	err := WaitFor(ctx, what, Timeouts.PVCBound, func(ctx context.Context) (bool, string, error) {
		got, err := t.Kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, getState("PVC", err), nil
		}
		pvc = got
		if got.Status.Phase == phase {
			return true, "", nil
		}
		if got.Status.Phase == corev1.ClaimLost {
			return false, "", fmt.Errorf("PVC %s/%s is Lost (its PV %q is gone)", ns, name, got.Spec.VolumeName)
		}
		return false, "phase " + string(got.Status.Phase) + t.lastEvent(ctx, ns, "PersistentVolumeClaim", name), nil
	})
	return pvc, err
}

// WaitForPVPhase waits until the PV reaches phase (e.g. Released once its
// claim is gone under reclaimPolicy Retain) and returns it.
func (t *Target) WaitForPVPhase(ctx context.Context, name string, phase corev1.PersistentVolumePhase) (*corev1.PersistentVolume, error) {
	var pv *corev1.PersistentVolume
	err := WaitFor(ctx, fmt.Sprintf("PV %s to be %s", name, phase), Timeouts.Delete, func(ctx context.Context) (bool, string, error) {
		got, err := t.Kube.CoreV1().PersistentVolumes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, getState("PV", err), nil
		}
		pv = got
		return got.Status.Phase == phase, "phase " + string(got.Status.Phase), nil
	})
	return pv, err
}

// WaitForPodRunning waits until the pod is Running. Under kwok a pod runs
// whatever its volumes do: check VolumeAttachments and vCenter as well.
func (t *Target) WaitForPodRunning(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	var pod *corev1.Pod
	what := fmt.Sprintf("pod %s/%s to be Running", ns, name)
	err := WaitFor(ctx, what, Timeouts.PodRunning, func(ctx context.Context) (bool, string, error) {
		got, err := t.Kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, getState("pod", err), nil
		}
		pod = got
		switch got.Status.Phase {
		case corev1.PodRunning:
			return true, "", nil
		case corev1.PodFailed, corev1.PodSucceeded:
			return false, "", fmt.Errorf("pod %s/%s ended in phase %s: %s %s", ns, name, got.Status.Phase, got.Status.Reason, got.Status.Message)
		}
		return false, podState(got) + t.lastEvent(ctx, ns, "Pod", name), nil
	})
	return pod, err
}

// podState says why a pod is not running yet.
func podState(p *corev1.Pod) string {
	parts := []string{"phase " + string(p.Status.Phase)}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status != corev1.ConditionTrue {
			parts = append(parts, fmt.Sprintf("unschedulable: %s", c.Message))
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil {
			parts = append(parts, fmt.Sprintf("container %s waiting: %s %s", cs.Name, w.Reason, w.Message))
		}
	}
	return strings.Join(parts, "; ")
}

// WaitForVolumeAttachment waits until the PV is attached to the node
// (attached) or until no VolumeAttachment for the pair is left (!attached),
// and returns the VolumeAttachment (nil once detached).
func (t *Target) WaitForVolumeAttachment(ctx context.Context, pvName, nodeName string, attached bool) (*storagev1.VolumeAttachment, error) {
	var va *storagev1.VolumeAttachment
	what := fmt.Sprintf("PV %s to be attached to node %s", pvName, nodeName)
	if !attached {
		what = fmt.Sprintf("PV %s to be detached from node %s", pvName, nodeName)
	}
	err := WaitFor(ctx, what, Timeouts.Attach, func(ctx context.Context) (bool, string, error) {
		got, err := t.volumeAttachment(ctx, pvName, nodeName)
		if err != nil {
			return false, "list VolumeAttachments failed: " + err.Error(), nil
		}
		va = got
		if got == nil {
			return !attached, "no VolumeAttachment", nil
		}
		state := vaState(got)
		return attached && got.Status.Attached, state, nil
	})
	return va, err
}

// volumeAttachment finds the VolumeAttachment for a PV on a node, if any.
func (t *Target) volumeAttachment(ctx context.Context, pvName, nodeName string) (*storagev1.VolumeAttachment, error) {
	list, err := t.Kube.StorageV1().VolumeAttachments().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i := range list.Items {
		va := &list.Items[i]
		if va.Spec.NodeName == nodeName && va.Spec.Source.PersistentVolumeName != nil && *va.Spec.Source.PersistentVolumeName == pvName {
			return va, nil
		}
	}
	return nil, nil
}

func vaState(va *storagev1.VolumeAttachment) string {
	s := fmt.Sprintf("VolumeAttachment %s attached=%t", va.Name, va.Status.Attached)
	if va.DeletionTimestamp != nil {
		s += " (deleting)"
	}
	if e := va.Status.AttachError; e != nil {
		s += "; attach error: " + e.Message
	}
	if e := va.Status.DetachError; e != nil {
		s += "; detach error: " + e.Message
	}
	return s
}

// WaitForPVDeleted waits until the PV object is gone, which for a Delete
// reclaim policy means the driver deleted the volume.
func (t *Target) WaitForPVDeleted(ctx context.Context, pvName string) error {
	return WaitFor(ctx, fmt.Sprintf("PV %s to be deleted", pvName), Timeouts.Delete, func(ctx context.Context) (bool, string, error) {
		pv, err := t.Kube.CoreV1().PersistentVolumes().Get(ctx, pvName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, "", nil
		}
		if err != nil {
			return false, getState("PV", err), nil
		}
		// Events about cluster-scoped objects are recorded in "default".
		return false, "phase " + string(pv.Status.Phase) + t.lastEvent(ctx, metav1.NamespaceDefault, "PersistentVolume", pvName), nil
	})
}

// WaitForPVCDeleted waits until the claim object is gone.
func (t *Target) WaitForPVCDeleted(ctx context.Context, ns, name string) error {
	return WaitFor(ctx, fmt.Sprintf("PVC %s/%s to be deleted", ns, name), Timeouts.Delete, func(ctx context.Context) (bool, string, error) {
		pvc, err := t.Kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, "", nil
		}
		if err != nil {
			return false, getState("PVC", err), nil
		}
		return false, fmt.Sprintf("phase %s; finalizers %v", pvc.Status.Phase, pvc.Finalizers), nil
	})
}

// WaitForPodDeleted waits until the pod object is gone.
func (t *Target) WaitForPodDeleted(ctx context.Context, ns, name string) error {
	return WaitFor(ctx, fmt.Sprintf("pod %s/%s to be deleted", ns, name), Timeouts.Delete, func(ctx context.Context) (bool, string, error) {
		pod, err := t.Kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, "", nil
		}
		if err != nil {
			return false, getState("pod", err), nil
		}
		return false, fmt.Sprintf("phase %s; finalizers %v", pod.Status.Phase, pod.Finalizers), nil
	})
}

// WaitForNamespaceGone waits until the namespace object is gone.
func (t *Target) WaitForNamespaceGone(ctx context.Context, name string) error {
	return WaitFor(ctx, fmt.Sprintf("namespace %s to be gone", name), Timeouts.NamespaceGone, func(ctx context.Context) (bool, string, error) {
		ns, err := t.Kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, "", nil
		}
		if err != nil {
			return false, getState("namespace", err), nil
		}
		return false, namespaceState(ns), nil
	})
}

// namespaceState names what keeps a terminating namespace alive.
func namespaceState(ns *corev1.Namespace) string {
	parts := []string{"phase " + string(ns.Status.Phase)}
	for _, c := range ns.Status.Conditions {
		if c.Status == corev1.ConditionTrue {
			parts = append(parts, fmt.Sprintf("%s: %s", c.Type, c.Message))
		}
	}
	return strings.Join(parts, "; ")
}

// getState turns a failed Get into a wait state; such failures are often
// transient (an API server restart), so waits keep polling through them.
func getState(kind string, err error) string {
	if apierrors.IsNotFound(err) {
		return kind + " does not exist"
	}
	return "get " + kind + " failed: " + oneLine(err.Error())
}
