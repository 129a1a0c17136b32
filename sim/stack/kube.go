package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

const (
	// DriverName is the vSphere CSI driver's name.
	DriverName = "csi.vsphere.vmware.com"
	// CSINamespace is where the driver's ConfigMaps live, as in the upstream manifests.
	CSINamespace = "vmware-system-csi"
	// FeatureStatesConfigMap is the driver's internal feature switch ConfigMap.
	FeatureStatesConfigMap = "internal-feature-states.csi.vsphere.vmware.com"
	// DefaultStorageClass is the default StorageClass of the hermetic target.
	DefaultStorageClass = "vsphere-default"
	// DefaultPolicy is the SPBM policy of the default StorageClass.
	DefaultPolicy = "vSAN Default Storage Policy"
	// MaxVolumesPerNode is the node plugin's default attach limit (4 SCSI
	// controllers x 15 targets, minus the root disk).
	MaxVolumesPerNode = 59
)

type kube struct {
	cs  kubernetes.Interface
	dyn dynamic.Interface
	cfg *rest.Config
}

func newKube(kubeconfig string) (*kube, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 100, 200
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &kube{cs: cs, dyn: dyn, cfg: cfg}, nil
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// applyCRDFiles creates every CRD in the YAML files (one or more documents each).
func (k *kube) applyCRDFiles(ctx context.Context, files []string) error {
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		for _, doc := range strings.Split(string(data), "\n---") {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
				return fmt.Errorf("%s: %v", f, err)
			}
			if obj == nil || obj["kind"] != "CustomResourceDefinition" {
				continue
			}
			u := &unstructured.Unstructured{Object: obj}
			_, err := k.dyn.Resource(crdGVR).Create(ctx, u, metav1.CreateOptions{})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("create CRD %s: %v", u.GetName(), err)
			}
		}
	}
	// The CRDs must serve before controllers list them.
	return waitFor(ctx, "CRDs established", crdTimeout, func(ctx context.Context) (bool, string, error) {
		list, err := k.dyn.Resource(crdGVR).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		for _, item := range list.Items {
			if !crdEstablished(item) {
				return false, item.GetName() + " not established", nil
			}
		}
		return true, "", nil
	})
}

func crdEstablished(u unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// createDriverObjects makes what the upstream manifests install for the
// controller: its namespace and feature-state ConfigMap, and the CSIDriver.
func (k *kube) createDriverObjects(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: CSINamespace}}
	if _, err := k.cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	// Same keys as the upstream vanilla manifest (v3.3.1); the full sync
	// trigger on, so specs can run a full sync (capability fullSyncTrigger).
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: FeatureStatesConfigMap, Namespace: CSINamespace},
		Data: map[string]string{
			"trigger-csi-fullsync":              "true",
			"pv-to-backingdiskobjectid-mapping": "false",
		},
	}
	if _, err := k.cs.CoreV1().ConfigMaps(CSINamespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	drv := &storagev1.CSIDriver{
		ObjectMeta: metav1.ObjectMeta{Name: DriverName},
		Spec: storagev1.CSIDriverSpec{
			AttachRequired:       ptr.To(true),
			PodInfoOnMount:       ptr.To(false),
			VolumeLifecycleModes: []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent},
		},
	}
	if _, err := k.cs.StorageV1().CSIDrivers().Create(ctx, drv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

var csiNodeTopologyGVR = schema.GroupVersionResource{Group: "cns.vmware.com", Version: "v1alpha1", Resource: "csinodetopologies"}

// createNodes registers one kwok Node per vcsim VM, as a kubelet with the
// vSphere node plugin would: the Node (uninitialised until the CPI sets
// providerID, addresses and zone labels), its CSINode (no drivers yet) and
// the CSINodeTopology the node plugin creates before it answers NodeGetInfo.
func (k *kube) createNodes(ctx context.Context, nodes []NodeVM) error {
	for _, n := range nodes {
		if n.Real() {
			continue // its kubelet registers it
		}
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name: n.Name,
				Labels: map[string]string{
					"kubernetes.io/hostname": n.Name,
					"kubernetes.io/os":       "linux",
					"kubernetes.io/arch":     "amd64",
					"type":                   "kwok",
				},
				Annotations: map[string]string{
					"kwok.x-k8s.io/node": "fake",
					"volumes.kubernetes.io/controller-managed-attach-detach": "true",
				},
			},
			Spec: corev1.NodeSpec{
				Taints: []corev1.Taint{{Key: "node.cloudprovider.kubernetes.io/uninitialized", Value: "true", Effect: corev1.TaintEffectNoSchedule}},
			},
		}
		created, err := k.cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if err != nil {
			if !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("node %s: %v", n.Name, err)
			}
			if created, err = k.cs.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{}); err != nil {
				return err
			}
		}
		// The kubelet reports the BIOS UUID as systemUUID; the CPI matches
		// VMs by it. A merge patch, since kwok writes the status too.
		status := map[string]any{"status": map[string]any{
			"nodeInfo": map[string]any{
				"systemUUID": n.BIOSUUID, "kubeletVersion": "v1.34.2",
				"operatingSystem": "linux", "architecture": "amd64",
			},
			"capacity":    map[string]any{"cpu": "8", "memory": "32Gi", "pods": "110"},
			"allocatable": map[string]any{"cpu": "8", "memory": "32Gi", "pods": "110"},
		}}
		patch, _ := json.Marshal(status)
		if _, err := k.cs.CoreV1().Nodes().PatchStatus(ctx, n.Name, patch); err != nil {
			return fmt.Errorf("node %s status: %v", n.Name, err)
		}
		csiNode := &storagev1.CSINode{
			ObjectMeta: metav1.ObjectMeta{
				Name: n.Name,
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "v1", Kind: "Node", Name: n.Name, UID: created.UID,
				}},
			},
			// The kubelet creates it empty at start; the driver entry comes
			// with the node plugin's registration (registerNodePlugins).
			Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{}},
		}
		if _, err := k.cs.StorageV1().CSINodes().Create(ctx, csiNode, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("csinode %s: %v", n.Name, err)
		}
		topo := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "cns.vmware.com/v1alpha1",
			"kind":       "CSINodeTopology",
			"metadata": map[string]any{
				"name": n.Name,
				"ownerReferences": []any{map[string]any{
					"apiVersion": "v1", "kind": "Node", "name": n.Name, "uid": string(created.UID),
				}},
			},
			"spec": map[string]any{"nodeID": n.Name, "nodeuuid": n.BIOSUUID},
		}}
		if _, err := k.dyn.Resource(csiNodeTopologyGVR).Create(ctx, topo, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("csinodetopology %s: %v", n.Name, err)
		}
	}
	return nil
}

var snapshotClassGVR = schema.GroupVersionResource{Group: "snapshot.storage.k8s.io", Version: "v1", Resource: "volumesnapshotclasses"}

// StorageClassName is the name of the StorageClass bound to an SPBM policy.
func StorageClassName(policy string) string {
	if policy == DefaultPolicy {
		return DefaultStorageClass
	}
	var b strings.Builder
	b.WriteString("vsphere-")
	for _, r := range strings.ToLower(policy) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

// createStorageClasses makes one StorageClass per SPBM policy (the default
// one for the vSAN default policy) and a VolumeSnapshotClass.
func (k *kube) createStorageClasses(ctx context.Context, policies []string) error {
	for _, p := range append([]string{DefaultPolicy}, policies...) {
		name := StorageClassName(p)
		sc := &storagev1.StorageClass{
			ObjectMeta:           metav1.ObjectMeta{Name: name},
			Provisioner:          DriverName,
			Parameters:           map[string]string{"storagepolicyname": p},
			ReclaimPolicy:        ptr.To(corev1.PersistentVolumeReclaimDelete),
			AllowVolumeExpansion: ptr.To(true),
			VolumeBindingMode:    ptr.To(storagev1.VolumeBindingImmediate),
		}
		if name == DefaultStorageClass {
			sc.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
		}
		if _, err := k.cs.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("storageclass %s: %v", name, err)
		}
	}
	vsc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion":     "snapshot.storage.k8s.io/v1",
		"kind":           "VolumeSnapshotClass",
		"metadata":       map[string]any{"name": "vsphere-snapshots", "annotations": map[string]any{"snapshot.storage.kubernetes.io/is-default-class": "true"}},
		"driver":         DriverName,
		"deletionPolicy": "Delete",
	}}
	if _, err := k.dyn.Resource(snapshotClassGVR).Create(ctx, vsc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("volumesnapshotclass: %v", err)
	}
	return nil
}

// crdFiles lists the CRD manifests the build copied from the pinned modules.
func crdFiles(binDir string) ([]string, error) {
	dir := filepath.Join(filepath.Dir(binDir), "crds")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no CRD manifests in %s; run `make tools`", dir)
	}
	return files, nil
}
