package target

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/onsi/ginkgo/v2"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// What the kubelet records when a CSI node plugin registers, and what it
// sets on every Node it registers with controller attach-detach on.
const (
	csiNodeIDAnnotation       = "csi.volume.kubernetes.io/nodeid"
	controllerManagedAttach   = "volumes.kubernetes.io/controller-managed-attach-detach"
	csiNodeTopologyTimeout    = 2 * time.Minute
	csiNodeTopologySuccess    = "Success"
	csiNodeTopologyNotServing = "the vSphere CSI driver's CSINodeTopology CRD is not served"
)

// csiNodeTopologyGVR is the vSphere CSI driver's per-node topology record,
// which its node plugin creates and its syncer completes from vCenter tags.
var csiNodeTopologyGVR = schema.GroupVersionResource{Group: "cns.vmware.com", Version: "v1alpha1", Resource: "csinodetopologies"}

// RegisterFakeCSINode does for a fake node (RegisterFakeNode) what the
// vSphere CSI node plugin and the kubelet do when the plugin registers on a
// real node, so the CSI attacher and the scheduler treat the node as one
// with the driver. The plugin (v3.3.1 NodeGetInfo) creates the node's
// CSINodeTopology, waits until the syncer has set it to Success with the
// VM's topology labels, and answers with the VM's BIOS UUID as node ID; the
// kubelet (nodeinfomanager) then labels the Node with the topology, records
// the node ID in an annotation and adds the driver to the CSINode. It needs
// capability fakeNodes; the CSINode and CSINodeTopology are removed when
// the spec ends (both are owned by the Node too).
func (t *Target) RegisterFakeCSINode(ctx context.Context, name, biosUUID string) *storagev1.CSINode {
	ginkgo.GinkgoHelper()
	t.Require(FakeNodes)
	node, err := t.Kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		ginkgo.Fail(fmt.Sprintf("CSI registration of node %s: %v", name, err))
	}
	owner := metav1.OwnerReference{APIVersion: "v1", Kind: "Node", Name: name, UID: node.UID}
	topology, err := t.fakeCSINodeTopology(ctx, owner, biosUUID)
	if err != nil {
		ginkgo.Fail(fmt.Sprintf("CSI registration of node %s: %v", name, err))
	}
	ids, _ := json.Marshal(map[string]string{CSIDriverName: biosUUID})
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"labels":      topology,
		"annotations": map[string]string{csiNodeIDAnnotation: string(ids), controllerManagedAttach: "true"},
	}})
	if _, err := t.Kube.CoreV1().Nodes().Patch(ctx, name, k8stypes.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		ginkgo.Fail(fmt.Sprintf("CSI registration of node %s: label the node: %v", name, err))
	}
	driver := storagev1.CSINodeDriver{
		Name:         CSIDriverName,
		NodeID:       biosUUID,
		TopologyKeys: slices.Sorted(maps.Keys(topology)),
	}
	if n := t.Config.Capabilities.MaxVolumesPerNode; n > 0 {
		driver.Allocatable = &storagev1.VolumeNodeResources{Count: ptr.To(int32(n))}
	}
	csiNode := &storagev1.CSINode{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: withSpecLabels(nil), OwnerReferences: []metav1.OwnerReference{owner}},
		Spec:       storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{driver}},
	}
	created, err := t.Kube.StorageV1().CSINodes().Create(ctx, csiNode, metav1.CreateOptions{})
	if err != nil {
		ginkgo.Fail(fmt.Sprintf("CSI registration of node %s: create CSINode: %v", name, err))
	}
	t.Track("CSINode "+name, func(ctx context.Context) error {
		err := t.Kube.StorageV1().CSINodes().Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		return nil
	})
	return created
}

// fakeCSINodeTopology creates the node's CSINodeTopology as the node plugin
// does and returns the topology labels the syncer sets on it; none when the
// cluster serves no such CRD (a driver without topology).
func (t *Target) fakeCSINodeTopology(ctx context.Context, owner metav1.OwnerReference, biosUUID string) (map[string]string, error) {
	res := t.Dynamic.Resource(csiNodeTopologyGVR)
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": csiNodeTopologyGVR.GroupVersion().String(),
		"kind":       "CSINodeTopology",
		"metadata": map[string]any{
			"name":   owner.Name,
			"labels": toAny(withSpecLabels(nil)),
			"ownerReferences": []any{map[string]any{
				"apiVersion": owner.APIVersion, "kind": owner.Kind, "name": owner.Name, "uid": string(owner.UID),
			}},
		},
		"spec": map[string]any{"nodeID": owner.Name, "nodeuuid": biosUUID},
	}}
	if _, err := res.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			ginkgo.GinkgoWriter.Printf("node %s: %s; no topology labels\n", owner.Name, csiNodeTopologyNotServing)
			return map[string]string{}, nil
		}
		return nil, fmt.Errorf("create CSINodeTopology: %w", err)
	}
	t.Track("CSINodeTopology "+owner.Name, func(ctx context.Context) error {
		err := res.Delete(ctx, owner.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		return nil
	})
	labels := map[string]string{}
	err := WaitFor(ctx, "the CSI syncer to set CSINodeTopology "+owner.Name+" to Success", csiNodeTopologyTimeout, func(ctx context.Context) (bool, string, error) {
		u, err := res.Get(ctx, owner.Name, metav1.GetOptions{})
		if err != nil {
			return false, getState("CSINodeTopology", err), nil
		}
		done, state, got, err := CSINodeTopologyLabels(u)
		if err != nil {
			return false, "", fmt.Errorf("CSINodeTopology %s: %w", owner.Name, err)
		}
		labels = got
		return done, state, nil
	})
	return labels, err
}

// CSINodeTopologyLabels reads the status the CSI syncer writes on a
// CSINodeTopology: done once it is Success, with the node's topology
// labels; otherwise the status and its error message as the state.
func CSINodeTopologyLabels(u *unstructured.Unstructured) (done bool, state string, labels map[string]string, err error) {
	var cr struct {
		Status struct {
			Status         string `json:"status"`
			ErrorMessage   string `json:"errorMessage"`
			TopologyLabels []struct {
				Key   string `json:"key"`
				Value string `json:"value"`
			} `json:"topologyLabels"`
		} `json:"status"`
	}
	data, err := json.Marshal(u.Object)
	if err == nil {
		err = json.Unmarshal(data, &cr)
	}
	if err != nil {
		return false, "", nil, fmt.Errorf("decode: %w", err)
	}
	if cr.Status.Status != csiNodeTopologySuccess {
		return false, fmt.Sprintf("status %q %s", cr.Status.Status, cr.Status.ErrorMessage), nil, nil
	}
	labels = map[string]string{}
	for _, l := range cr.Status.TopologyLabels {
		labels[l.Key] = l.Value
	}
	return true, "", labels, nil
}

// toAny is a string map as unstructured content holds it.
func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
