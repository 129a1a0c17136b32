package target

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/onsi/ginkgo/v2"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Keys of what a kubelet registers and the CPI clears.
const (
	// TaintUninitialized is set by a kubelet started with
	// --cloud-provider=external; the CPI removes it once it has initialised
	// the node.
	TaintUninitialized = "node.cloudprovider.kubernetes.io/uninitialized"
	// TaintShutdown is what the cloud node lifecycle controller sets on a
	// NotReady node whose VM is powered off.
	TaintShutdown = "node.cloudprovider.kubernetes.io/shutdown"
	// kwokManaged selects the nodes kwok (the fake kubelet) heartbeats.
	kwokManaged = "kwok.x-k8s.io/node"
)

// NodeVMSpec is a VM a spec creates to back a fake node.
type NodeVMSpec struct {
	Name string
	IP   string // the guest's IPv4 address (plain data)
	// NICs, if set, gives the VM one NIC per address ("192.0.2.7/24"),
	// set through guest customization (CustomizeVM_Task before the first
	// power-on, as a multi-homed VM is provisioned); IP is then unused.
	NICs     []string
	Hostname string // default Name
	Folder   *object.Folder
	Pool     *object.ResourcePool
	Host     *object.HostSystem // optional
	CPUs     int32              // default 2
	MemoryMB int64              // default 4096
}

// CreateNodeVM creates and powers on a VM with a pvscsi controller and one
// vmxnet3 NIC on the network of an existing node VM, reporting the spec's
// guest identity, and registers its destruction. It needs capability
// fakeNodes: with no guest OS the identity is set through vcsim's
// "SET.guest.*" extraConfig keys.
// It returns the VM and its BIOS UUID.
func (t *Target) CreateNodeVM(ctx context.Context, s NodeVMSpec) (*object.VirtualMachine, string) {
	ginkgo.GinkgoHelper()
	t.Require(FakeNodes)
	vm, uuid, err := t.createNodeVM(ctx, s)
	if vm != nil {
		ref := vm.Reference()
		t.Track("VM "+s.Name, func(ctx context.Context) error {
			return t.DestroyVM(ctx, object.NewVirtualMachine(t.VC.Client, ref))
		})
	}
	if err != nil {
		ginkgo.Fail(fmt.Sprintf("create VM %s: %v", s.Name, err))
	}
	return vm, uuid
}

func (t *Target) createNodeVM(ctx context.Context, s NodeVMSpec) (*object.VirtualMachine, string, error) {
	if s.Hostname == "" {
		s.Hostname = s.Name
	}
	if s.CPUs == 0 {
		s.CPUs = 2
	}
	if s.MemoryMB == 0 {
		s.MemoryMB = 4096
	}
	backing, err := t.nodeNetworkBacking(ctx)
	if err != nil {
		return nil, "", err
	}
	// A paravirtual SCSI controller, as on every node VM (the vSphere CSI
	// driver's prerequisites): CNS attaches volumes to its free slots.
	scsi, err := object.VirtualDeviceList{}.CreateSCSIController("pvscsi")
	if err != nil {
		return nil, "", err
	}
	devices := object.VirtualDeviceList{scsi}
	for range max(1, len(s.NICs)) {
		nic, err := devices.CreateEthernetCard("vmxnet3", backing)
		if err != nil {
			return nil, "", err
		}
		devices = append(devices, nic)
	}
	change, err := devices.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	if err != nil {
		return nil, "", err
	}
	ds, err := t.poolDatastore(ctx, s.Pool, s.Host)
	if err != nil {
		return nil, "", err
	}
	spec := types.VirtualMachineConfigSpec{
		Name:         s.Name,
		GuestId:      string(types.VirtualMachineGuestOsIdentifierUbuntu64Guest),
		NumCPUs:      s.CPUs,
		MemoryMB:     s.MemoryMB,
		Annotation:   AnnotationRunPrefix + RunID(),
		Files:        &types.VirtualMachineFileInfo{VmPathName: "[" + ds + "]"},
		DeviceChange: change,
	}
	task, err := s.Folder.CreateVM(ctx, spec, s.Pool, s.Host)
	if err != nil {
		return nil, "", err
	}
	res, err := task.WaitForResult(ctx, nil)
	if err != nil {
		return nil, "", err
	}
	vm := object.NewVirtualMachine(t.VC.Client, res.Result.(types.ManagedObjectReference))
	if len(s.NICs) > 0 {
		if err := customizeNICs(ctx, vm, s.Hostname, s.NICs); err != nil {
			return vm, "", err
		}
	}
	if task, err = vm.PowerOn(ctx); err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		return vm, "", fmt.Errorf("power on: %w", err)
	}
	// vcsim sets guest properties from "SET.<property>" keys and copies
	// guest.ipAddress into guest.net[0], where the CPI reads addresses.
	set := func(prop, val string) types.BaseOptionValue {
		return &types.OptionValue{Key: "SET." + prop, Value: val}
	}
	guest := []types.BaseOptionValue{
		set("guest.toolsRunningStatus", string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)),
		set("guest.guestState", "running"),
	}
	if len(s.NICs) == 0 { // else customization set them
		guest = append(guest, set("guest.hostName", s.Hostname), set("guest.ipAddress", s.IP))
	}
	task, err = vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{ExtraConfig: guest})
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		return vm, "", fmt.Errorf("set guest identity: %w", err)
	}
	var o mo.VirtualMachine
	if err := vm.Properties(ctx, vm.Reference(), []string{"config.uuid"}, &o); err != nil {
		return vm, "", err
	}
	return vm, o.Config.Uuid, nil
}

// customizeNICs sets the powered-off VM's host name and one fixed address
// per NIC, in device order (vSphere API: VirtualMachine.CustomizeVM_Task,
// CustomizationSpec.nicSettingMap); they apply at the next power-on and
// the guest then reports them in guest.net.
func customizeNICs(ctx context.Context, vm *object.VirtualMachine, hostname string, nics []string) error {
	spec := types.CustomizationSpec{
		Identity: &types.CustomizationLinuxPrep{
			HostName: &types.CustomizationFixedName{Name: hostname},
			Domain:   "vsconform.invalid",
		},
	}
	for _, n := range nics {
		prefix, err := netip.ParsePrefix(n)
		if err != nil || !prefix.Addr().Is4() {
			return fmt.Errorf("NIC address %q: want an IPv4 address with its prefix length, like 192.0.2.7/24", n)
		}
		mask := net.CIDRMask(prefix.Bits(), 32)
		spec.NicSettingMap = append(spec.NicSettingMap, types.CustomizationAdapterMapping{
			Adapter: types.CustomizationIPSettings{
				Ip:         &types.CustomizationFixedIp{IpAddress: prefix.Addr().String()},
				SubnetMask: net.IP(mask).String(),
			},
		})
	}
	task, err := vm.Customize(ctx, spec)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		return fmt.Errorf("customize guest NICs: %w", err)
	}
	return nil
}

// eachClusterNodeVM calls fn with the VM of each cluster node (not one a
// spec made, which may be going away) that vCenter finds, until fn says it
// is done or fails.
func (t *Target) eachClusterNodeVM(ctx context.Context, fn func(node string, vm *object.VirtualMachine) (done bool, err error)) error {
	nodes, err := t.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "!" + LabelSpec})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	for i := range nodes.Items {
		vm, err := t.VMForNode(ctx, &nodes.Items[i])
		if err != nil {
			continue
		}
		if done, err := fn(nodes.Items[i].Name, vm); done || err != nil {
			return err
		}
	}
	return nil
}

// NodePool is the resource pool of the first cluster node's VM: where a
// new node's VM belongs.
func (t *Target) NodePool(ctx context.Context) *object.ResourcePool {
	ginkgo.GinkgoHelper()
	var pool *object.ResourcePool
	err := t.eachClusterNodeVM(ctx, func(node string, vm *object.VirtualMachine) (bool, error) {
		p, err := vm.ResourcePool(ctx)
		if err != nil {
			return false, fmt.Errorf("resource pool of node %s's VM: %w", node, err)
		}
		pool = p
		return true, nil
	})
	if err == nil && pool == nil {
		err = errors.New("no node of the cluster has a VM in vCenter")
	}
	if err != nil {
		ginkgo.Fail(err.Error())
	}
	return pool
}

// nodeNetworkBacking is the network of the first NIC of an existing node's
// VM, so new VMs sit where the cluster's nodes do.
func (t *Target) nodeNetworkBacking(ctx context.Context) (types.BaseVirtualDeviceBackingInfo, error) {
	var backing types.BaseVirtualDeviceBackingInfo
	err := t.eachClusterNodeVM(ctx, func(_ string, vm *object.VirtualMachine) (bool, error) {
		devices, err := vm.Device(ctx)
		if err != nil {
			return false, err
		}
		for _, d := range devices.SelectByType((*types.VirtualEthernetCard)(nil)) {
			backing = d.GetVirtualDevice().Backing
			return true, nil
		}
		return false, nil
	})
	if err == nil && backing == nil {
		err = fmt.Errorf("no node VM with a network card to copy the network from")
	}
	return backing, err
}

// poolDatastore names a datastore the pool's (or host's) hosts mount.
func (t *Target) poolDatastore(ctx context.Context, pool *object.ResourcePool, host *object.HostSystem) (string, error) {
	if host == nil {
		owner, err := pool.Owner(ctx)
		if err != nil {
			return "", err
		}
		var cr mo.ComputeResource
		if err := object.NewCommon(t.VC.Client, owner.Reference()).Properties(ctx, owner.Reference(), []string{"host"}, &cr); err != nil {
			return "", err
		}
		if len(cr.Host) == 0 {
			return "", fmt.Errorf("compute resource %s has no host", owner.Reference().Value)
		}
		host = object.NewHostSystem(t.VC.Client, cr.Host[0])
	}
	var h mo.HostSystem
	if err := host.Properties(ctx, host.Reference(), []string{"datastore"}, &h); err != nil {
		return "", err
	}
	if len(h.Datastore) == 0 {
		return "", fmt.Errorf("host %s mounts no datastore", host.Reference().Value)
	}
	return object.NewDatastore(t.VC.Client, h.Datastore[0]).ObjectName(ctx)
}

// DestroyVM powers the VM off if needed and destroys it; a VM already gone
// is not an error.
func (t *Target) DestroyVM(ctx context.Context, vm *object.VirtualMachine) error {
	state, err := vm.PowerState(ctx)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if state == types.VirtualMachinePowerStatePoweredOn {
		task, err := vm.PowerOff(ctx)
		if err == nil {
			err = task.Wait(ctx)
		}
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("power off %s: %w", vm.Reference().Value, err)
		}
	}
	task, err := vm.Destroy(ctx)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("destroy %s: %w", vm.Reference().Value, err)
	}
	return nil
}

func isNotFound(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "ManagedObjectNotFound") || strings.Contains(err.Error(), "has already been deleted"))
}

// RegisterFakeNode registers a Node for a VM the way a kubelet started
// with --cloud-provider=external does (uninitialised taint, systemUUID =
// the VM's BIOS UUID), heartbeated by kwok, and registers its deletion.
// It needs capability fakeNodes.
func (t *Target) RegisterFakeNode(ctx context.Context, name, biosUUID string, labels map[string]string) *corev1.Node {
	ginkgo.GinkgoHelper()
	t.Require(FakeNodes)
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      withSpecLabels(labels),
			Annotations: map[string]string{kwokManaged: "fake"},
		},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: TaintUninitialized, Value: "true", Effect: corev1.TaintEffectNoSchedule}}},
	}
	node.Labels["kubernetes.io/hostname"] = name
	node.Labels["type"] = "kwok"
	created, err := t.Kube.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		ginkgo.Fail(fmt.Sprintf("register node %s: %v", name, err))
	}
	t.Track("node "+name, func(ctx context.Context) error {
		err := t.Kube.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		return nil
	})
	status, _ := json.Marshal(map[string]any{"status": map[string]any{
		"nodeInfo": map[string]any{"systemUUID": biosUUID, "operatingSystem": "linux", "architecture": "amd64"},
	}})
	if _, err := t.Kube.CoreV1().Nodes().PatchStatus(ctx, name, status); err != nil {
		ginkgo.Fail(fmt.Sprintf("node %s status: %v", name, err))
	}
	return created
}
