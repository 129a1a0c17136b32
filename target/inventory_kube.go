package target

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The Kubernetes side of the inventory: one List per kind, all namespaces.
// Not listed at all, because they come and go on their own: Events, Leases
// (kwok and every kubelet renew one per node; controllers elect leaders),
// Pods, Endpoints/EndpointSlices, ConfigMaps and Secrets (kube-system's and
// the drivers' internals), CSINodes, and the vSphere CSI driver's own
// custom resources (CSINodeTopology, CnsVolumeOperationRequest, ...), which
// its controllers create and delete whenever they like. What a spec makes
// that these hold lives in a namespace (inventoried) or follows a kind that
// is inventoried (a pod's volume: its PVC, PV and VolumeAttachment).

// The custom resources, listed through the dynamic client; a cluster
// without the CRD has none (not an error).
var (
	inventorySnapshotGVR        = schema.GroupVersionResource{Group: "snapshot.storage.k8s.io", Version: "v1", Resource: "volumesnapshots"}
	inventorySnapshotContentGVR = schema.GroupVersionResource{Group: "snapshot.storage.k8s.io", Version: "v1", Resource: "volumesnapshotcontents"}
	inventorySnapshotClassGVR   = schema.GroupVersionResource{Group: "snapshot.storage.k8s.io", Version: "v1", Resource: "volumesnapshotclasses"}
	inventoryIPAddressPoolGVR   = schema.GroupVersionResource{Group: "metallb.io", Version: "v1beta1", Resource: "ipaddresspools"}
)

type lister func(ctx context.Context) ([]Object, map[string]string, error)

// kubeListers are the Kubernetes listings, one per kind.
func (t *Target) kubeListers() []lister {
	all := metav1.ListOptions{}
	typed := func(kind string, list func(context.Context) ([]Object, error)) lister {
		return func(ctx context.Context) ([]Object, map[string]string, error) {
			if t.Kube == nil {
				return nil, map[string]string{kind: "no Kubernetes client"}, nil
			}
			objs, err := list(ctx)
			if err != nil {
				return nil, nil, fmt.Errorf("list %ss: %w", kind, err)
			}
			return objs, nil, nil
		}
	}
	out := []lister{
		typed(KindNamespace, func(ctx context.Context) ([]Object, error) {
			l, err := t.Kube.CoreV1().Namespaces().List(ctx, all)
			if err != nil {
				return nil, err
			}
			return each(l.Items, namespaceObject), nil
		}),
		typed(KindPVC, func(ctx context.Context) ([]Object, error) {
			l, err := t.Kube.CoreV1().PersistentVolumeClaims("").List(ctx, all)
			if err != nil {
				return nil, err
			}
			return each(l.Items, pvcObject), nil
		}),
		typed(KindPV, func(ctx context.Context) ([]Object, error) {
			l, err := t.Kube.CoreV1().PersistentVolumes().List(ctx, all)
			if err != nil {
				return nil, err
			}
			return each(l.Items, pvObject), nil
		}),
		typed(KindVolumeAttach, func(ctx context.Context) ([]Object, error) {
			l, err := t.Kube.StorageV1().VolumeAttachments().List(ctx, all)
			if err != nil {
				return nil, err
			}
			return each(l.Items, volumeAttachmentObject), nil
		}),
		typed(KindStorageClass, func(ctx context.Context) ([]Object, error) {
			l, err := t.Kube.StorageV1().StorageClasses().List(ctx, all)
			if err != nil {
				return nil, err
			}
			return each(l.Items, storageClassObject), nil
		}),
		typed(KindNode, func(ctx context.Context) ([]Object, error) {
			l, err := t.Kube.CoreV1().Nodes().List(ctx, all)
			if err != nil {
				return nil, err
			}
			return each(l.Items, nodeObject), nil
		}),
		typed(KindLBService, func(ctx context.Context) ([]Object, error) {
			// No field selector serves spec.type: list all, keep LoadBalancers.
			l, err := t.Kube.CoreV1().Services("").List(ctx, all)
			if err != nil {
				return nil, err
			}
			var out []Object
			for i := range l.Items {
				if o, ok := serviceObject(&l.Items[i]); ok {
					out = append(out, o)
				}
			}
			return out, nil
		}),
	}
	for _, c := range customKinds {
		out = append(out, t.customLister(c.kind, c.gvr, c.detail))
	}
	return out
}

// customKinds are the custom resources inventoried, with what a leak says
// of each.
var customKinds = []struct {
	kind   string
	gvr    schema.GroupVersionResource
	detail func(*unstructured.Unstructured) string
}{
	{KindSnapshot, inventorySnapshotGVR, func(u *unstructured.Unstructured) string {
		content, _, _ := unstructured.NestedString(u.Object, "status", "boundVolumeSnapshotContentName")
		return labelled("content", content)
	}},
	{KindSnapContent, inventorySnapshotContentGVR, func(u *unstructured.Unstructured) string {
		handle, _, _ := unstructured.NestedString(u.Object, "status", "snapshotHandle")
		ns, _, _ := unstructured.NestedString(u.Object, "spec", "volumeSnapshotRef", "namespace")
		name, _, _ := unstructured.NestedString(u.Object, "spec", "volumeSnapshotRef", "name")
		ref := ""
		if name != "" {
			ref = ns + "/" + name
		}
		return joinDetail(labelled("snapshot", ref), labelled("handle", handle))
	}},
	{KindSnapClass, inventorySnapshotClassGVR, func(u *unstructured.Unstructured) string {
		driver, _, _ := unstructured.NestedString(u.Object, "driver")
		return labelled("driver", driver)
	}},
	{KindIPAddressPool, inventoryIPAddressPoolGVR, func(u *unstructured.Unstructured) string {
		addrs, _, _ := unstructured.NestedStringSlice(u.Object, "spec", "addresses")
		return labelled("addresses", strings.Join(addrs, " "))
	}},
}

// customLister lists a custom resource in all namespaces; a cluster that
// does not serve it has none.
func (t *Target) customLister(kind string, gvr schema.GroupVersionResource, detail func(*unstructured.Unstructured) string) lister {
	return func(ctx context.Context) ([]Object, map[string]string, error) {
		if t.Dynamic == nil {
			return nil, map[string]string{kind: "no dynamic Kubernetes client"}, nil
		}
		l, err := t.Dynamic.Resource(gvr).List(ctx, metav1.ListOptions{})
		if isNotServed(err) {
			return nil, map[string]string{kind: gvr.GroupVersion().String() + " " + gvr.Resource + " not served"}, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("list %ss: %w", kind, err)
		}
		out := make([]Object, 0, len(l.Items))
		for i := range l.Items {
			u := &l.Items[i]
			out = append(out, kubeObject(kind, u, detail(u)))
		}
		return out, nil, nil
	}
}

// isNotServed reports the answer of an API server without the resource's
// CRD: 404 for the resource (or its group version).
func isNotServed(err error) bool {
	return err != nil && apierrors.IsNotFound(err)
}

// each converts a typed list's items.
func each[T any](items []T, fn func(*T) Object) []Object {
	out := make([]Object, 0, len(items))
	for i := range items {
		out = append(out, fn(&items[i]))
	}
	return out
}

// kubeObject keys a Kubernetes object by namespace/name (name when
// cluster-scoped), and adds to detail the run that made it and whether it
// is being deleted (a leak stuck on a finalizer says which).
func kubeObject(kind string, m metav1.Object, detail string) Object {
	id := m.GetName()
	if ns := m.GetNamespace(); ns != "" {
		id = ns + "/" + id
	}
	var deleting string
	if m.GetDeletionTimestamp() != nil {
		deleting = "being deleted"
		if f := m.GetFinalizers(); len(f) > 0 {
			deleting += " (finalizers " + strings.Join(f, ", ") + ")"
		}
	}
	return Object{Kind: kind, ID: id, Detail: joinDetail(detail, labelled("run", m.GetLabels()[LabelRun]), deleting)}
}

func namespaceObject(ns *corev1.Namespace) Object {
	return kubeObject(KindNamespace, ns, "")
}

func pvcObject(c *corev1.PersistentVolumeClaim) Object {
	sc := ""
	if c.Spec.StorageClassName != nil {
		sc = *c.Spec.StorageClassName
	}
	return kubeObject(KindPVC, c, joinDetail(labelled("StorageClass", sc), labelled("volume", c.Spec.VolumeName)))
}

func pvObject(pv *corev1.PersistentVolume) Object {
	claim := ""
	if r := pv.Spec.ClaimRef; r != nil {
		claim = r.Namespace + "/" + r.Name
	}
	handle := ""
	switch {
	case pv.Spec.CSI != nil:
		handle = pv.Spec.CSI.VolumeHandle
	case pv.Spec.VsphereVolume != nil:
		handle = pv.Spec.VsphereVolume.VolumePath
	}
	return kubeObject(KindPV, pv, joinDetail(labelled("claim", claim), labelled("handle", handle),
		labelled("reclaim", string(pv.Spec.PersistentVolumeReclaimPolicy))))
}

func volumeAttachmentObject(va *storagev1.VolumeAttachment) Object {
	pv := ""
	if va.Spec.Source.PersistentVolumeName != nil {
		pv = *va.Spec.Source.PersistentVolumeName
	}
	return kubeObject(KindVolumeAttach, va, joinDetail(labelled("PV", pv), labelled("node", va.Spec.NodeName),
		fmt.Sprintf("attached %t", va.Status.Attached)))
}

func storageClassObject(sc *storagev1.StorageClass) Object {
	return kubeObject(KindStorageClass, sc, labelled("provisioner", sc.Provisioner))
}

func nodeObject(n *corev1.Node) Object {
	return kubeObject(KindNode, n, labelled("providerID", n.Spec.ProviderID))
}

// serviceObject is a Service of type LoadBalancer (ok false for the rest).
func serviceObject(s *corev1.Service) (Object, bool) {
	if s.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return Object{}, false
	}
	var ips []string
	for _, in := range s.Status.LoadBalancer.Ingress {
		ips = append(ips, in.IP+in.Hostname)
	}
	return kubeObject(KindLBService, s, labelled("ingress", strings.Join(ips, " "))), true
}

// labelled is "label value", or "" for an empty value.
func labelled(label, value string) string {
	if value == "" {
		return ""
	}
	return label + " " + value
}

// joinDetail joins the non-empty parts with ", ".
func joinDetail(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, ", ")
}
