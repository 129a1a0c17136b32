package cpi

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vmware/govmomi/object"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// Bounds of the node lifecycle waits. A silent kubelet makes its node
// NotReady after kube-controller-manager's node-monitor-grace-period (50 s
// by default, shorter on the hermetic target), and the cloud node lifecycle
// controller looks every --node-monitor-period (5 s by default).
const (
	lifecycleTimeout = 2 * time.Minute
	// runningVMCheck is three of the CPI's default monitor periods: long
	// enough for it to have looked at a NotReady node at least twice.
	runningVMCheck = 15 * time.Second
)

// nodeReady reports whether the node's Ready condition is True.
func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// describeNode is the node state a timeout reports: Ready, taints and addresses.
func describeNode(n *corev1.Node) string {
	ready := "Ready condition missing"
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = fmt.Sprintf("Ready=%s (%s)", c.Status, c.Reason)
		}
	}
	var taints []string
	for _, tn := range n.Spec.Taints {
		taints = append(taints, tn.Key+":"+string(tn.Effect))
	}
	var addrs []string
	for _, a := range n.Status.Addresses {
		addrs = append(addrs, string(a.Type)+"="+a.Address)
	}
	return fmt.Sprintf("%s; taints [%s]; addresses [%s]", ready, strings.Join(taints, ", "), strings.Join(addrs, ", "))
}

// waitNode waits until cond holds for the node and returns it.
func waitNode(ctx context.Context, t *target.Target, name, what string, cond func(*corev1.Node) bool) *corev1.Node {
	GinkgoHelper()
	var node *corev1.Node
	err := target.WaitFor(ctx, "node "+name+" "+what, lifecycleTimeout, func(ctx context.Context) (bool, string, error) {
		n, err := t.Kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		node = n
		return cond(n), describeNode(n), nil
	})
	Expect(err).NotTo(HaveOccurred())
	return node
}

// taintsOf lists the keys of the node's taints.
func taintsOf(ctx context.Context, t *target.Target, name string) ([]string, error) {
	n, err := t.Kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, tn := range n.Spec.Taints {
		keys = append(keys, tn.Key)
	}
	return keys, nil
}

// powerVM powers the VM on or off through the vSphere API.
func powerVM(ctx context.Context, vm *object.VirtualMachine, on bool) {
	GinkgoHelper()
	power, what := vm.PowerOff, "off"
	if on {
		power, what = vm.PowerOn, "on"
	}
	task, err := power(ctx)
	if err == nil {
		err = task.Wait(ctx)
	}
	Expect(err).NotTo(HaveOccurred(), "power VM %s %s", vm.Reference().Value, what)
}

// waitAddresses waits until the node's addresses satisfy want. The cloud
// node controller removes the uninitialised taint first and writes the
// cloud's addresses in a second update (k8s.io/cloud-provider
// initializeNode, then updateNodeAddress), so an initialised node can
// still show the kubelet's addresses for a moment.
func waitAddresses(ctx context.Context, t *target.Target, name, what string, want func(map[corev1.NodeAddressType][]string) bool) *corev1.Node {
	GinkgoHelper()
	return waitNode(ctx, t, name, "to have "+what, func(n *corev1.Node) bool { return want(nodeAddresses(n)) })
}
