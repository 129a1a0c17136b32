package desktop

import (
	"context"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/vsphere-conformance/vsphere-conformance/desktop"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// metallbNamespace is where every MetalLB install (upstream manifests,
// minikube's addon) runs and reads its config.
const metallbNamespace = "metallb-system"

var ipAddressPoolGVR = schema.GroupVersionResource{Group: "metallb.io", Version: "v1beta1", Resource: "ipaddresspools"}

// clusterPools reads MetalLB's pools from the cluster in either form, with
// the same parser the host checks use: IPAddressPools, else the legacy
// ConfigMap metallb-system/config.
func clusterPools(ctx context.Context, t *target.Target) ([]desktop.Pool, []unstructured.Unstructured, error) {
	list, err := t.Dynamic.Resource(ipAddressPoolGVR).Namespace(metallbNamespace).List(ctx, metav1.ListOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, nil, fmt.Errorf("list IPAddressPools: %w", err)
	}
	var docs []any
	var items []unstructured.Unstructured
	if list != nil {
		items = list.Items
		for _, it := range list.Items {
			docs = append(docs, it.Object)
		}
	}
	cm, err := t.Kube.CoreV1().ConfigMaps(metallbNamespace).Get(ctx, "config", metav1.GetOptions{})
	switch {
	case err == nil:
		cm.APIVersion, cm.Kind = "v1", "ConfigMap"
		docs = append(docs, cm)
	case !apierrors.IsNotFound(err):
		return nil, nil, fmt.Errorf("get ConfigMap %s/config: %w", metallbNamespace, err)
	}
	if len(docs) == 0 {
		return nil, nil, fmt.Errorf("no IPAddressPool and no ConfigMap config in %s", metallbNamespace)
	}
	data, err := yaml.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": docs})
	if err != nil {
		return nil, nil, err
	}
	pools, err := desktop.ParseMetalLB(data)
	return pools, items, err
}

// poolHolding returns the pool with an address range containing a.
func poolHolding(pools []desktop.Pool, a netip.Addr) (desktop.Pool, bool) {
	for _, p := range pools {
		for _, r := range p.Ranges {
			if r.Contains(a) {
				return p, true
			}
		}
	}
	return desktop.Pool{}, false
}

// layer2Prefix is the network a pool address must share with a node for
// MetalLB's layer 2 mode to answer ARP for it. VMware's vmnets are /24
// (the Virtual Network Editor's default mask), and vCenter's guest info
// does not always carry a prefix length, so /24 is assumed.
const layer2Prefix = 24

func sameNetwork(a, b netip.Addr) bool {
	p, err := a.Prefix(layer2Prefix)
	return err == nil && p.Contains(b)
}

// internalIP is a node's InternalIP address.
func internalIP(n *corev1.Node) (netip.Addr, bool) {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			if ip, err := netip.ParseAddr(a.Address); err == nil && ip.Is4() {
				return ip, true
			}
		}
	}
	return netip.Addr{}, false
}
