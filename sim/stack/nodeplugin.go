package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// nodeIDAnnotation is where the kubelet records each CSI driver's node ID.
const nodeIDAnnotation = "csi.volume.kubernetes.io/nodeid"

// The kubelet (nodeinfomanager) lists on the CSINode the in-tree plugins
// whose volumes it hands to their CSI drivers; Kubernetes 1.34 always
// migrates kubernetes.io/vsphere-volume to csi.vsphere.vmware.com.
const (
	migratedPluginsAnnotation = "storage.alpha.kubernetes.io/migrated-plugins"
	vsphereInTreePlugin       = "kubernetes.io/vsphere-volume"
)

// registerNodePlugins does for every node what the vSphere CSI node plugin
// and the kubelet do when the plugin registers (the hermetic target runs no
// kubelet). The plugin (v3.3.1 pkg/csi/service/node.go NodeGetInfo) waits
// until the syncer has set the node's CSINodeTopology to Success, then
// answers with the VM's BIOS UUID, the CR's topology labels as accessible
// topology, and MAX_VOLUMES_PER_NODE (59 in the upstream vanilla manifest).
// The kubelet (pkg/volume/csi/nodeinfomanager InstallCSIDriver) labels the
// Node with the topology segments, annotates it with the node ID, and adds
// the driver to the CSINode with the topology keys and allocatable count.
func (b *bringUp) registerNodePlugins(ctx context.Context) error {
	syncer := b.s.Process("csi-syncer")
	for _, n := range b.s.VCenter.Nodes {
		if n.Real() {
			continue // its own kubelet and node plugin register it (realnode.go)
		}
		var labels map[string]string
		what := "the syncer to set CSINodeTopology " + n.Name + " to Success"
		err := b.waitProcess(ctx, syncer, what, csiTimeout, func(ctx context.Context) (bool, string, error) {
			u, err := b.k.dyn.Resource(csiNodeTopologyGVR).Get(ctx, n.Name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error(), nil
			}
			done, state, got, err := target.CSINodeTopologyLabels(u)
			labels = got
			return done, state, err
		})
		if err != nil {
			return err
		}
		if len(b.s.VCenter.TopologyCategories) > 0 && len(labels) == 0 {
			return fmt.Errorf("CSINodeTopology %s has no topology labels although the driver reads categories %v", n.Name, b.s.VCenter.TopologyCategories)
		}
		if err := b.k.installDriver(ctx, n, labels); err != nil {
			return fmt.Errorf("register the CSI node plugin on %s: %w", n.Name, err)
		}
	}
	return nil
}

// installDriver labels and annotates the Node and adds the driver to its
// CSINode, as the kubelet's nodeinfomanager does.
func (k *kube) installDriver(ctx context.Context, n NodeVM, topology map[string]string) error {
	ids, _ := json.Marshal(map[string]string{DriverName: n.BIOSUUID})
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"labels":      topology,
		"annotations": map[string]string{nodeIDAnnotation: string(ids)},
	}})
	if _, err := k.cs.CoreV1().Nodes().Patch(ctx, n.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return err
	}
	driver := storagev1.CSINodeDriver{
		Name:         DriverName,
		NodeID:       n.BIOSUUID,
		TopologyKeys: slices.Sorted(maps.Keys(topology)),
		Allocatable:  &storagev1.VolumeNodeResources{Count: ptr.To[int32](MaxVolumesPerNode)},
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cn, err := k.cs.StorageV1().CSINodes().Get(ctx, n.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			cn = &storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: n.Name,
				Annotations: map[string]string{migratedPluginsAnnotation: vsphereInTreePlugin}}}
			cn.Spec.Drivers = []storagev1.CSINodeDriver{driver}
			_, err = k.cs.StorageV1().CSINodes().Create(ctx, cn, metav1.CreateOptions{})
			return err
		}
		if err != nil {
			return err
		}
		for _, d := range cn.Spec.Drivers {
			if d.Name == DriverName {
				return nil // registered already (a driver entry is immutable)
			}
		}
		cn.Spec.Drivers = append(cn.Spec.Drivers, driver)
		if cn.Annotations == nil {
			cn.Annotations = map[string]string{}
		}
		cn.Annotations[migratedPluginsAnnotation] = vsphereInTreePlugin
		_, err = k.cs.StorageV1().CSINodes().Update(ctx, cn, metav1.UpdateOptions{})
		return err
	})
}

// topologyFlags are the provisioner's topology flags: the upstream vanilla
// manifest's commented "--feature-gates=Topology=true" and "--strict-topology"
// when the driver reads zones (strict: a WaitForFirstConsumer volume is
// placed in the selected node's zone only), else Topology off, without which
// the provisioner asks for topology the driver cannot give.
func topologyFlags(vc VCenter) []string {
	if len(vc.TopologyCategories) == 0 {
		return []string{"--feature-gates=Topology=false"}
	}
	return []string{"--feature-gates=Topology=true", "--strict-topology"}
}
