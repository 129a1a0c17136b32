package cpi

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

var _ = Describe("Node initialisation by the vSphere CPI", Label(labels.CPI, labels.Nodes), func() {
	var t *target.Target

	BeforeEach(func() {
		t = target.Current()
	})

	It("sets every node's providerID to vsphere://<BIOS UUID> of the VM named like the node", func(ctx SpecContext) {
		for _, n := range initialisedNodes(ctx, t) {
			info := readVM(ctx, nodeVM(ctx, t, n.Name))
			Expect(info.BIOSUUID).NotTo(BeEmpty(), "VM %s has no config.uuid", n.Name)
			Expect(n.Spec.ProviderID).To(Equal(providerPrefix+info.BIOSUUID),
				"node %s: providerID %q, but VM %s (%s) has BIOS UUID %s", n.Name, n.Spec.ProviderID, n.Name, info.Reference, info.BIOSUUID)
		}
	}, SpecTimeout(2*time.Minute))

	It("gives every node the addresses its VM's guest reports: InternalIP, ExternalIP and Hostname", func(ctx SpecContext) {
		for _, n := range initialisedNodes(ctx, t) {
			info := readVM(ctx, nodeVM(ctx, t, n.Name))
			Expect(info.IPs).NotTo(BeEmpty(), "VM %s reports no guest IP", n.Name)
			addrs := nodeAddresses(&n)
			Expect(addrs[corev1.NodeInternalIP]).NotTo(BeEmpty(), "node %s has no InternalIP", n.Name)
			Expect(addrs[corev1.NodeExternalIP]).NotTo(BeEmpty(), "node %s has no ExternalIP", n.Name)
			for _, typ := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP} {
				for _, ip := range addrs[typ] {
					Expect(info.IPs).To(ContainElement(ip), "node %s: %s %s is not an address of VM %s's guest (%v)", n.Name, typ, ip, n.Name, info.IPs)
				}
			}
			if info.Hostname != "" {
				Expect(addrs[corev1.NodeHostName]).To(ContainElement(info.Hostname), "node %s: Hostname addresses %v, VM guest host name %q", n.Name, addrs[corev1.NodeHostName], info.Hostname)
			}
		}
	}, SpecTimeout(2*time.Minute))

	It("labels every node with the instance type of its VM's CPUs, memory and guest OS", func(ctx SpecContext) {
		for _, n := range initialisedNodes(ctx, t) {
			info := readVM(ctx, nodeVM(ctx, t, n.Name))
			Expect(n.Labels).To(HaveKeyWithValue(labelInstanceType, HavePrefix(expectedInstanceType(info))),
				"node %s: VM has %d CPUs and %d MB", n.Name, info.CPUs, info.MemoryMB)
			Expect(n.Labels[labelInstanceType]).NotTo(HaveSuffix(".os-"), "node %s: instance type names no guest OS", n.Name)
		}
	}, SpecTimeout(2*time.Minute))
})
