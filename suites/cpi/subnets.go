package cpi

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vmware/govmomi/vim25/mo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// A VM with addresses on several networks is the case the CPI config's
// nodes.internalNetworkSubnetCidr / externalNetworkSubnetCidr exist for;
// without them the CPI takes the first address for both types.
var _ = Describe("Node address selection by the subnets of the CPI config", Label(labels.CPI, labels.Nodes), func() {
	var t *target.Target

	BeforeEach(func() {
		t = target.Current()
		t.Require(target.FakeNodes)
		if t.Config.CPI.InternalSubnet == "" || t.Config.CPI.ExternalSubnet == "" {
			Skip("the target config declares no cpi.internalSubnet and cpi.externalSubnet (the CPI config's nodes.internalNetworkSubnetCidr / externalNetworkSubnetCidr)")
		}
	})

	It("takes a multi-homed VM's InternalIP and ExternalIP from the configured subnets, not from its first NIC", func(ctx SpecContext) {
		host := 10 + rand.Intn(200)
		external, err := addressIn(t.Config.CPI.ExternalSubnet, host)
		Expect(err).NotTo(HaveOccurred())
		internal, err := addressIn(t.Config.CPI.InternalSubnet, host)
		Expect(err).NotTo(HaveOccurred())
		externalIP, internalIP := strings.Split(external, "/")[0], strings.Split(internal, "/")[0]

		// The external address is on the first NIC, where the CPI's default
		// selection would take the InternalIP from.
		name := fakeNodeName()
		vm, uuid := t.CreateNodeVM(ctx, target.NodeVMSpec{Name: name, NICs: []string{external, internal},
			Folder: vmFolder(ctx, t), Pool: t.NodePool(ctx)})
		t.RegisterFakeNode(ctx, name, uuid, nil)

		By("reading the VM's two NICs and their addresses in vCenter")
		var o mo.VirtualMachine
		Expect(vm.Properties(ctx, vm.Reference(), []string{"guest.net"}, &o)).To(Succeed())
		Expect(o.Guest).NotTo(BeNil())
		var perNIC [][]string
		for _, nic := range o.Guest.Net {
			Expect(nic.DeviceConfigId).NotTo(Equal(int32(-1)), "guest.net of VM %s lists a device that is not a vNIC", name)
			perNIC = append(perNIC, nic.IpAddress)
		}
		Expect(perNIC).To(Equal([][]string{{externalIP}, {internalIP}}), "guest.net addresses of VM %s, NIC by NIC", name)

		By("checking the node's addresses after the CPI initialised it")
		waitInitialised(ctx, t, name)
		n := waitAddresses(ctx, t, name, "InternalIP "+internalIP+" and ExternalIP "+externalIP, func(a map[corev1.NodeAddressType][]string) bool {
			return slices.Equal(a[corev1.NodeInternalIP], []string{internalIP}) && slices.Equal(a[corev1.NodeExternalIP], []string{externalIP})
		})
		addrs := nodeAddresses(n)
		Expect(addrs[corev1.NodeInternalIP]).To(ConsistOf(internalIP), "InternalIP of node %s: subnet %s", name, t.Config.CPI.InternalSubnet)
		Expect(addrs[corev1.NodeExternalIP]).To(ConsistOf(externalIP), "ExternalIP of node %s: subnet %s", name, t.Config.CPI.ExternalSubnet)
	}, SpecTimeout(3*time.Minute))
})

// addressIn is host number n of the first IPv4 CIDR of a comma-separated
// list, with the prefix length ("192.0.2.7/24").
func addressIn(cidrs string, n int) (string, error) {
	for _, c := range strings.Split(cidrs, ",") {
		prefix, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			return "", fmt.Errorf("subnet %q: %v", c, err)
		}
		if !prefix.Addr().Is4() {
			continue
		}
		prefix = prefix.Masked()
		if size := 1 << (32 - prefix.Bits()); n <= 0 || n >= size-1 {
			return "", fmt.Errorf("subnet %s has no host number %d", prefix, n)
		}
		b := prefix.Addr().As4()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		v += uint32(n)
		addr := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		return fmt.Sprintf("%s/%d", addr, prefix.Bits()), nil
	}
	return "", fmt.Errorf("no IPv4 subnet in %q", cidrs)
}
