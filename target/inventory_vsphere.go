package target

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/vmware/govmomi/cns"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/fault"
	pbmtypes "github.com/vmware/govmomi/pbm/types"
	"github.com/vmware/govmomi/property"
	vapi "github.com/vmware/govmomi/vapi/rest"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/types"
)

// The vCenter side of the inventory. VMs, their disks, folders, resource
// pools and datastores come from one RetrievePropertiesEx through a
// container view of the datacenter (vSphere Web Services SDK Programming
// Guide, "Property Collector": a ContainerView traversal collects many
// objects in one call); FCDs from one VStorageObjectManager
// ListVStorageObject per datastore, their snapshots from one
// RetrieveSnapshotInfo per FCD (VSLM has no bulk query).

// inventoryParallel bounds the concurrent per-object calls (FCD snapshots,
// tag names), so a large vCenter is not flooded.
const inventoryParallel = 8

// eamExtension manages the agent VMs vCenter's ESX Agent Manager deploys
// and retires on its own (vSphere Cluster Services' vCLS VMs, one to three
// per cluster, re-created at will; solutions' per-host agents). Their
// VirtualMachine.config.managedBy names it.
const eamExtension = "com.vmware.vim.eam"

// vclsFolder is the VM folder vCenter makes for the vCLS VMs (below the
// datacenter's VM folder, when it deploys the first).
const vclsFolder = "vCLS"

// entity is what the view retrieve returns of one managed object.
type entity struct {
	ref        types.ManagedObjectReference
	name       string
	parent     *types.ManagedObjectReference
	devices    []types.BaseVirtualDevice // VMs
	managedBy  string                    // VMs: config.managedBy.extensionKey
	accessible bool                      // datastores: summary.accessible
}

// viewKinds are the managed object types the view collects and the
// properties of each. ComputeResource (clusters too) only names resource
// pools' paths.
var viewKinds = map[string][]string{
	"VirtualMachine":  {"name", "config.hardware.device", "config.managedBy"},
	"Folder":          {"name", "parent"},
	"ResourcePool":    {"name", "parent"},
	"ComputeResource": {"name", "parent"},
	"Datastore":       {"name", "summary.accessible"},
}

// vcenterObjects lists the datacenter's VMs, VM disks, folders, resource
// pools, FCDs and FCD snapshots.
func (t *Target) vcenterObjects(ctx context.Context) ([]Object, []VolumeRef, error) {
	if t.VC == nil || t.Datacenter == nil || t.VSLM == nil {
		return nil, nil, errNoVCenter
	}
	ents, err := t.viewEntities(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("list VMs, folders, resource pools and datastores: %w", err)
	}
	objs := entityObjects(t.Datacenter.Name(), ents)
	fcds, snaps, err := t.fcdsAndSnapshots(ctx, ents)
	if err != nil {
		return nil, nil, err
	}
	return append(objs, snaps...), fcds, nil
}

// viewEntities is the one retrieve through a container view.
func (t *Target) viewEntities(ctx context.Context) ([]entity, error) {
	kinds := make([]string, 0, len(viewKinds))
	for k := range viewKinds {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	v, err := view.NewManager(t.VC.Client).CreateContainerView(ctx, t.Datacenter.Reference(), kinds, true)
	if err != nil {
		return nil, err
	}
	defer func() { _ = v.Destroy(context.WithoutCancel(ctx)) }()
	spec := types.PropertyFilterSpec{ObjectSet: []types.ObjectSpec{{
		Obj:       v.Reference(),
		Skip:      types.NewBool(true),
		SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{Type: "ContainerView", Path: "view"}},
	}}}
	for _, k := range kinds {
		spec.PropSet = append(spec.PropSet, types.PropertySpec{Type: k, PathSet: viewKinds[k]})
	}
	res, err := property.DefaultCollector(t.VC.Client).RetrieveProperties(ctx, types.RetrieveProperties{SpecSet: []types.PropertyFilterSpec{spec}})
	if err != nil {
		return nil, err
	}
	return parseEntities(res.Returnval)
}

// parseEntities reads the retrieve's contents. An object whose properties
// could not be read for want of a session or permission fails the
// inventory (it would look gone); one that went away meanwhile is left out.
func parseEntities(contents []types.ObjectContent) ([]entity, error) {
	out := make([]entity, 0, len(contents))
	for _, oc := range contents {
		for _, m := range oc.MissingSet {
			switch m.Fault.Fault.(type) {
			case *types.NotAuthenticated, *types.NoPermission:
				return nil, fmt.Errorf("%s of %s: %T", m.Path, oc.Obj, m.Fault.Fault)
			}
		}
		e := entity{ref: oc.Obj}
		for _, p := range oc.PropSet {
			switch p.Name {
			case "name":
				e.name, _ = p.Val.(string)
			case "parent":
				if r, ok := p.Val.(types.ManagedObjectReference); ok {
					e.parent = &r
				}
			case "config.hardware.device":
				if d, ok := p.Val.(types.ArrayOfVirtualDevice); ok {
					e.devices = d.VirtualDevice
				}
			case "config.managedBy":
				switch m := p.Val.(type) {
				case types.ManagedByInfo:
					e.managedBy = m.ExtensionKey
				case *types.ManagedByInfo:
					e.managedBy = m.ExtensionKey
				}
			case "summary.accessible":
				e.accessible, _ = p.Val.(bool)
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// entityObjects makes the VMs, VM disks, folders and resource pools of the
// retrieve's entities. Folders and pools are named by their inventory path
// below the datacenter ("/DC0/vm/k8s", "/DC0/host/C0/Resources/p1").
func entityObjects(dc string, ents []entity) []Object {
	byRef := map[types.ManagedObjectReference]*entity{}
	for i := range ents {
		byRef[ents[i].ref] = &ents[i]
	}
	path := func(e *entity) string {
		var parts []string
		for seen := 0; e != nil && seen < 64; seen++ { // 64: no loop, whatever the server says
			parts = append(parts, e.name)
			if e.parent == nil {
				break
			}
			e = byRef[*e.parent]
		}
		slices.Reverse(parts)
		return "/" + dc + "/" + strings.Join(parts, "/")
	}
	var out []Object
	for i := range ents {
		e := &ents[i]
		switch e.ref.Type {
		case "VirtualMachine":
			if e.managedBy == eamExtension {
				continue // vCenter's agent VMs come and go on their own
			}
			out = append(out, Object{Kind: KindVM, ID: e.ref.Value, Name: e.name})
			out = append(out, diskObjects(e)...)
		case "Folder":
			p := path(e)
			if p == "/"+dc+"/vm/"+vclsFolder {
				continue // made by vCenter with its first vCLS VM
			}
			out = append(out, Object{Kind: KindFolder, ID: e.ref.Value, Name: p})
		case "ResourcePool", "VirtualApp":
			out = append(out, Object{Kind: KindResourcePool, ID: e.ref.Value, Name: path(e)})
		}
	}
	return out
}

// diskObjects are a VM's virtual disks, keyed by the VM's name and the
// disk's FCD ID or, for a disk that is no FCD, its backing file: a disk
// moved to another VM, or a second disk with the same file, is a new one.
func diskObjects(vm *entity) []Object {
	var out []Object
	for _, d := range vm.devices {
		disk, ok := d.(*types.VirtualDisk)
		if !ok {
			continue
		}
		id, file := diskKey(disk)
		if id == "" {
			continue
		}
		detail := labelled("VM", vm.ref.Value)
		if file != id {
			detail = joinDetail(labelled("file", file), detail)
		}
		out = append(out, Object{Kind: KindVMDisk, ID: vm.name + ":" + id, Detail: detail})
	}
	return out
}

// diskKey is a disk's FCD ID (its VDiskId) or else its backing file, and
// the backing file. A first-class disk's file changes with its snapshots
// (a delta disk), its ID does not.
func diskKey(d *types.VirtualDisk) (key, file string) {
	if b, ok := d.Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
		file = b.GetVirtualDeviceFileBackingInfo().FileName
	}
	if d.VDiskId != nil && d.VDiskId.Id != "" {
		return d.VDiskId.Id, file
	}
	return file, file
}

// fcdsAndSnapshots lists the FCDs of every accessible datastore (an
// inaccessible one cannot answer, and the check must not fail for it) and
// each FCD's snapshots.
func (t *Target) fcdsAndSnapshots(ctx context.Context, ents []entity) ([]VolumeRef, []Object, error) {
	var dss []entity
	for _, e := range ents {
		if e.ref.Type == "Datastore" && e.accessible {
			dss = append(dss, e)
		}
	}
	slices.SortFunc(dss, func(a, b entity) int { return strings.Compare(a.name, b.name) })
	type fcd struct {
		id string
		ds *entity
	}
	var all []fcd
	var fcds []VolumeRef
	for i := range dss {
		refs, err := t.fcdIDsOn(ctx, dss[i].ref, dss[i].name)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range refs {
			all = append(all, fcd{r.ID, &dss[i]})
		}
		fcds = append(fcds, refs...)
	}
	snaps := make([][]Object, len(all))
	err := forEach(ctx, len(all), func(ctx context.Context, i int) error {
		f := all[i]
		info, err := t.VSLM.RetrieveSnapshotInfo(ctx, f.ds.ref, f.id)
		if err != nil {
			// Deleted since the listing: vCenter answers NotFound, vcsim
			// InvalidArgument (simulator.VcenterVStorageObjectManager).
			if isAbsent(err) || fault.Is(err, &types.InvalidArgument{}) {
				return nil
			}
			return fmt.Errorf("snapshots of FCD %s on datastore %s: %w", f.id, f.ds.name, err)
		}
		for _, s := range info.Snapshots {
			if s.Id == nil {
				continue
			}
			snaps[i] = append(snaps[i], Object{Kind: KindFCDSnapshot, ID: f.id + "/" + s.Id.Id, Name: s.Description, Datastore: f.ds.name})
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return fcds, slices.Concat(snaps...), nil
}

// cnsSnapshots lists every CNS snapshot (CnsQuerySnapshots without query
// specs returns all, page by page). On vCenter they are FCD snapshots as
// well; vcsim's CNS keeps its own, which only this query shows.
// A vCenter without the snapshot API (before 7.0 U3) has none: the kind is unlisted.
func (t *Target) cnsSnapshots(ctx context.Context) ([]Object, map[string]string, error) {
	if t.CNS == nil {
		return nil, nil, errNoVCenter
	}
	filter := cnstypes.CnsSnapshotQueryFilter{Cursor: &cnstypes.CnsCursor{Limit: cnsPageSize}}
	var out []Object
	for {
		res, err := t.querySnapshotsPage(ctx, filter)
		if fault.Is(err, &types.MethodNotFound{}) || fault.Is(err, &types.NotSupported{}) {
			return nil, map[string]string{KindCNSSnapshot: "vCenter has no CNS snapshot API"}, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("list CNS snapshots: %w", err)
		}
		for _, e := range res.Entries {
			if e.Error != nil {
				switch e.Error.Fault.(type) {
				case *cnstypes.CnsVolumeNotFoundFault, *cnstypes.CnsSnapshotNotFoundFault, *types.NotFound:
					continue // deleted meanwhile
				}
				return nil, nil, fmt.Errorf("list CNS snapshots: %s", faultError{e.Error})
			}
			s := e.Snapshot
			out = append(out, Object{Kind: KindCNSSnapshot, ID: s.VolumeId.Id + "+" + s.SnapshotId.Id, Name: s.Description})
		}
		next := res.Cursor.Offset
		if len(res.Entries) == 0 || next <= filter.Cursor.Offset || next >= res.Cursor.TotalRecords {
			return out, nil, nil
		}
		filter.Cursor.Offset = next
	}
}

func (t *Target) querySnapshotsPage(ctx context.Context, filter cnstypes.CnsSnapshotQueryFilter) (*cnstypes.CnsSnapshotQueryResult, error) {
	task, err := t.CNS.QuerySnapshots(ctx, filter)
	if err != nil {
		return nil, err
	}
	info, err := cns.GetTaskInfo(ctx, task)
	if err != nil {
		return nil, err
	}
	return cns.GetQuerySnapshotsTaskResult(ctx, info)
}

// tagObjects lists tag categories and tags: two listings of IDs, and a
// lookup for the name of each ID not seen before (the tagging API has no
// bulk read; names are cached, IDs are never reused).
func (t *Target) tagObjects(ctx context.Context) ([]Object, map[string]string, error) {
	if t.Tags == nil {
		why := "no vAPI (tagging) session"
		return nil, map[string]string{KindTagCategory: why, KindTag: why}, nil
	}
	catIDs, err := t.Tags.ListCategories(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("list tag categories: %w", err)
	}
	tagIDs, err := t.Tags.ListTags(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("list tags: %w", err)
	}
	ids := slices.Concat(catIDs, tagIDs)
	names := make([]vapiName, len(ids))
	found := make([]bool, len(ids))
	err = forEach(ctx, len(ids), func(ctx context.Context, i int) error {
		var err error
		names[i], found[i], err = t.vapiName(ctx, ids[i], i < len(catIDs))
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	catName := map[string]string{}
	for i, id := range catIDs {
		catName[id] = names[i].name
	}
	var out []Object
	for i, id := range ids {
		switch {
		case !found[i]:
			continue // deleted since the listing
		case i < len(catIDs):
			out = append(out, Object{Kind: KindTagCategory, ID: id, Name: names[i].name})
		default:
			cat := catName[names[i].category]
			if cat == "" {
				cat = names[i].category
			}
			out = append(out, Object{Kind: KindTag, ID: id, Name: names[i].name, Detail: labelled("category", cat)})
		}
	}
	return out, nil, nil
}

// vapiName is a tag's or category's name (and a tag's category ID).
type vapiName struct{ name, category string }

var vapiNames = struct {
	sync.Mutex
	byID map[string]vapiName
}{byID: map[string]vapiName{}}

// vapiName returns the cached name of a tag or category, else reads it;
// found is false for one that no longer exists.
func (t *Target) vapiName(ctx context.Context, id string, category bool) (n vapiName, found bool, err error) {
	vapiNames.Lock()
	n, ok := vapiNames.byID[id]
	vapiNames.Unlock()
	if ok {
		return n, true, nil
	}
	if category {
		c, err := t.Tags.GetCategory(ctx, id)
		if err != nil {
			return n, false, notFoundOK(err, "tag category "+id)
		}
		n = vapiName{name: c.Name}
	} else {
		tag, err := t.Tags.GetTag(ctx, id)
		if err != nil {
			return n, false, notFoundOK(err, "tag "+id)
		}
		n = vapiName{name: tag.Name, category: tag.CategoryID}
	}
	vapiNames.Lock()
	vapiNames.byID[id] = n
	vapiNames.Unlock()
	return n, true, nil
}

// notFoundOK is nil for a vAPI 404 (the object is gone), else err.
func notFoundOK(err error, what string) error {
	if vapi.IsStatusError(err, http.StatusNotFound) {
		return nil
	}
	return fmt.Errorf("get %s: %w", what, err)
}

// policyObjects lists the SPBM storage profiles (of every category): one
// PbmQueryProfile for the IDs, one PbmRetrieveContent for their names. A
// profile deleted between the two fails RetrieveContent; the pair is tried
// once more.
func (t *Target) policyObjects(ctx context.Context) ([]Object, map[string]string, error) {
	if t.PBM == nil {
		return nil, map[string]string{KindSPBMProfile: "no SPBM client"}, nil
	}
	var errs []error
	for range 2 {
		objs, err := t.queryPolicies(ctx)
		if err == nil {
			return objs, nil, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, nil, fmt.Errorf("list SPBM profiles: %w", errors.Join(errs...))
}

func (t *Target) queryPolicies(ctx context.Context) ([]Object, error) {
	ids, err := t.PBM.QueryProfile(ctx, pbmtypes.PbmProfileResourceType{ResourceType: string(pbmtypes.PbmProfileResourceTypeEnumSTORAGE)}, "")
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	profiles, err := t.PBM.RetrieveContent(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Object, 0, len(profiles))
	for _, p := range profiles {
		base := p.GetPbmProfile()
		o := Object{Kind: KindSPBMProfile, ID: base.ProfileId.UniqueId, Name: base.Name}
		if c, ok := p.(pbmtypes.BasePbmCapabilityProfile); ok {
			o.Detail = labelled("category", c.GetPbmCapabilityProfile().ProfileCategory)
		}
		out = append(out, o)
	}
	return out, nil
}

// forEach runs fn for 0..n-1, inventoryParallel at a time, and returns the
// first error (the rest are cancelled).
func forEach(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	sem := make(chan struct{}, inventoryParallel)
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}
