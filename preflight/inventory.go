package preflight

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// csiProvisioner is the vSphere CSI driver's name, a StorageClass's
// provisioner.
const csiProvisioner = "csi.vsphere.vmware.com"

var (
	errNoVCenter = errors.New("target has no vCenter connection (client or datacenter)")
	errNoKube    = errors.New("target has no Kubernetes client")
)

// env is what the checks share: the Target and the inventory read from it,
// each part read once, when a check first needs it. Reading a part may fail;
// the checks that need it then report that they did not run.
type env struct {
	t   *target.Target
	cfg *target.Config

	vmsRead    bool
	vms        []nodeVM
	vmFindings []Finding // checkNodeVMs reports them

	hosts      once[map[types.ManagedObjectReference]*hostInfo]
	datastores once[[]mo.Datastore]
	classes    once[[]storagev1.StorageClass]
}

// once holds one part of the inventory, read on first use.
type once[T any] struct {
	done bool
	v    T
	err  error
}

func (o *once[T]) get(read func() (T, error)) (T, error) {
	if !o.done {
		o.v, o.err = read()
		o.done = true
	}
	return o.v, o.err
}

// nodeVM is a Kubernetes node and the properties of its VM.
type nodeVM struct {
	Node string
	VM   mo.VirtualMachine
}

func (v nodeVM) object() string { return "VM " + v.VM.Name + " (node " + v.Node + ")" }

// hostInfo is an ESXi host that runs a node VM.
type hostInfo struct {
	Ref         types.ManagedObjectReference
	Name        string
	Cluster     *types.ManagedObjectReference // nil for a standalone host
	ClusterName string
	Datastores  []types.ManagedObjectReference // the datastores it mounts
}

// vmProperties are what the VM checks read of each node VM.
var vmProperties = []string{"name", "config.uuid", "config.version", "config.extraConfig", "config.hardware.device", "runtime.host"}

// nodeVMs returns the node VMs that were found and read.
func (e *env) nodeVMs(ctx context.Context) []nodeVM {
	if !e.vmsRead {
		e.vms, e.vmFindings = e.readNodeVMs(ctx)
		e.vmsRead = true
	}
	return e.vms
}

func (e *env) readNodeVMs(ctx context.Context) ([]nodeVM, []Finding) {
	const what = "node VMs"
	if e.t.Kube == nil {
		return nil, []Finding{notRun(what, "", errNoKube)}
	}
	nodes, err := e.t.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, []Finding{notRun(what, "Nodes", fmt.Errorf("list nodes: %w", err))}
	}
	if len(nodes.Items) == 0 {
		return nil, []Finding{notRun(what, "Nodes", errors.New("the cluster has no Nodes"))}
	}
	if e.t.VC == nil || e.t.Datacenter == nil {
		return nil, []Finding{notRun(what, "", errNoVCenter)}
	}
	var findings []Finding
	var refs []types.ManagedObjectReference
	nodeOf := map[types.ManagedObjectReference]string{}
	for i := range nodes.Items {
		node := &nodes.Items[i]
		vm, err := e.t.VMForNode(ctx, node)
		switch {
		case err != nil && isLookupFailure(err):
			findings = append(findings, notRun(what, "node "+node.Name, err))
		case err != nil:
			findings = append(findings, nodeVMNotFound(node.Name, node.Spec.ProviderID, node.Status.NodeInfo.SystemUUID, e.t.Datacenter.Name(), err))
		default:
			if _, dup := nodeOf[vm.Reference()]; !dup {
				refs = append(refs, vm.Reference())
			}
			nodeOf[vm.Reference()] = node.Name
		}
	}
	if len(refs) == 0 {
		return nil, findings
	}
	var mos []mo.VirtualMachine
	if err := property.DefaultCollector(e.t.VC.Client).Retrieve(ctx, refs, vmProperties, &mos); err != nil {
		return nil, append(findings, notRun(what, "", fmt.Errorf("read node VMs' config: %w", err)))
	}
	out := make([]nodeVM, 0, len(mos))
	for _, m := range mos {
		out = append(out, nodeVM{Node: nodeOf[m.Reference()], VM: m})
	}
	slices.SortFunc(out, func(a, b nodeVM) int { return strings.Compare(a.Node, b.Node) })
	return out, findings
}

// isLookupFailure tells a VM lookup that failed (a vSphere fault such as
// NoPermission, a connection error, a cancelled context) from one that
// looked and found nothing.
func isLookupFailure(err error) bool {
	var fault interface{ Fault() types.BaseMethodFault }
	var uerr *url.Error
	return errors.As(err, &fault) || errors.As(err, &uerr) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// nodeHosts returns the hosts that run the node VMs, with their clusters and
// mounted datastores.
func (e *env) nodeHosts(ctx context.Context) (map[types.ManagedObjectReference]*hostInfo, error) {
	return e.hosts.get(func() (map[types.ManagedObjectReference]*hostInfo, error) { return e.readHosts(ctx) })
}

func (e *env) readHosts(ctx context.Context) (map[types.ManagedObjectReference]*hostInfo, error) {
	vms := e.nodeVMs(ctx)
	var refs []types.ManagedObjectReference
	for _, v := range vms {
		if v.VM.Runtime.Host != nil && !slices.Contains(refs, *v.VM.Runtime.Host) {
			refs = append(refs, *v.VM.Runtime.Host)
		}
	}
	out := map[types.ManagedObjectReference]*hostInfo{}
	if len(refs) == 0 {
		return out, nil
	}
	pc := property.DefaultCollector(e.t.VC.Client)
	var hosts []mo.HostSystem
	if err := pc.Retrieve(ctx, refs, []string{"name", "parent", "datastore"}, &hosts); err != nil {
		return nil, fmt.Errorf("read node VMs' hosts: %w", err)
	}
	var clusters []types.ManagedObjectReference
	for _, h := range hosts {
		hi := &hostInfo{Ref: h.Reference(), Name: h.Name, Datastores: h.Datastore}
		if h.Parent != nil && h.Parent.Type == "ClusterComputeResource" {
			hi.Cluster = h.Parent
			if !slices.Contains(clusters, *h.Parent) {
				clusters = append(clusters, *h.Parent)
			}
		}
		out[hi.Ref] = hi
	}
	if len(clusters) > 0 {
		var ccs []mo.ClusterComputeResource
		if err := pc.Retrieve(ctx, clusters, []string{"name"}, &ccs); err != nil {
			return nil, fmt.Errorf("read node VMs' clusters: %w", err)
		}
		names := map[types.ManagedObjectReference]string{}
		for _, c := range ccs {
			names[c.Reference()] = c.Name
		}
		for _, h := range out {
			if h.Cluster != nil {
				h.ClusterName = names[*h.Cluster]
			}
		}
	}
	return out, nil
}

// allDatastores lists the configured datacenter's datastores (name and
// summary, whose url the datastoreurl parameter names).
func (e *env) allDatastores(ctx context.Context) ([]mo.Datastore, error) {
	return e.datastores.get(func() ([]mo.Datastore, error) { return e.readDatastores(ctx) })
}

func (e *env) readDatastores(ctx context.Context) ([]mo.Datastore, error) {
	if e.t.VC == nil || e.t.Datacenter == nil {
		return nil, errNoVCenter
	}
	v, err := view.NewManager(e.t.VC.Client).CreateContainerView(ctx, e.t.Datacenter.Reference(), []string{"Datastore"}, true)
	if err != nil {
		return nil, fmt.Errorf("list datastores: %w", err)
	}
	defer func() { _ = v.Destroy(context.WithoutCancel(ctx)) }()
	var all []mo.Datastore
	if err := v.Retrieve(ctx, []string{"Datastore"}, []string{"name", "summary"}, &all); err != nil {
		return nil, fmt.Errorf("list datastores: %w", err)
	}
	slices.SortFunc(all, func(a, b mo.Datastore) int { return strings.Compare(a.Name, b.Name) })
	return all, nil
}

// storageClasses lists the cluster's StorageClasses of the vSphere CSI
// driver.
func (e *env) storageClasses(ctx context.Context) ([]storagev1.StorageClass, error) {
	return e.classes.get(func() ([]storagev1.StorageClass, error) { return e.readStorageClasses(ctx) })
}

func (e *env) readStorageClasses(ctx context.Context) ([]storagev1.StorageClass, error) {
	if e.t.Kube == nil {
		return nil, errNoKube
	}
	list, err := e.t.Kube.StorageV1().StorageClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list StorageClasses: %w", err)
	}
	var out []storagev1.StorageClass
	for _, sc := range list.Items {
		if sc.Provisioner == csiProvisioner {
			out = append(out, sc)
		}
	}
	slices.SortFunc(out, func(a, b storagev1.StorageClass) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// scParam returns a StorageClass parameter by name. The driver lowercases
// parameter names before it reads them (v3.3.1
// pkg/csi/service/common/util.go), so datastoreURL and datastoreurl are
// the same parameter.
func scParam(sc storagev1.StorageClass, name string) (string, bool) {
	for k, v := range sc.Parameters {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// listNames names up to three items and counts the rest, for findings that
// group many objects: "a, b, c and 4 more".
func listNames(names []string) string {
	const shown = 3
	if len(names) <= shown {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:shown], ", "), len(names)-shown)
}
