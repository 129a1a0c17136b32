package target

import (
	"context"
	"fmt"
	"slices"

	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	corev1 "k8s.io/api/core/v1"
)

// Datastore is what specs need to know about one datastore: its URL is
// what the CSI driver's `datastoreurl` StorageClass parameter and CNS's
// CnsVolume.datastoreUrl name it by (DatastoreSummary.url).
type Datastore struct {
	Ref       types.ManagedObjectReference
	Name      string
	URL       string
	Type      string
	Capacity  int64 // bytes
	FreeSpace int64 // bytes
}

// Datastores lists the datacenter's accessible datastores, sorted by name.
func (t *Target) Datastores(ctx context.Context) ([]Datastore, error) {
	dss, err := t.datastores(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Datastore, 0, len(dss))
	for _, ds := range dss {
		out = append(out, Datastore{
			Ref: ds.Reference(), Name: ds.Name, URL: ds.Summary.Url, Type: ds.Summary.Type,
			Capacity: ds.Summary.Capacity, FreeSpace: ds.Summary.FreeSpace,
		})
	}
	return out, nil
}

// DatastoreByURL returns the accessible datastore with this summary URL.
func (t *Target) DatastoreByURL(ctx context.Context, url string) (*Datastore, error) {
	dss, err := t.Datastores(ctx)
	if err != nil {
		return nil, err
	}
	for i := range dss {
		if dss[i].URL == url {
			return &dss[i], nil
		}
	}
	return nil, fmt.Errorf("no accessible datastore with URL %s", url)
}

// NodeDatastores lists the accessible datastores mounted on the host that
// runs a node's VM: where a volume must be for that node to attach it.
func (t *Target) NodeDatastores(ctx context.Context, node *corev1.Node) ([]Datastore, error) {
	vm, err := t.VMForNode(ctx, node)
	if err != nil {
		return nil, err
	}
	var vmo mo.VirtualMachine
	if err := vm.Properties(ctx, vm.Reference(), []string{"runtime.host"}, &vmo); err != nil {
		return nil, fmt.Errorf("host of node %s: %w", node.Name, err)
	}
	if vmo.Runtime.Host == nil {
		return nil, fmt.Errorf("VM of node %s runs on no host", node.Name)
	}
	var host mo.HostSystem
	if err := vm.Properties(ctx, *vmo.Runtime.Host, []string{"datastore"}, &host); err != nil {
		return nil, fmt.Errorf("datastores of node %s: %w", node.Name, err)
	}
	all, err := t.Datastores(ctx)
	if err != nil {
		return nil, err
	}
	var out []Datastore
	for _, ds := range all {
		if slices.Contains(host.Datastore, ds.Ref) {
			out = append(out, ds)
		}
	}
	return out, nil
}
