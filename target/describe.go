package target

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DescribePVC renders a claim, its events, its PV and the PV's
// VolumeAttachments as text for a failure report.
func (t *Target) DescribePVC(ctx context.Context, ns, name string) string {
	var b describeBuilder
	b.section(fmt.Sprintf("PersistentVolumeClaim %s/%s", ns, name))
	pvc, err := t.Kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		b.failed("get", err)
	} else {
		pvc.ManagedFields = nil
		b.yaml(pvc)
	}
	t.describeEvents(ctx, &b, ns, "PersistentVolumeClaim", name)
	if pvc != nil && pvc.Spec.VolumeName != "" {
		b.WriteString(t.DescribePV(ctx, pvc.Spec.VolumeName))
	}
	return b.String()
}

// DescribePV renders a PV, its events and its VolumeAttachments.
func (t *Target) DescribePV(ctx context.Context, name string) string {
	var b describeBuilder
	b.section("PersistentVolume " + name)
	pv, err := t.Kube.CoreV1().PersistentVolumes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		b.failed("get", err)
	} else {
		pv.ManagedFields = nil
		b.yaml(pv)
	}
	t.describeEvents(ctx, &b, metav1.NamespaceDefault, "PersistentVolume", name)
	b.WriteString(t.DescribeVolumeAttachments(ctx, name))
	return b.String()
}

// DescribePod renders a pod and its events.
func (t *Target) DescribePod(ctx context.Context, ns, name string) string {
	var b describeBuilder
	b.section(fmt.Sprintf("Pod %s/%s", ns, name))
	pod, err := t.Kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		b.failed("get", err)
	} else {
		pod.ManagedFields = nil
		b.yaml(pod)
	}
	t.describeEvents(ctx, &b, ns, "Pod", name)
	return b.String()
}

// DescribeVolumeAttachments renders every VolumeAttachment of a PV.
func (t *Target) DescribeVolumeAttachments(ctx context.Context, pvName string) string {
	var b describeBuilder
	b.section("VolumeAttachments of PV " + pvName)
	list, err := t.Kube.StorageV1().VolumeAttachments().List(ctx, metav1.ListOptions{})
	if err != nil {
		b.failed("list", err)
		return b.String()
	}
	n := 0
	for _, va := range list.Items {
		if src := va.Spec.Source.PersistentVolumeName; src != nil && *src == pvName {
			va.ManagedFields = nil
			b.yaml(va)
			n++
		}
	}
	if n == 0 {
		b.WriteString("(none)\n")
	}
	return b.String()
}

func (t *Target) describeEvents(ctx context.Context, b *describeBuilder, ns, kind, name string) {
	b.section(fmt.Sprintf("Events of %s %s", kind, name))
	events, err := t.eventsFor(ctx, ns, kind, name)
	if err != nil {
		b.failed("list events", err)
		return
	}
	if len(events) == 0 {
		b.WriteString("(none)\n")
	}
	for _, e := range events {
		from := ""
		if c := e.Source.Component; c != "" {
			from = ", from " + c
		}
		fmt.Fprintf(b, "%s %s %s (x%d%s): %s\n", eventTime(e).UTC().Format("15:04:05"), e.Type, e.Reason,
			max(e.Count, 1), from, oneLine(e.Message))
	}
}

// DescribeCNSVolume renders what CNS holds for a volume.
func (t *Target) DescribeCNSVolume(ctx context.Context, id string) string {
	var b describeBuilder
	b.section("CNS volume " + id)
	vol, err := t.CNSVolume(ctx, id)
	switch {
	case err != nil:
		b.failed("query", err)
	case vol == nil:
		b.WriteString("(absent)\n")
	default:
		b.yaml(vol)
	}
	return b.String()
}

// DescribeFCD renders the first-class disk with this ID.
func (t *Target) DescribeFCD(ctx context.Context, id string) string {
	var b describeBuilder
	b.section("First-class disk " + id)
	obj, err := t.FCD(ctx, id)
	switch {
	case err != nil:
		b.failed("retrieve", err)
	case obj == nil:
		b.WriteString("(absent)\n")
	default:
		b.yaml(obj)
	}
	return b.String()
}

// recordPVCOnFailure makes a failed spec's report show the claim from both
// sides: Kubernetes objects, and the CNS volume and FCD behind its PV.
func (t *Target) recordPVCOnFailure(ns, name string) {
	title := fmt.Sprintf("PVC %s/%s", ns, name)
	t.EvidenceOnFailure(EvidenceKubernetes, title, func(ctx context.Context) string {
		return t.DescribePVC(ctx, ns, name)
	})
	t.EvidenceOnFailure(EvidenceVCenter, title, func(ctx context.Context) string {
		id, err := t.volumeHandleOf(ctx, ns, name)
		switch {
		case err != nil:
			return fmt.Sprintf("(volume of PVC %s/%s unknown: %v)", ns, name, err)
		case id == "":
			return fmt.Sprintf("(PVC %s/%s has no CSI volume yet)", ns, name)
		}
		return t.DescribeCNSVolume(ctx, id) + t.DescribeFCD(ctx, id)
	})
}

// volumeHandleOf returns the CSI volume handle (the CNS volume ID) behind
// a claim, or "" while it is unbound.
func (t *Target) volumeHandleOf(ctx context.Context, ns, name string) (string, error) {
	pvc, err := t.Kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil || pvc.Spec.VolumeName == "" {
		return "", err
	}
	pv, err := t.Kube.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if pv.Spec.CSI == nil {
		return "", nil
	}
	return pv.Spec.CSI.VolumeHandle, nil
}

// VolumeHandle returns the CNS volume ID behind a bound claim, for specs
// that go on to check vCenter: "" while the claim is unbound.
func (t *Target) VolumeHandle(ctx context.Context, pvc *corev1.PersistentVolumeClaim) (string, error) {
	return t.volumeHandleOf(ctx, pvc.Namespace, pvc.Name)
}
