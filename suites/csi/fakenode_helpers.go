package csi

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"

	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// Helpers of the specs that give a volume a node of their own (capability
// fakeNodes): a VM the spec creates, its kwok Node and the CSI driver's
// registration on it, so the spec may power the VM off or destroy it.

// fakeNodeTimeout bounds the CPI's initialising a new node and the node
// lifecycle controller's marking a silent one NotReady.
const fakeNodeTimeout = 2 * time.Minute

// csiFakeNode is a node of the spec's own with the CSI driver registered.
type csiFakeNode struct {
	name string
	uuid string // the VM's BIOS UUID, the CSI node ID
	vm   *object.VirtualMachine
	node *corev1.Node
}

// csiNeighbourNode picks a schedulable, Ready fake node with the CSI driver
// and a VM (the first by name), where a spec's own VM goes beside and its
// volume moves to, and the StorageClass terms of its topology segment (nil
// without topology).
func csiNeighbourNode(ctx SpecContext, t *target.Target) (*corev1.Node, []corev1.TopologySelectorTerm) {
	GinkgoHelper()
	nodes, err := t.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "type=kwok"})
	Expect(err).NotTo(HaveOccurred())
	slices.SortFunc(nodes.Items, func(a, b corev1.Node) int { return strings.Compare(a.Name, b.Name) })
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if n.Spec.Unschedulable || !isNodeReady(n) || !strings.HasPrefix(n.Spec.ProviderID, "vsphere://") {
			continue
		}
		cn, err := t.Kube.StorageV1().CSINodes().Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil || !slices.ContainsFunc(cn.Spec.Drivers, func(d storagev1.CSINodeDriver) bool { return d.Name == driverName }) {
			continue
		}
		if _, err := t.VMForNode(ctx, n); err != nil {
			continue
		}
		return n, nodeTopologyTerms(ctx, t, n)
	}
	Skip("no schedulable, Ready fake node with the CSI driver and a VM: the volume has nowhere to move to")
	return nil, nil
}

// createCSIFakeNode creates a VM in the resource pool of the neighbour's VM
// (its cluster, so its zone and datastores), registers its Node, waits for
// the CPI to initialise it and registers the CSI driver on it. Everything
// is removed when the spec ends.
func createCSIFakeNode(ctx SpecContext, t *target.Target, neighbour *corev1.Node, prefix, ip string, terms []corev1.TopologySelectorTerm) csiFakeNode {
	GinkgoHelper()
	near, err := t.VMForNode(ctx, neighbour)
	Expect(err).NotTo(HaveOccurred())
	pool, err := near.ResourcePool(ctx)
	Expect(err).NotTo(HaveOccurred(), "resource pool of node %s's VM", neighbour.Name)
	folders, err := t.Datacenter.Folders(ctx)
	Expect(err).NotTo(HaveOccurred())

	name := prefix + "-" + rand.String(5)
	vm, uuid := t.CreateNodeVM(ctx, target.NodeVMSpec{Name: name, IP: ip, Folder: folders.VmFolder, Pool: pool})
	t.RegisterFakeNode(ctx, name, uuid, nil)
	waitNode(ctx, t, name, "to be initialised by the CPI", func(n *corev1.Node) (bool, string) {
		tainted := slices.ContainsFunc(n.Spec.Taints, func(tn corev1.Taint) bool { return tn.Key == target.TaintUninitialized })
		return !tainted && strings.HasPrefix(n.Spec.ProviderID, "vsphere://"),
			fmt.Sprintf("providerID %q, uninitialized taint %t", n.Spec.ProviderID, tainted)
	})
	t.RegisterFakeCSINode(ctx, name, uuid)
	node, err := t.Kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	Expect(inSegment(node, terms)).To(BeTrue(),
		"node %s of a VM in the resource pool of node %s is outside its topology segment %v (labels %v)", name, neighbour.Name, terms, node.Labels)
	return csiFakeNode{name: name, uuid: uuid, vm: vm, node: node}
}

// waitNode waits until the node satisfies cond, which also says what it saw.
func waitNode(ctx SpecContext, t *target.Target, name, what string, cond func(*corev1.Node) (bool, string)) *corev1.Node {
	GinkgoHelper()
	var node *corev1.Node
	err := target.WaitFor(ctx, "node "+name+" "+what, fakeNodeTimeout, func(ctx context.Context) (bool, string, error) {
		n, err := t.Kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		node = n
		done, state := cond(n)
		return done, state, nil
	})
	Expect(err).NotTo(HaveOccurred())
	return node
}

func isNodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// readyState is a node's Ready condition, for wait states.
func readyState(n *corev1.Node) string {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return fmt.Sprintf("Ready=%s (%s)", c.Status, c.Reason)
		}
	}
	return "no Ready condition"
}

// runPinnedPod starts a pod with the claim on the node (through the
// scheduler, which checks the volume's node affinity) and waits until the
// volume is attached on both sides and the pod runs.
func runPinnedPod(ctx SpecContext, t *target.Target, ns, name, claim string, pv *corev1.PersistentVolume, node *corev1.Node) {
	GinkgoHelper()
	pod := t.CreatePod(ctx, ns, pinnedPod(name, node, claim))
	Expect(scheduledNode(ctx, t, ns, pod.Name)).To(Equal(node.Name), "pod %s/%s pinned to node %s", ns, pod.Name, node.Name)
	expectAttached(ctx, t, pv, node.Name)
	_, err := t.WaitForPodRunning(ctx, ns, pod.Name)
	Expect(err).NotTo(HaveOccurred())
}

// forceDeletePod deletes a pod without waiting for its kubelet (grace 0),
// as for a pod whose node is gone, and waits until it is.
func forceDeletePod(ctx context.Context, t *target.Target, ns, name string) error {
	err := t.Kube.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return t.WaitForPodDeleted(ctx, ns, name)
}

// forceDeleteOnCleanup registers forceDeletePod, to run before the pod's
// own (graceful) cleanup: a pod on a dead node never ends gracefully.
func forceDeleteOnCleanup(t *target.Target, ns, name string) {
	GinkgoHelper()
	t.Track(fmt.Sprintf("force delete pod %s/%s", ns, name), func(ctx context.Context) error {
		return forceDeletePod(ctx, t, ns, name)
	})
}

// deleteNode deletes a Node and its CSINode; either gone already is fine.
func deleteNode(ctx SpecContext, t *target.Target, name string) {
	GinkgoHelper()
	err := t.Kube.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
	if !apierrors.IsNotFound(err) {
		Expect(err).NotTo(HaveOccurred(), "delete node %s", name)
	}
	err = t.Kube.StorageV1().CSINodes().Delete(ctx, name, metav1.DeleteOptions{})
	if !apierrors.IsNotFound(err) {
		Expect(err).NotTo(HaveOccurred(), "delete CSINode %s", name)
	}
}

// powerOff powers a VM off in vCenter and says whether vCenter reports it off.
func powerOff(ctx SpecContext, vm *object.VirtualMachine) bool {
	GinkgoHelper()
	task, err := vm.PowerOff(ctx)
	Expect(err).NotTo(HaveOccurred())
	Expect(task.Wait(ctx)).To(Succeed(), "power off VM %s", vm.Reference().Value)
	state, err := vm.PowerState(ctx)
	Expect(err).NotTo(HaveOccurred())
	return state == types.VirtualMachinePowerStatePoweredOff
}
