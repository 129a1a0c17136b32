package cpi

import (
	"context"
	"fmt"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vmware/govmomi/object"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// Registering Nodes and stopping kubelets is what a real VM's kubelet
// does: these specs need capability fakeNodes. The cloud node lifecycle
// controller looks only at NotReady nodes, so a power-off or a deletion is
// the VM's change in vCenter plus its kubelet going silent.
var _ = Describe("Node lifecycle with the vSphere CPI", Label(labels.CPI, labels.Nodes), func() {
	var t *target.Target

	BeforeEach(func() {
		t = target.Current()
		t.Require(target.FakeNodes)
	})

	It("initialises the Node of a new VM: taint removed, providerID, addresses and instance type from vCenter", func(ctx SpecContext) {
		name := fakeNodeName()
		ip := guestIP(10)
		uuid := createFakeNode(ctx, t, name, ip, vmFolder(ctx, t), t.NodePool(ctx))

		n := waitInitialised(ctx, t, name)
		info := readVM(ctx, nodeVM(ctx, t, name))
		Expect(info.BIOSUUID).To(Equal(uuid))
		Expect(n.Spec.ProviderID).To(Equal(providerPrefix + uuid))
		Expect(info.Hostname).To(Equal(name), "VM %s's guest reports host name %q", name, info.Hostname)
		n = waitAddresses(ctx, t, name, "its VM's InternalIP "+ip+" and host name "+info.Hostname, func(a map[corev1.NodeAddressType][]string) bool {
			return slices.Equal(a[corev1.NodeInternalIP], []string{ip}) && slices.Contains(a[corev1.NodeHostName], info.Hostname)
		})
		addrs := nodeAddresses(n)
		Expect(addrs[corev1.NodeInternalIP]).To(ConsistOf(ip))
		Expect(addrs[corev1.NodeHostName]).To(ContainElement(info.Hostname), "node %s: Hostname addresses %v", name, addrs[corev1.NodeHostName])
		Expect(n.Labels).To(HaveKeyWithValue(labelInstanceType, HavePrefix(expectedInstanceType(info))))
	}, SpecTimeout(3*time.Minute))
})

var _ = Describe("Node lifecycle with the vSphere CPI when a VM stops or goes", Label(labels.CPI, labels.Nodes), func() {
	var t *target.Target

	BeforeEach(func() {
		t = target.Current()
		t.Require(target.FakeNodes)
	})

	It("taints the NotReady node of a powered-off VM as shut down, not that of a running VM, and clears the taint when the node is back", labels.Catches("poweroff-does-nothing"), func(ctx SpecContext) {
		name := fakeNodeName()
		createFakeNode(ctx, t, name, guestIP(11), vmFolder(ctx, t), t.NodePool(ctx))
		waitInitialised(ctx, t, name)
		vm := nodeVM(ctx, t, name)

		By("stopping the node's kubelet while its VM keeps running: NotReady, but no shutdown taint")
		Expect(t.StopFakeKubelet(ctx, name)).To(Succeed())
		waitNode(ctx, t, name, "to be NotReady", func(n *corev1.Node) bool { return !nodeReady(n) })
		Expect(readVM(ctx, vm).PowerOn).To(BeTrue(), "VM %s should still be powered on", name)
		Consistently(ctx, func(g Gomega) {
			g.Expect(taintsOf(ctx, t, name)).NotTo(ContainElement(target.TaintShutdown), "node %s of a running VM", name)
		}).WithTimeout(runningVMCheck).WithPolling(time.Second).Should(Succeed())

		By("powering the VM off in vCenter: the shutdown taint appears")
		powerVM(ctx, vm, false)
		Expect(readVM(ctx, vm).PowerOn).To(BeFalse(), "vCenter still reports VM %s powered on", name)
		n := waitNode(ctx, t, name, "to get taint "+target.TaintShutdown, func(n *corev1.Node) bool { return hasTaint(*n, target.TaintShutdown) })
		Expect(n.Spec.Taints).To(ContainElement(And(
			HaveField("Key", target.TaintShutdown), HaveField("Effect", corev1.TaintEffectNoSchedule))))

		By("powering the VM on and restarting its kubelet: Ready, and the shutdown taint is removed")
		powerVM(ctx, vm, true)
		Expect(readVM(ctx, vm).PowerOn).To(BeTrue(), "vCenter still reports VM %s powered off", name)
		Expect(t.StartFakeKubelet(ctx, name)).To(Succeed())
		waitNode(ctx, t, name, "to be Ready without taint "+target.TaintShutdown, func(n *corev1.Node) bool {
			return nodeReady(n) && !hasTaint(*n, target.TaintShutdown)
		})
	}, SpecTimeout(5*time.Minute))

	It("deletes the Node of a VM deleted from vCenter", labels.Catches("destroy-does-nothing"), func(ctx SpecContext) {
		name := fakeNodeName()
		uuid := createFakeNode(ctx, t, name, guestIP(12), vmFolder(ctx, t), t.NodePool(ctx))
		waitInitialised(ctx, t, name)
		vm := nodeVM(ctx, t, name)

		By("powering the VM off, stopping its kubelet and destroying the VM in vCenter")
		powerVM(ctx, vm, false)
		Expect(t.StopFakeKubelet(ctx, name)).To(Succeed())
		Expect(t.DestroyVM(ctx, vm)).To(Succeed())
		found, err := object.NewSearchIndex(t.VC.Client).FindByUuid(ctx, t.Datacenter, uuid, true, nil)
		Expect(err).NotTo(HaveOccurred())
		if found != nil { // not To(BeNil()): that prints the whole client
			Fail(fmt.Sprintf("vCenter still finds VM %s (%s, BIOS UUID %s) after its Destroy task succeeded", name, found.Reference().Value, uuid))
		}

		By("waiting for the CPI to delete the Node")
		err = target.WaitFor(ctx, "the CPI to delete node "+name, lifecycleTimeout, func(ctx context.Context) (bool, string, error) {
			n, err := t.Kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, "", nil
			}
			if err != nil {
				return false, err.Error(), nil
			}
			return false, describeNode(n), nil
		})
		Expect(err).NotTo(HaveOccurred())
	}, SpecTimeout(5*time.Minute))
})
