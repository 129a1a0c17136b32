package stack

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/vsphere-conformance/vsphere-conformance/fixtures"
)

const (
	// MetalLBNamespace is where the controller reads its pools, as in the
	// upstream manifests.
	MetalLBNamespace = "metallb-system"
	// metalLBPoolFixture holds the IPAddressPool and L2Advertisement.
	metalLBPoolFixture = "manifests/metallb-pool.yaml"
	metalLBPod         = "metallb-controller"
)

var metalLBPoolGVR = schema.GroupVersionResource{Group: "metallb.io", Version: "v1beta1", Resource: "ipaddresspools"}

// startMetalLB runs the MetalLB controller out of cluster and gives it the
// fixture's pool. Its metrics (0.0.0.0:<port>) and health probe (:<port>)
// addresses are fixed to every interface in its code, so it runs in the
// loopback-only namespace with the CSI controller, where the API server is
// relayed in. Without the webhook it needs no certificates or Service.
func (b *bringUp) startMetalLB(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: MetalLBNamespace}}
	if _, err := b.k.cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	// The controller reads its own Pod at start, to own the status objects
	// it writes. Out of cluster, a Pod object stands for the process, as
	// kwok nodes stand for kubelets; kwok marks it Running.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: metalLBPod, Namespace: MetalLBNamespace,
			Labels: map[string]string{"app": "metallb", "component": "controller"}},
		Spec: corev1.PodSpec{
			Containers:  []corev1.Container{{Name: "controller", Image: "quay.io/metallb/controller:v0.16.1"}},
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		},
	}
	if _, err := b.k.cs.CoreV1().Pods(MetalLBNamespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	size, err := b.k.applyFixture(ctx, metalLBPoolFixture)
	if err != nil {
		return err
	}
	p, err := b.launch("metallb-controller", []string{filepath.Join(b.o.BinDir, "metallb-controller"),
		"--kubeconfig=" + b.s.Kubeconfig, "--namespace=" + MetalLBNamespace, "--webhook-mode=disabled",
		"--disable-cert-rotation", "--pod-name=" + metalLBPod, "--log-level=info"}, nil, true)
	if err != nil {
		return err
	}
	// The controller publishes each pool's free addresses in its status once
	// it has loaded the config: that is when it can assign addresses.
	return b.waitProcess(ctx, p, "MetalLB to load the address pools", metalLBTimeout, func(ctx context.Context) (bool, string, error) {
		list, err := b.k.dyn.Resource(metalLBPoolGVR).Namespace(MetalLBNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		for _, pool := range list.Items {
			avail, found, _ := unstructured.NestedInt64(pool.Object, "status", "availableIPv4")
			if !found || avail == 0 {
				return false, "pool " + pool.GetName() + " has no status yet", nil
			}
		}
		return len(list.Items) == size[metalLBPoolGVR.Resource], "no pools", nil
	})
}

// applyFixture creates every object of an embedded multi-document manifest
// and counts them by resource. Only the kinds the stack knows are accepted.
func (k *kube) applyFixture(ctx context.Context, name string) (map[string]int, error) {
	data, err := fixtures.FS.ReadFile(name)
	if err != nil {
		return nil, err
	}
	resources := map[string]string{"IPAddressPool": "ipaddresspools", "L2Advertisement": "l2advertisements"}
	counts := map[string]int{}
	for _, doc := range strings.Split(string(data), "\n---") {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		if len(obj) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		res, ok := resources[u.GetKind()]
		if !ok {
			return nil, fmt.Errorf("%s: unexpected kind %q", name, u.GetKind())
		}
		gv, err := schema.ParseGroupVersion(u.GetAPIVersion())
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		gvr := gv.WithResource(res)
		if _, err := k.dyn.Resource(gvr).Namespace(u.GetNamespace()).Create(ctx, u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("%s: create %s %s: %v", name, u.GetKind(), u.GetName(), err)
		}
		counts[res]++
	}
	return counts, nil
}
