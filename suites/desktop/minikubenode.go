package desktop

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// uninitializedTaint is what a kubelet started with --cloud-provider=external
// puts on its Node until the cloud provider (the vSphere CPI) has set it up.
const uninitializedTaint = "node.cloudprovider.kubernetes.io/uninitialized"

// createMinikubeNode stands in for the minikube VM of the talk on a target
// with capability fakeNodes: a VM whose guest reports ip (vcsim's
// "SET.guest.*" extraConfig), and a kwok Node registered for it the way a
// kubelet would, left for the real vSphere CPI to initialise. Both are
// removed when the spec ends.
func createMinikubeNode(ctx context.Context, t *target.Target, ip netip.Addr) *corev1.Node {
	GinkgoHelper()
	t.Require(target.FakeNodes)
	name := "minikube-" + rand.String(5)

	By(fmt.Sprintf("creating VM %s with guest IP %s and a Node for it", name, ip))
	hosts, err := t.Finder.HostSystemList(ctx, "*")
	Expect(err).NotTo(HaveOccurred())
	Expect(hosts).NotTo(BeEmpty(), "no ESXi host in datacenter %s", t.Datacenter.Name())
	host := hosts[0]
	var h mo.HostSystem
	Expect(host.Properties(ctx, host.Reference(), []string{"datastore", "network"}, &h)).To(Succeed())
	Expect(h.Datastore).NotTo(BeEmpty(), "host %s has no datastore", host.Name())
	Expect(h.Network).NotTo(BeEmpty(), "host %s has no network", host.Name())
	ds := object.NewDatastore(t.VC.Client, h.Datastore[0])
	dsName, err := ds.ObjectName(ctx)
	Expect(err).NotTo(HaveOccurred())
	pool, err := host.ResourcePool(ctx)
	Expect(err).NotTo(HaveOccurred())
	network := object.NewNetwork(t.VC.Client, h.Network[0])
	backing, err := network.EthernetCardBackingInfo(ctx)
	Expect(err).NotTo(HaveOccurred())
	var devices object.VirtualDeviceList
	nic, err := devices.CreateEthernetCard("vmxnet3", backing)
	Expect(err).NotTo(HaveOccurred())
	change, err := append(devices, nic).ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	Expect(err).NotTo(HaveOccurred())
	folders, err := t.Datacenter.Folders(ctx)
	Expect(err).NotTo(HaveOccurred())
	// The talk's VM: 4 vCPUs, 8 GiB (minikube start --cpus 4 --memory 8192).
	task, err := folders.VmFolder.CreateVM(ctx, types.VirtualMachineConfigSpec{
		Name: name, GuestId: string(types.VirtualMachineGuestOsIdentifierOtherLinux64Guest),
		NumCPUs: 4, MemoryMB: 8192, Files: &types.VirtualMachineFileInfo{VmPathName: "[" + dsName + "]"},
		DeviceChange: change,
	}, pool, host)
	Expect(err).NotTo(HaveOccurred())
	res, err := task.WaitForResult(ctx, nil)
	Expect(err).NotTo(HaveOccurred(), "create VM %s", name)
	vm := object.NewVirtualMachine(t.VC.Client, res.Result.(types.ManagedObjectReference))
	t.Track("VM "+name, func(ctx context.Context) error {
		if task, err := vm.PowerOff(ctx); err == nil {
			_ = task.Wait(ctx) // already off is fine
		}
		task, err := vm.Destroy(ctx)
		if err != nil {
			return err
		}
		return task.Wait(ctx)
	})
	task, err = vm.PowerOn(ctx)
	Expect(err).NotTo(HaveOccurred())
	Expect(task.Wait(ctx)).To(Succeed())
	set := func(prop, val string) types.BaseOptionValue {
		return &types.OptionValue{Key: "SET." + prop, Value: val}
	}
	task, err = vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{ExtraConfig: []types.BaseOptionValue{
		set("guest.toolsRunningStatus", string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)),
		set("summary.guest.toolsRunningStatus", string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)),
		set("guest.guestState", "running"),
		set("guest.hostName", name),
		set("guest.ipAddress", ip.String()),
	}})
	Expect(err).NotTo(HaveOccurred())
	Expect(task.Wait(ctx)).To(Succeed())
	var o mo.VirtualMachine
	Expect(vm.Properties(ctx, vm.Reference(), []string{"config.uuid"}, &o)).To(Succeed())

	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "type": "kwok",
			},
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
		},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: uninitializedTaint, Value: "true", Effect: corev1.TaintEffectNoSchedule}}},
	}
	_, err = t.Kube.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	t.Track("node "+name, func(ctx context.Context) error {
		err := t.Kube.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
	// The kubelet reports the BIOS UUID as systemUUID; the CPI finds the VM by it.
	patch, _ := json.Marshal(map[string]any{"status": map[string]any{
		"nodeInfo": map[string]any{"systemUUID": o.Config.Uuid, "operatingSystem": "linux", "architecture": "amd64"},
	}})
	_, err = t.Kube.CoreV1().Nodes().PatchStatus(ctx, name, patch)
	Expect(err).NotTo(HaveOccurred())

	By("waiting for the vSphere CPI to initialise the node with the VM's address")
	var got *corev1.Node
	err = target.WaitFor(ctx, "the CPI to initialise node "+name, target.Timeouts.PodRunning, func(ctx context.Context) (bool, string, error) {
		n, err := t.Kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		got = n
		addr, ok := internalIP(n)
		tainted := slices.ContainsFunc(n.Spec.Taints, func(tt corev1.Taint) bool { return tt.Key == uninitializedTaint })
		if n.Spec.ProviderID == "" || tainted || !ok {
			return false, fmt.Sprintf("providerID %q, uninitialized taint %v, addresses %v", n.Spec.ProviderID, tainted, n.Status.Addresses), nil
		}
		return addr == ip, "InternalIP " + addr.String(), nil
	})
	Expect(err).NotTo(HaveOccurred())
	return got
}
