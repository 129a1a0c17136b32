package cpi

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// Registering Nodes is a kubelet's job: these specs need capability
// fakeNodes. Power-off (shutdown taint) and VM deletion (Node deleted) are
// not specified here yet: the cloud node lifecycle controller only looks at
// NotReady nodes, and the hermetic target's kwok heartbeats every node
// Ready (see the report of issue 6).
var _ = Describe("Node lifecycle with the vSphere CPI", Label(labels.CPI, labels.Nodes), func() {
	var t *target.Target

	BeforeEach(func() {
		t = target.Current()
		t.Require(target.FakeNodes)
	})

	It("initialises the Node of a new VM: taint removed, providerID, addresses and instance type from vCenter", func(ctx SpecContext) {
		name := fakeNodeName()
		ip := guestIP(10)
		uuid := createFakeNode(ctx, t, name, ip, vmFolder(ctx, t), nodePool(ctx, t))

		n := waitInitialised(ctx, t, name)
		info := readVM(ctx, nodeVM(ctx, t, name))
		Expect(info.BIOSUUID).To(Equal(uuid))
		Expect(n.Spec.ProviderID).To(Equal(providerPrefix + uuid))
		addrs := nodeAddresses(n)
		Expect(addrs[corev1.NodeInternalIP]).To(ConsistOf(ip))
		Expect(info.Hostname).To(Equal(name), "VM %s's guest reports host name %q", name, info.Hostname)
		Expect(addrs[corev1.NodeHostName]).To(ContainElement(info.Hostname), "node %s: Hostname addresses %v", name, addrs[corev1.NodeHostName])
		Expect(n.Labels).To(HaveKeyWithValue(labelInstanceType, HavePrefix(expectedInstanceType(info))))
	}, SpecTimeout(3*time.Minute))
})
