package target

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// FCD returns the first-class disk with this ID from any datastore of the
// datacenter, or nil when none holds it.
func (t *Target) FCD(ctx context.Context, id string) (*types.VStorageObject, error) {
	dss, err := t.datastores(ctx)
	if err != nil {
		return nil, err
	}
	for _, ds := range dss {
		obj, err := t.VSLM.Retrieve(ctx, ds, id)
		if err == nil {
			noteFCD(obj, ds.Name)
			return obj, nil
		}
		if !isAbsent(err) {
			return nil, fmt.Errorf("retrieve FCD %s on datastore %s: %w", id, ds.Name, err)
		}
	}
	return nil, nil
}

// ListFCDs lists every first-class disk in the datacenter with its name.
// It retrieves each disk, so it costs one call per disk; leak checks use
// the cheaper ID-only listing.
func (t *Target) ListFCDs(ctx context.Context) ([]VolumeRef, error) {
	refs, err := t.listFCDIDs(ctx)
	if err != nil {
		return nil, err
	}
	dss, err := t.datastores(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]mo.Datastore{}
	for _, ds := range dss {
		byName[ds.Name] = ds
	}
	out := refs[:0]
	for _, r := range refs {
		obj, err := t.VSLM.Retrieve(ctx, byName[r.Datastore], r.ID)
		if isAbsent(err) {
			continue // deleted since listing
		}
		if err != nil {
			return nil, fmt.Errorf("retrieve FCD %s on datastore %s: %w", r.ID, r.Datastore, err)
		}
		r.Name = obj.Config.Name
		out = append(out, r)
	}
	return out, nil
}

// listFCDIDs lists the IDs of every first-class disk, by datastore.
func (t *Target) listFCDIDs(ctx context.Context) ([]VolumeRef, error) {
	dss, err := t.datastores(ctx)
	if err != nil {
		return nil, err
	}
	var out []VolumeRef
	for _, ds := range dss {
		refs, err := t.fcdIDsOn(ctx, ds, ds.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, refs...)
	}
	return out, nil
}

// fcdIDsOn lists the IDs of the first-class disks on one datastore.
func (t *Target) fcdIDsOn(ctx context.Context, ds mo.Reference, name string) ([]VolumeRef, error) {
	ids, err := t.VSLM.List(ctx, ds)
	if err != nil {
		return nil, fmt.Errorf("list FCDs on datastore %s: %w", name, err)
	}
	out := make([]VolumeRef, 0, len(ids))
	for _, id := range ids {
		out = append(out, VolumeRef{ID: id.Id, Datastore: name})
	}
	return out, nil
}

// DatastoreOf returns the datastore that holds a first-class disk.
func (t *Target) DatastoreOf(ctx context.Context, fcd *types.VStorageObject) (*object.Datastore, error) {
	backing := fcd.Config.Backing.GetBaseConfigInfoBackingInfo()
	ds := object.NewDatastore(t.VC.Client, backing.Datastore)
	name, err := ds.ObjectName(ctx)
	if err != nil {
		return nil, fmt.Errorf("datastore of FCD %s: %w", fcd.Config.Id.Id, err)
	}
	ds.InventoryPath = name // so ds.Name() works
	return ds, nil
}

// datastores returns the datacenter's accessible datastores, sorted by
// name, wherever they sit in folders. An inaccessible datastore cannot
// answer FCD calls, and a check must not fail for it.
func (t *Target) datastores(ctx context.Context) ([]mo.Datastore, error) {
	if t.VC == nil || t.Datacenter == nil || t.VSLM == nil {
		return nil, errNoVCenter
	}
	m := view.NewManager(t.VC.Client)
	v, err := m.CreateContainerView(ctx, t.Datacenter.Reference(), []string{"Datastore"}, true)
	if err != nil {
		return nil, fmt.Errorf("list datastores: %w", err)
	}
	defer func() { _ = v.Destroy(context.WithoutCancel(ctx)) }()
	var all []mo.Datastore
	if err := v.Retrieve(ctx, []string{"Datastore"}, []string{"name", "summary"}, &all); err != nil {
		return nil, fmt.Errorf("list datastores: %w", err)
	}
	out := all[:0]
	for _, ds := range all {
		if ds.Summary.Accessible {
			out = append(out, ds)
		}
	}
	slices.SortFunc(out, func(a, b mo.Datastore) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// errNoVCenter is returned by vCenter queries on a Target without a session.
var errNoVCenter = errors.New("target has no vCenter connection")

// isAbsent reports the faults vCenter answers for an object that is not
// (or no longer) there.
func isAbsent(err error) bool {
	return err != nil && (fault.Is(err, &types.NotFound{}) || fault.Is(err, &types.FileNotFound{}))
}

// FCDSnapshotIDs lists the snapshots the first-class disk itself keeps
// (vSphere Web Services API reference, VStorageObjectManager.
// RetrieveSnapshotInfo), which CNS snapshots of a block volume are; none for
// a disk that is gone.
func (t *Target) FCDSnapshotIDs(ctx context.Context, id string) ([]string, error) {
	fcd, err := t.FCD(ctx, id)
	if err != nil || fcd == nil {
		return nil, err
	}
	ds := fcd.Config.Backing.GetBaseConfigInfoBackingInfo().Datastore
	info, err := t.VSLM.RetrieveSnapshotInfo(ctx, ds, id)
	if err != nil {
		return nil, fmt.Errorf("snapshots of FCD %s: %w", id, err)
	}
	var out []string
	for _, s := range info.Snapshots {
		if s.Id != nil {
			out = append(out, s.Id.Id)
		}
	}
	return out, nil
}
