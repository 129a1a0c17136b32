package vcext

import (
	"crypto/rand"
	"fmt"
	"sync"

	"github.com/vmware/govmomi/cns"
	cnsmethods "github.com/vmware/govmomi/cns/methods"
	cnstypes "github.com/vmware/govmomi/cns/types"
	pbmtypes "github.com/vmware/govmomi/pbm/types"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	vsantypes "github.com/vmware/govmomi/vsan/types"
)

// CNS file volumes are vSAN file shares (vSphere CNS API reference,
// CnsVolumeCreateSpec with volumeType FILE, CnsVsanFileShareBackingDetails
// and CnsVSANFileCreateSpec). cns/simulator rejects every non-block backing
// and keeps its volumes in a private map, so file volumes live in a store of
// their own, and the CNS methods that can touch them are routed here.

// Access point keys of a file share (CnsVsanFileShareBackingDetails.
// accessPoints, VsanFileShareRuntimeInfo.accessPoints).
const (
	accessPointNFSv3  = "NFSv3"
	accessPointNFSv41 = "NFSv4.1"
	// nfsv4Root is the NFSv4 pseudo root under which vSAN file service
	// exports its shares.
	nfsv4Root = "/vsanfs/"
)

// fileShare is one CNS file volume and the vSAN file share behind it.
type fileShare struct {
	volume    cnstypes.CnsVolume
	datastore types.ManagedObjectReference
	cluster   types.ManagedObjectReference
	share     vsantypes.VsanFileShare
}

// fileStore holds the file volumes of one simulator.
type fileStore struct {
	mu     sync.Mutex
	shares map[string]*fileShare // by CNS volume ID
}

var fileStores sync.Map // vim25 *simulator.Registry -> *fileStore

func filesOf(ctx *simulator.Context) *fileStore {
	v, _ := fileStores.LoadOrStore(ctx.For(vim25.Path).Map, &fileStore{shares: map[string]*fileShare{}})
	return v.(*fileStore)
}

func (s *fileStore) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shares[id] != nil
}

// fileTasks is what file volume tasks lock: they never touch the CNS
// simulator's maps, so they need not wait on its manager.
var fileTasks = taskEntity{Type: "CnsVolumeManager", Value: "vcext-file-volumes"}

// fileVolumes serves CNS calls that involve file volumes; block volumes go
// on to volumeManager.
type fileVolumes struct {
	*volumeManager
}

// installCNSFileVolumes routes to fileVolumes the CNS creates of FILE
// volumes, deletes and metadata updates of known file volumes, all volume
// queries (which merge both kinds), and the vSAN file service's share query.
// Install it before the other CNS overrides: the first hook that picks a
// handler wins.
func installCNSFileVolumes(r *simulator.Registry) {
	overrideCalls(r, func(ctx *simulator.Context, m *simulator.Method) mo.Reference {
		if m.This.Type == fileServiceSystemRef.Type && m.This.Value == fileServiceSystemRef.Value {
			return &fileServiceSystem{}
		}
		ref := cns.CnsVolumeManagerInstance
		if m.This.Type != ref.Type || m.This.Value != ref.Value {
			return nil
		}
		base := ctx.Map.Get(m.This)
		if base == nil {
			return nil
		}
		fv := &fileVolumes{&volumeManager{base: base}}
		files := filesOf(ctx)
		switch req := m.Body.(type) {
		case *cnstypes.CnsCreateVolume:
			if len(req.CreateSpecs) == 1 && req.CreateSpecs[0].VolumeType == string(cnstypes.CnsVolumeTypeFile) {
				return fv
			}
		case *cnstypes.CnsDeleteVolume:
			if len(req.VolumeIds) == 1 && files.has(req.VolumeIds[0].Id) {
				return fv
			}
		case *cnstypes.CnsUpdateVolumeMetadata:
			if len(req.UpdateSpecs) > 0 && files.has(req.UpdateSpecs[0].VolumeId.Id) {
				return fv
			}
		case *cnstypes.CnsQueryVolume:
			if is[volumeQuerier](base) {
				return fv
			}
		case *cnstypes.CnsQueryAllVolume:
			if is[allVolumeQuerier](base) {
				return fv
			}
		}
		return nil
	})
}

// CnsCreateVolume creates a file volume: a vSAN file share on a vsan
// datastore, among the spec's datastores, of a cluster with vSAN file
// service enabled (vSAN Management API, VsanClusterGetConfig.
// fileServiceConfig.enabled), with the spec's soft quota and net
// permissions, exported over NFSv3 and NFSv4.1 by the domain's file server.
// The volume ID is "file:<share uuid>", as vCenter names file volumes.
func (f *fileVolumes) CnsCreateVolume(ctx *simulator.Context, req *cnstypes.CnsCreateVolume) soap.HasFault {
	vctx := ctx.For(vim25.Path)
	task := simulator.CreateTask(fileTasks, "CnsCreateVolume", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		if len(req.CreateSpecs) != 1 {
			return nil, &types.InvalidArgument{InvalidProperty: "InputSpec"}
		}
		spec := req.CreateSpecs[0]
		details, ok := spec.BackingObjectDetails.(*cnstypes.CnsVsanFileShareBackingDetails)
		if !ok {
			return nil, &types.InvalidArgument{InvalidProperty: "createSpecs.backingObjectDetails"}
		}
		res := &cnstypes.CnsVolumeCreateResult{Name: spec.Name}
		if details.BackingFileId != "" {
			// Registering an existing share (static file volumes).
			res.Fault = opFault(&types.NotSupported{}, "registering the existing file share %s is not simulated", details.BackingFileId)
			return batch(res), nil
		}
		target, fault := fileServiceDatastore(ctx, spec.Datastores)
		if fault != nil {
			res.Fault = fault
			return batch(res), nil
		}
		fs := newFileShare(spec, details, target)
		files := filesOf(ctx)
		files.mu.Lock()
		files.shares[fs.volume.VolumeId.Id] = fs
		files.mu.Unlock()
		res.VolumeId = fs.volume.VolumeId
		res.PlacementResults = []cnstypes.CnsPlacementResult{{Datastore: fs.datastore}}
		return batch(res), nil
	})
	return &cnsmethods.CnsCreateVolumeBody{
		Res: &cnstypes.CnsCreateVolumeResponse{Returnval: task.Run(vctx)},
	}
}

func batch(r cnstypes.BaseCnsVolumeOperationResult) *cnstypes.CnsVolumeOperationBatchResult {
	return &cnstypes.CnsVolumeOperationBatchResult{VolumeResults: []cnstypes.BaseCnsVolumeOperationResult{r}}
}

// fileTarget is where a file share goes: a vsan datastore and the file
// service of its cluster.
type fileTarget struct {
	datastore *simulator.Datastore
	cluster   types.ManagedObjectReference
	domain    vsantypes.VsanFileServiceDomainConfig
	address   string
}

// fileServiceDatastore picks the first of the datastores that is a vSAN
// datastore whose cluster has file service enabled with a file server
// address; a CnsFault naming the datastores otherwise.
func fileServiceDatastore(ctx *simulator.Context, datastores []types.ManagedObjectReference) (*fileTarget, *types.LocalizedMethodFault) {
	vctx := ctx.For(vim25.Path)
	var names []string
	for _, ref := range datastores {
		ds, ok := vctx.Map.Get(ref).(*simulator.Datastore)
		if !ok {
			continue
		}
		names = append(names, ds.Name)
		if ds.Summary.Type != string(types.HostFileSystemVolumeFileSystemTypeVsan) {
			continue
		}
		for _, mount := range ds.Host {
			host, ok := vctx.Map.Get(mount.Key).(*simulator.HostSystem)
			if !ok || host.Parent == nil || host.Parent.Type != "ClusterComputeResource" {
				continue
			}
			if t := fileService(ctx, *host.Parent); t != nil {
				t.datastore = ds
				return t, nil
			}
		}
	}
	return nil, cnsFault("no vSAN datastore with vSAN file service enabled among the datastores %v", names)
}

// fileService is the cluster's enabled file service domain and the address
// of its primary file server, from the vSAN cluster config; nil if the
// cluster has no vSAN or no file service.
func fileService(ctx *simulator.Context, cluster types.ManagedObjectReference) *fileTarget {
	cfg := vsanClusterConfig(ctx, cluster)
	if cfg == nil || cfg.Enabled == nil || !*cfg.Enabled || cfg.FileServiceConfig == nil || !cfg.FileServiceConfig.Enabled {
		return nil
	}
	for _, d := range cfg.FileServiceConfig.Domains {
		for _, ip := range d.FileServerIpConfig {
			if ip.IpAddress != "" && (ip.IsPrimary == nil || *ip.IsPrimary || len(d.FileServerIpConfig) == 1) {
				return &fileTarget{cluster: cluster, domain: d, address: ip.IpAddress}
			}
		}
	}
	return nil
}

// newFileShare builds the CNS volume and its share. Quotas are in the vSAN
// API's string form; a spec without net permissions gives a share no client
// can reach (vSAN's "no access" default).
func newFileShare(spec cnstypes.CnsVolumeCreateSpec, details *cnstypes.CnsVsanFileShareBackingDetails, t *fileTarget) *fileShare {
	id := newUUID()
	name := spec.Name
	access := []types.KeyValue{
		{Key: accessPointNFSv3, Value: t.address + ":/" + name},
		{Key: accessPointNFSv41, Value: t.address + ":" + nfsv4Root + name},
	}
	var perms []vsantypes.VsanFileShareNetPermission
	var soft int64
	if cs, ok := spec.CreateSpec.(*cnstypes.CnsVSANFileCreateSpec); ok {
		soft = cs.SoftQuotaInMb
		for _, p := range cs.Permission {
			perms = append(perms, vsantypes.VsanFileShareNetPermission{
				Ips: p.Ips, Permissions: string(p.Permissions), AllowRoot: types.NewBool(p.AllowRoot),
			})
		}
	}
	policy := ""
	if len(spec.Profile) > 0 {
		if p, ok := spec.Profile[0].(*types.VirtualMachineDefinedProfileSpec); ok {
			policy = p.ProfileId
		}
	}
	cfg := &vsantypes.VsanFileShareConfig{
		Name:       name,
		DomainName: t.domain.Name,
		Quota:      fmt.Sprintf("%dMB", details.CapacityInMb),
		Permission: perms,
		Protocols:  []string{string(vsantypes.VsanFileProtocolNFSv3), string(vsantypes.VsanFileProtocolNFSv4)},
	}
	if soft > 0 {
		cfg.SoftQuota = fmt.Sprintf("%dMB", soft)
	}
	return &fileShare{
		datastore: t.datastore.Self,
		cluster:   t.cluster,
		volume: cnstypes.CnsVolume{
			VolumeId:        cnstypes.CnsVolumeId{Id: "file:" + id},
			DatastoreUrl:    t.datastore.Info.GetDatastoreInfo().Url,
			Name:            name,
			VolumeType:      string(cnstypes.CnsVolumeTypeFile),
			StoragePolicyId: policy,
			Metadata:        spec.Metadata,
			BackingObjectDetails: &cnstypes.CnsVsanFileShareBackingDetails{
				CnsFileBackingDetails: cnstypes.CnsFileBackingDetails{
					CnsBackingObjectDetails: cnstypes.CnsBackingObjectDetails{CapacityInMb: details.CapacityInMb},
					BackingFileId:           id,
				},
				Name:         name,
				AccessPoints: access,
			},
			ComplianceStatus:             string(pbmtypes.PbmComplianceStatusCompliant),
			DatastoreAccessibilityStatus: string(pbmtypes.PbmHealthStatusForEntityGreen),
			HealthStatus:                 string(pbmtypes.PbmHealthStatusForEntityGreen),
		},
		share: vsantypes.VsanFileShare{
			Uuid:   id,
			Config: cfg,
			Runtime: &vsantypes.VsanFileShareRuntimeInfo{
				Address:      t.address,
				AccessPoints: access,
				ManagedBy:    string(vsantypes.VsanFileShareManagingEntitycns),
			},
		},
	}
}

// CnsDeleteVolume deletes a file volume and its share.
func (f *fileVolumes) CnsDeleteVolume(ctx *simulator.Context, req *cnstypes.CnsDeleteVolume) soap.HasFault {
	vctx := ctx.For(vim25.Path)
	task := simulator.CreateTask(fileTasks, "CnsDeleteVolume", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		if len(req.VolumeIds) != 1 {
			return nil, &types.InvalidArgument{InvalidProperty: "InputSpec"}
		}
		id := req.VolumeIds[0]
		res := &cnstypes.CnsVolumeOperationResult{VolumeId: id}
		files := filesOf(ctx)
		files.mu.Lock()
		if files.shares[id.Id] == nil {
			res.Fault = &types.LocalizedMethodFault{Fault: new(types.NotFound)}
		}
		delete(files.shares, id.Id)
		files.mu.Unlock()
		return batch(res), nil
	})
	return &cnsmethods.CnsDeleteVolumeBody{
		Res: &cnstypes.CnsDeleteVolumeResponse{Returnval: task.Run(vctx)},
	}
}

// CnsUpdateVolumeMetadata merges entity metadata into file volumes, as
// volumeManager does for block volumes (see cnsmetadata.go).
func (f *fileVolumes) CnsUpdateVolumeMetadata(ctx *simulator.Context, req *cnstypes.CnsUpdateVolumeMetadata) soap.HasFault {
	vctx := ctx.For(vim25.Path)
	task := simulator.CreateTask(fileTasks, "CnsUpdateVolumeMetadata", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		if len(req.UpdateSpecs) == 0 {
			return nil, &types.InvalidArgument{InvalidProperty: "CnsUpdateVolumeMetadataSpec"}
		}
		files := filesOf(ctx)
		files.mu.Lock()
		defer files.mu.Unlock()
		out := &cnstypes.CnsVolumeOperationBatchResult{}
		for _, spec := range req.UpdateSpecs {
			res := &cnstypes.CnsVolumeOperationResult{VolumeId: spec.VolumeId}
			if fs := files.shares[spec.VolumeId.Id]; fs == nil {
				res.Fault = &types.LocalizedMethodFault{Fault: new(types.NotFound)}
			} else {
				md := &fs.volume.Metadata
				md.EntityMetadata = mergeEntities(md.EntityMetadata, spec.Metadata.EntityMetadata)
				if spec.Metadata.ContainerCluster.ClusterId != "" {
					md.ContainerCluster = spec.Metadata.ContainerCluster
				}
				if len(spec.Metadata.ContainerClusterArray) > 0 {
					md.ContainerClusterArray = spec.Metadata.ContainerClusterArray
				}
			}
			out.VolumeResults = append(out.VolumeResults, res)
		}
		return out, nil
	})
	return &cnsmethods.CnsUpdateVolumeBody{
		Res: &cnstypes.CnsUpdateVolumeMetadataResponse{Returnval: task.Run(vctx)},
	}
}

// newUUID is a random (version 4) UUID, the form of vSAN object UUIDs.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
