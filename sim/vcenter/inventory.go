package vcenter

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/units"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// NodeVM is the VM behind a Kubernetes node, as vCenter reports it.
type NodeVM struct {
	Name string
	// BIOSUUID is config.uuid: the node's systemUUID, the CSI node ID and the
	// CPI's providerID (vsphere://<uuid>).
	BIOSUUID     string
	InstanceUUID string
	IP           string
	Hostname     string
	Datacenter   string
	Cluster      string
	Host         string
	// MoRef is the VM's managed object id, e.g. "vm-42".
	MoRef string
	// Kubelet is KubeletKwok or KubeletReal.
	Kubelet string
}

// inventory holds the references of what buildInventory created, so tags can
// be attached after the server is up.
type inventory struct {
	datacenters map[string]types.ManagedObjectReference
	clusters    map[[2]string]types.ManagedObjectReference   // {dc, cluster}
	hosts       map[[2]string][]types.ManagedObjectReference // {dc, cluster} -> by index
	datastores  map[[2]string]types.ManagedObjectReference   // {dc, datastore}
	vsan        map[types.ManagedObjectReference]string      // vSAN datastore -> its model name
	nodes       []NodeVM
}

// Root disk of a node VM; only a sparse file exists on the datastore.
const rootDiskGB = 16

// buildInventory creates the model's inventory through vim25 calls on c (an
// in-process client of the simulator, used before the server listens).
// Datastore directories are created below dir.
func buildInventory(ctx context.Context, c *vim25.Client, m *Model, dir string) (*inventory, error) {
	inv := &inventory{
		datacenters: map[string]types.ManagedObjectReference{},
		clusters:    map[[2]string]types.ManagedObjectReference{},
		hosts:       map[[2]string][]types.ManagedObjectReference{},
		datastores:  map[[2]string]types.ManagedObjectReference{},
		vsan:        map[types.ManagedObjectReference]string{},
	}
	root := object.NewRootFolder(c)
	for i := range m.Datacenters {
		dc := &m.Datacenters[i]
		if err := buildDatacenter(ctx, c, root, dc, filepath.Join(dir, fmt.Sprintf("dc%d", i)), inv); err != nil {
			return nil, fmt.Errorf("datacenter %q: %w", dc.Name, err)
		}
	}
	for _, n := range m.Nodes {
		vm, err := createNodeVM(ctx, c, m, n, inv)
		if err != nil {
			return nil, fmt.Errorf("node %q: %w", n.Name, err)
		}
		inv.nodes = append(inv.nodes, vm)
	}
	return inv, nil
}

func buildDatacenter(ctx context.Context, c *vim25.Client, root *object.Folder, dc *Datacenter, dir string, inv *inventory) error {
	dco, err := root.CreateDatacenter(ctx, dc.Name)
	if err != nil {
		return err
	}
	inv.datacenters[dc.Name] = dco.Reference()
	folders, err := dco.Folders(ctx)
	if err != nil {
		return err
	}
	for _, cl := range dc.Clusters {
		cluster, err := folders.HostFolder.CreateCluster(ctx, cl.Name, types.ClusterConfigSpecEx{})
		if err != nil {
			return fmt.Errorf("cluster %q: %w", cl.Name, err)
		}
		key := [2]string{dc.Name, cl.Name}
		inv.clusters[key] = cluster.Reference()
		for h := 0; h < cl.Hosts; h++ {
			task, err := cluster.AddHost(ctx, types.HostConnectSpec{HostName: HostName(cl.Name, h)}, true, nil, nil)
			if err != nil {
				return err
			}
			res, err := task.WaitForResult(ctx, nil)
			if err != nil {
				return fmt.Errorf("add host %s: %w", HostName(cl.Name, h), err)
			}
			inv.hosts[key] = append(inv.hosts[key], res.Result.(types.ManagedObjectReference))
		}
		if cl.VSAN != nil {
			if err := enableVSAN(ctx, cluster); err != nil {
				return fmt.Errorf("cluster %q: %w", cl.Name, err)
			}
			ds, err := find.NewFinder(c, false).SetDatacenter(dco).Datastore(ctx, "vsanDatastore")
			if err != nil {
				return fmt.Errorf("cluster %q: vSAN datastore: %w", cl.Name, err)
			}
			inv.vsan[ds.Reference()] = cl.VSAN.Datastore
		}
	}
	// vSphere Web Services API, HostDatastoreSystem.CreateLocalDatastore:
	// creating the same name and path on several hosts mounts one datastore
	// on all of them, which makes it shared storage for the cluster.
	for j, ds := range dc.Datastores {
		path := filepath.Join(dir, fmt.Sprintf("ds%d", j))
		if err := os.MkdirAll(path, 0o700); err != nil {
			return err
		}
		for _, cl := range dc.Clusters {
			if len(ds.Clusters) > 0 && !slices.Contains(ds.Clusters, cl.Name) {
				continue
			}
			for _, ref := range inv.hosts[[2]string{dc.Name, cl.Name}] {
				dss, err := object.NewHostSystem(c, ref).ConfigManager().DatastoreSystem(ctx)
				if err != nil {
					return err
				}
				dso, err := dss.CreateLocalDatastore(ctx, ds.Name, path)
				if err != nil {
					return fmt.Errorf("datastore %q: %w", ds.Name, err)
				}
				// vcsim answers the mounts after the first with an
				// empty reference: keep the first.
				if ref := dso.Reference(); ref.Value != "" {
					inv.datastores[[2]string{dc.Name, ds.Name}] = ref
				}
			}
		}
	}
	return nil
}

// enableVSAN turns vSAN on for a cluster (vSphere Web Services API,
// ClusterComputeResource.ReconfigureComputeResource_Task with
// ClusterConfigSpecEx.vsanConfig.enabled): the cluster's hosts then share
// one datastore of type "vsan" (vcsim names it "vsanDatastore"), which
// only they mount.
func enableVSAN(ctx context.Context, cluster *object.ClusterComputeResource) error {
	task, err := cluster.Reconfigure(ctx, &types.ClusterConfigSpecEx{
		VsanConfig: &types.VsanClusterConfigInfo{Enabled: types.NewBool(true)},
	}, true)
	if err != nil {
		return fmt.Errorf("enable vSAN: %w", err)
	}
	if err := task.Wait(ctx); err != nil {
		return fmt.Errorf("enable vSAN: %w", err)
	}
	return nil
}

// createNodeVM creates and powers on the VM of node n: n.SCSIControllers
// paravirtual SCSI controllers (bus 0 holds the root disk; CSI volumes attach
// to free units on any of them, 15 per controller, unit 7 being the
// controller's own) and one vmxnet3 NIC on "VM Network".
func createNodeVM(ctx context.Context, c *vim25.Client, m *Model, n Node, inv *inventory) (NodeVM, error) {
	dcModel, clModel := m.findCluster(n.Datacenter, n.Cluster)
	dsName := datastoreFor(dcModel, n.Cluster)
	dc := object.NewDatacenter(c, inv.datacenters[n.Datacenter])
	folders, err := dc.Folders(ctx)
	if err != nil {
		return NodeVM{}, err
	}
	key := [2]string{n.Datacenter, n.Cluster}
	pool, err := object.NewClusterComputeResource(c, inv.clusters[key]).ResourcePool(ctx)
	if err != nil {
		return NodeVM{}, err
	}
	hostIdx, _ := hostIndex(clModel, string(n.Host))
	host := object.NewHostSystem(c, inv.hosts[key][hostIdx])

	finder := find.NewFinder(c, false).SetDatacenter(dc)
	network, err := finder.Network(ctx, "VM Network")
	if err != nil {
		return NodeVM{}, err
	}
	backing, err := network.EthernetCardBackingInfo(ctx)
	if err != nil {
		return NodeVM{}, err
	}
	var devices object.VirtualDeviceList
	// Bus numbers 0..n-1 in order; the root disk goes on bus 0.
	var scsi []types.BaseVirtualDevice
	for range n.SCSIControllers {
		c, err := devices.CreateSCSIController("pvscsi")
		if err != nil {
			return NodeVM{}, err
		}
		devices = append(devices, c)
		scsi = append(scsi, c)
	}
	disk := devices.CreateDisk(scsi[0].(types.BaseVirtualController), inv.datastores[[2]string{n.Datacenter, dsName}],
		fmt.Sprintf("[%s] %s/%s.vmdk", dsName, n.Name, n.Name))
	disk.CapacityInKB = rootDiskGB * int64(units.GB) / int64(units.KB)
	nic, err := devices.CreateEthernetCard("vmxnet3", backing)
	if err != nil {
		return NodeVM{}, err
	}
	devices = append(devices, disk, nic)
	change, err := devices.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	if err != nil {
		return NodeVM{}, err
	}

	spec := types.VirtualMachineConfigSpec{
		Name:         n.Name,
		GuestId:      string(types.VirtualMachineGuestOsIdentifierUbuntu64Guest),
		NumCPUs:      n.CPUs,
		MemoryMB:     n.MemoryMB,
		Uuid:         n.UUID,
		InstanceUuid: n.InstanceUUID,
		Files:        &types.VirtualMachineFileInfo{VmPathName: "[" + dsName + "]"},
		DeviceChange: change,
		Version:      n.HardwareVersion,
	}
	// Kubernetes node VMs need disk UUIDs exposed to the guest (vSphere CSI
	// driver prerequisites), unless the model seeds the misconfiguration.
	if n.DiskEnableUUID == nil || *n.DiskEnableUUID {
		spec.ExtraConfig = append(spec.ExtraConfig, &types.OptionValue{Key: "disk.enableUUID", Value: "TRUE"})
	}
	task, err := folders.VmFolder.CreateVM(ctx, spec, pool, host)
	if err != nil {
		return NodeVM{}, err
	}
	res, err := task.WaitForResult(ctx, nil)
	if err != nil {
		return NodeVM{}, err
	}
	vm := object.NewVirtualMachine(c, res.Result.(types.ManagedObjectReference))
	if task, err = vm.PowerOn(ctx); err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		return NodeVM{}, fmt.Errorf("power on: %w", err)
	}
	if err := setGuestInfo(ctx, vm, n); err != nil {
		return NodeVM{}, err
	}

	// Report what a client reads back, not what was asked for.
	var o mo.VirtualMachine
	if err := vm.Properties(ctx, vm.Reference(), []string{"config.uuid", "config.instanceUuid"}, &o); err != nil {
		return NodeVM{}, err
	}
	return NodeVM{
		Name:         n.Name,
		BIOSUUID:     o.Config.Uuid,
		InstanceUUID: o.Config.InstanceUuid,
		IP:           n.IP,
		Hostname:     n.Hostname,
		Datacenter:   n.Datacenter,
		Cluster:      n.Cluster,
		Host:         string(n.Host),
		MoRef:        vm.Reference().Value,
		Kubelet:      n.Kubelet,
	}, nil
}

// setGuestInfo makes the VM look like a running guest with VMware Tools
// reporting its network identity (vSphere Web Services API, GuestInfo:
// ipAddress, hostName, net[].ipAddress, toolsRunningStatus, guestState).
// vcsim sets guest properties from "SET.<property path>" extraConfig keys and
// copies guest.ipAddress into guest.net[0] (the first NIC), which is where
// the vSphere CPI reads node addresses.
func setGuestInfo(ctx context.Context, vm *object.VirtualMachine, n Node) error {
	set := func(prop, val string) types.BaseOptionValue {
		return &types.OptionValue{Key: "SET." + prop, Value: val}
	}
	task, err := vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{ExtraConfig: []types.BaseOptionValue{
		set("guest.toolsRunningStatus", string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)),
		set("summary.guest.toolsRunningStatus", string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)),
		set("guest.guestState", "running"),
		set("guest.hostName", n.Hostname),
		set("guest.ipAddress", n.IP),
	}})
	if err != nil {
		return err
	}
	if err := task.Wait(ctx); err != nil {
		return fmt.Errorf("set guest info: %w", err)
	}
	return nil
}
