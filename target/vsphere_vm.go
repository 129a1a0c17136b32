package target

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	corev1 "k8s.io/api/core/v1"
)

// PolicyID returns the ID of the SPBM storage policy with this name.
func (t *Target) PolicyID(ctx context.Context, name string) (string, error) {
	if t.PBM == nil {
		return "", errNoVCenter
	}
	id, err := t.PBM.ProfileIDByName(ctx, name)
	if err != nil {
		return "", fmt.Errorf("storage policy %q: %w", name, err)
	}
	return id, nil
}

// VMByName finds the VM with this name anywhere in the datacenter's folders.
func (t *Target) VMByName(ctx context.Context, name string) (*object.VirtualMachine, error) {
	if t.VC == nil || t.Datacenter == nil {
		return nil, errNoVCenter
	}
	m := view.NewManager(t.VC.Client)
	v, err := m.CreateContainerView(ctx, t.Datacenter.Reference(), []string{"VirtualMachine"}, true)
	if err != nil {
		return nil, fmt.Errorf("find VM %q: %w", name, err)
	}
	defer func() { _ = v.Destroy(context.WithoutCancel(ctx)) }()
	refs, err := v.Find(ctx, []string{"VirtualMachine"}, property.Match{"name": name})
	if err != nil {
		return nil, fmt.Errorf("find VM %q: %w", name, err)
	}
	switch len(refs) {
	case 0:
		return nil, fmt.Errorf("no VM named %q in datacenter %s", name, t.Datacenter.Name())
	case 1:
		vm := object.NewVirtualMachine(t.VC.Client, refs[0])
		vm.InventoryPath = name
		return vm, nil
	default:
		return nil, fmt.Errorf("%d VMs named %q in datacenter %s", len(refs), name, t.Datacenter.Name())
	}
}

// VMForNode finds a Kubernetes node's VM the way the vSphere CPI and CSI
// driver do: by the BIOS UUID in spec.providerID ("vsphere://UUID"), then
// by status.nodeInfo.systemUUID, then by the node's name.
func (t *Target) VMForNode(ctx context.Context, node *corev1.Node) (*object.VirtualMachine, error) {
	if t.VC == nil || t.Datacenter == nil {
		return nil, errNoVCenter
	}
	uuids := []string{strings.TrimPrefix(node.Spec.ProviderID, "vsphere://"), node.Status.NodeInfo.SystemUUID}
	if !strings.HasPrefix(node.Spec.ProviderID, "vsphere://") {
		uuids[0] = ""
	}
	si := object.NewSearchIndex(t.VC.Client)
	for _, uuid := range uuids {
		if uuid == "" {
			continue
		}
		ref, err := si.FindByUuid(ctx, t.Datacenter, strings.ToLower(uuid), true, nil)
		if err != nil {
			return nil, fmt.Errorf("find VM of node %s by UUID %s: %w", node.Name, uuid, err)
		}
		if vm, ok := ref.(*object.VirtualMachine); ok {
			return vm, nil
		}
	}
	return t.VMByName(ctx, node.Name)
}

// AttachedDisks returns the VM's virtual disks. A disk that is a
// first-class disk carries its ID in VDiskId.
func (t *Target) AttachedDisks(ctx context.Context, vm *object.VirtualMachine) ([]*types.VirtualDisk, error) {
	devices, err := vm.Device(ctx)
	if err != nil {
		return nil, fmt.Errorf("devices of VM %s: %w", vm.Reference().Value, err)
	}
	var out []*types.VirtualDisk
	for _, d := range devices.SelectByType((*types.VirtualDisk)(nil)) {
		out = append(out, d.(*types.VirtualDisk))
	}
	noteVMDisks(vm, out)
	return out, nil
}

// DiskIDs returns the first-class disk IDs among disks, e.g. to check that
// a CNS volume is attached: Expect(target.DiskIDs(disks)).To(ContainElement(volumeID)).
func DiskIDs(disks []*types.VirtualDisk) []string {
	var ids []string
	for _, d := range disks {
		if d.VDiskId != nil && d.VDiskId.Id != "" {
			ids = append(ids, d.VDiskId.Id)
		}
	}
	return ids
}

// VMsWithDisk names every VM in the datacenter that has a virtual disk
// backed by this first-class disk, read in one retrieve: the answer to
// "where is this volume attached" that does not depend on which Nodes
// exist. A VM that goes away during the read holds nothing.
func (t *Target) VMsWithDisk(ctx context.Context, fcdID string) ([]string, error) {
	if t.VC == nil || t.Datacenter == nil {
		return nil, errNoVCenter
	}
	v, err := view.NewManager(t.VC.Client).CreateContainerView(ctx, t.Datacenter.Reference(), []string{"VirtualMachine"}, true)
	if err != nil {
		return nil, fmt.Errorf("list VMs: %w", err)
	}
	defer func() { _ = v.Destroy(context.WithoutCancel(ctx)) }()
	var vms []mo.VirtualMachine
	for try := 1; ; try++ {
		// A VM destroyed between the view's listing and the read fails
		// the whole retrieve; the next one no longer lists it.
		vms = nil
		err = v.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name", "config.hardware.device"}, &vms)
		if err == nil {
			break
		}
		if !isNotFound(err) || try == 3 {
			return nil, fmt.Errorf("disks of the datacenter's VMs: %w", err)
		}
	}
	var out []string
	for _, vm := range vms {
		if vm.Config == nil {
			continue
		}
		for _, d := range object.VirtualDeviceList(vm.Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil)) {
			if disk := d.(*types.VirtualDisk); disk.VDiskId != nil && disk.VDiskId.Id == fcdID {
				out = append(out, vm.Name)
				break
			}
		}
	}
	slices.Sort(out)
	return out, nil
}
