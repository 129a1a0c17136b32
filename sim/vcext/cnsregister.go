package vcext

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/vmware/govmomi/cns"
	cnsmethods "github.com/vmware/govmomi/cns/methods"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vmdk"
)

// diskRegistrar serves CnsCreateVolume for specs that name an existing disk
// by URL; every other create goes to volumeManager (which it also hands the
// rewritten spec to, so its policy handling applies to registered disks).
type diskRegistrar struct{ *volumeManager }

// installCNSRegister routes CnsCreateVolume calls whose spec has
// backingDiskUrlPath to diskRegistrar. Install it before
// installCNSVolumeManager: the first hook that picks a handler wins.
func installCNSRegister(r *simulator.Registry) {
	overrideCalls(r, func(ctx *simulator.Context, m *simulator.Method) mo.Reference {
		ref := cns.CnsVolumeManagerInstance
		if m.Name != "CnsCreateVolume" || m.This.Type != ref.Type || m.This.Value != ref.Value {
			return nil
		}
		req, ok := m.Body.(*cnstypes.CnsCreateVolume)
		if !ok || backingURL(req) == "" {
			return nil
		}
		base := ctx.Map.Get(m.This)
		if base == nil || !is[volumeQuerier](base) || !is[volumeCreator](base) {
			return nil
		}
		return &diskRegistrar{&volumeManager{base: base}}
	})
}

// backingURL is the backingDiskUrlPath of a single block create spec that
// names no FCD; "" otherwise.
func backingURL(req *cnstypes.CnsCreateVolume) string {
	if len(req.CreateSpecs) != 1 {
		return ""
	}
	d, ok := req.CreateSpecs[0].BackingObjectDetails.(*cnstypes.CnsBlockBackingDetails)
	if !ok || d.BackingDiskId != "" {
		return ""
	}
	return d.BackingDiskUrlPath
}

// CnsCreateVolume registers an existing virtual disk when the create spec
// names one. vSphere CNS API reference, CnsBlockBackingDetails: a create spec
// whose backing has backingDiskUrlPath (the disk's datastore URL,
// https://VC/folder/PATH?dcPath=DC&dsName=DS) or backingDiskId (an FCD) makes
// CNS register that disk as the volume instead of creating one; the disk
// keeps its file path, and a disk that already backs a volume gives
// CnsAlreadyRegisteredFault with that volume's ID. The CNS simulator honours
// backingDiskId only and creates a NEW disk for a URL path; here the URL's
// vmdk is registered as an FCD first (VStorageObjectManager.RegisterDisk,
// which vcsim serves for that URL form) and handed on as backingDiskId.
func (m *diskRegistrar) CnsCreateVolume(ctx *simulator.Context, req *cnstypes.CnsCreateVolume) soap.HasFault {
	vctx := ctx.For(vim25.Path)
	details := req.CreateSpecs[0].BackingObjectDetails.(*cnstypes.CnsBlockBackingDetails)

	var diskID string
	var fault *types.LocalizedMethodFault
	cnsLock(vctx, func() { diskID, fault = m.registerURL(vctx, details.BackingDiskUrlPath, req.CreateSpecs[0].Name) })
	if fault != nil {
		task := simulator.CreateTask(m, "CnsCreateVolume", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
			return &cnstypes.CnsVolumeOperationBatchResult{
				VolumeResults: []cnstypes.BaseCnsVolumeOperationResult{&cnstypes.CnsVolumeCreateResult{
					CnsVolumeOperationResult: cnstypes.CnsVolumeOperationResult{Fault: fault},
				}},
			}, nil
		})
		return &cnsmethods.CnsCreateVolumeBody{
			Res: &cnstypes.CnsCreateVolumeResponse{Returnval: task.Run(vctx)},
		}
	}

	spec := req.CreateSpecs[0]
	d := *details
	d.BackingDiskId = diskID
	spec.BackingObjectDetails = &d
	return m.volumeManager.CnsCreateVolume(ctx, &cnstypes.CnsCreateVolume{This: req.This, CreateSpecs: []cnstypes.CnsVolumeCreateSpec{spec}})
}

// registerURL returns the FCD ID of the vmdk at a datastore URL, registering
// it as an FCD if it is not one yet. The caller holds the CNS task lock.
func (m *volumeManager) registerURL(ctx *simulator.Context, rawURL, name string) (string, *types.LocalizedMethodFault) {
	ds, path, ok := datastorePathOf(ctx, rawURL)
	if !ok {
		return "", opFault(&types.InvalidArgument{InvalidProperty: "backingDiskUrlPath"},
			"backingDiskUrlPath %q does not name a vmdk on a datastore", rawURL)
	}
	dsPath := (&object.DatastorePath{Datastore: ds.Name, Path: path}).String()
	if id := fcdByPath(ctx, ds.Self, dsPath); id != "" {
		if m.volume(ctx, cnstypes.CnsVolumeId{Id: id}) != nil {
			return "", opFault(&cnstypes.CnsAlreadyRegisteredFault{VolumeId: cnstypes.CnsVolumeId{Id: id}},
				"disk %s is already registered as volume %s", dsPath, id)
		}
		return id, nil
	}

	vsom := ctx.Map.VStorageObjectManager()
	body, _ := vsom.RegisterDisk(ctx, &types.RegisterDisk{This: vsom.Self, Path: rawURL, Name: name}).(*methods.RegisterDiskBody)
	if body == nil || body.Res == nil {
		return "", opFault(&types.NotFound{}, "cannot register %s as a first class disk", dsPath)
	}
	obj := body.Res.Returnval
	// vcsim registers the disk with capacity 0; the vmdk descriptor has it.
	if mb := vmdkCapacityMB(ds, path); mb > 0 {
		ctx.WithLock(vsom, func() {
			if o, ok := vsom.Catalog()[ds.Self][obj.Config.Id]; ok {
				o.Config.CapacityInMB = mb
			}
		})
	}
	return obj.Config.Id.Id, nil
}

// datastorePathOf parses https://HOST/folder/PATH?dcPath=DC&dsName=DS.
func datastorePathOf(ctx *simulator.Context, rawURL string) (*simulator.Datastore, string, bool) {
	u, err := url.Parse(rawURL)
	if err != nil || !strings.HasPrefix(u.Path, "/folder/") || !strings.HasSuffix(u.Path, ".vmdk") {
		return nil, "", false
	}
	name := u.Query().Get("dsName")
	for _, ref := range ctx.Map.AllReference("Datastore") {
		if ds, ok := ctx.Map.Get(ref.Reference()).(*simulator.Datastore); ok && ds.Name == name {
			return ds, strings.TrimPrefix(u.Path, "/folder/"), true
		}
	}
	return nil, "", false
}

// fcdByPath is the ID of the FCD whose backing file is dsPath, if any.
func fcdByPath(ctx *simulator.Context, ds types.ManagedObjectReference, dsPath string) string {
	vsom := ctx.Map.VStorageObjectManager()
	var id string
	ctx.WithLock(vsom, func() {
		for oid, obj := range vsom.Catalog()[ds] {
			if b, ok := obj.Config.Backing.(*types.BaseConfigInfoDiskFileBackingInfo); ok && b.FilePath == dsPath {
				id = oid.Id
			}
		}
	})
	return id
}

// vmdkCapacityMB reads the disk size from the vmdk descriptor in the
// simulator's datastore directory (Info.Url is that directory); 0 if unknown.
func vmdkCapacityMB(ds *simulator.Datastore, path string) int64 {
	f, err := os.Open(filepath.Join(ds.Info.GetDatastoreInfo().Url, filepath.FromSlash(path)))
	if err != nil {
		return 0
	}
	defer f.Close()
	d, err := vmdk.ParseDescriptor(f)
	if err != nil {
		return 0
	}
	return d.Capacity() / (1024 * 1024)
}
