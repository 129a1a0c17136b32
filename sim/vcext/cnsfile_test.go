package vcext

import (
	"strings"
	"testing"

	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vsan"
	vsanmethods "github.com/vmware/govmomi/vsan/methods"
	vsansim "github.com/vmware/govmomi/vsan/simulator"
	vsantypes "github.com/vmware/govmomi/vsan/types"
	vsanfstypes "github.com/vmware/govmomi/vsan/vsanfs/types"
)

// fileEnv is a cnsEnv whose cluster has vSAN (so a vsanDatastore) with file
// service served from 10.0.1.10.
type fileEnv struct {
	*cnsEnv
	ccs     *vsansim.ClusterConfigSystem
	vsanDS  types.ManagedObjectReference
	cluster types.ManagedObjectReference
	vsan    *vsan.Client
}

func newFileEnv(t *testing.T) *fileEnv {
	e, model := newCNSEnvModel(t)
	finder := find.NewFinder(e.c.Client, true)
	dc, err := finder.Datacenter(e.ctx, "DC0")
	if err != nil {
		t.Fatal(err)
	}
	finder.SetDatacenter(dc)
	cl, err := finder.ClusterComputeResource(e.ctx, "DC0_C0")
	if err != nil {
		t.Fatal(err)
	}
	task, err := cl.Reconfigure(e.ctx, &types.ClusterConfigSpecEx{
		VsanConfig: &types.VsanClusterConfigInfo{Enabled: types.NewBool(true)},
	}, true)
	if err == nil {
		err = task.Wait(e.ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	ds, err := finder.Datastore(e.ctx, "vsanDatastore")
	if err != nil {
		t.Fatal(err)
	}
	local, err := finder.Datastore(e.ctx, "LocalDS_0")
	if err != nil {
		t.Fatal(err)
	}
	e.ds = local.Reference()
	// The vSAN SDK shares the CNS endpoint, as sim/vcenter registers it.
	model.Service.RegisterSDK(vsansim.New())
	ccs := model.Service.Context.For(vsan.Path).Map.Get(vsan.VsanVcClusterConfigSystemInstance).(*vsansim.ClusterConfigSystem)
	// What sim/vcenter registers for a file service cluster.
	vs, err := vsan.NewClient(e.ctx, e.c.Client)
	if err != nil {
		t.Fatal(err)
	}
	f := &fileEnv{cnsEnv: e, ccs: ccs, vsanDS: ds.Reference(), cluster: cl.Reference(), vsan: vs}
	f.setFileService(true)
	return f
}

func (f *fileEnv) setFileService(on bool) {
	ccs := f.ccs
	if ccs.Config == nil {
		ccs.Config = map[types.ManagedObjectReference]*vsantypes.VsanConfigInfoEx{}
	}
	ccs.Config[f.cluster] = &vsantypes.VsanConfigInfoEx{
		VsanClusterConfigInfo: vsantypes.VsanClusterConfigInfo{Enabled: types.NewBool(true)},
		FileServiceConfig: &vsantypes.VsanFileServiceConfig{Enabled: on, Domains: []vsantypes.VsanFileServiceDomainConfig{{
			Name:               "vsanfs",
			FileServerIpConfig: []vsantypes.VsanFileServiceIpConfig{{HostIpConfig: types.HostIpConfig{IpAddress: "10.0.1.10"}, IsPrimary: types.NewBool(true)}},
		}}},
	}
}

func (f *fileEnv) createFile(name string, ds types.ManagedObjectReference) cnstypes.BaseCnsVolumeOperationResult {
	f.t.Helper()
	return f.result(f.cns.CreateVolume(f.ctx, []cnstypes.CnsVolumeCreateSpec{{
		Name:       name,
		VolumeType: string(cnstypes.CnsVolumeTypeFile),
		Datastores: []types.ManagedObjectReference{ds},
		Metadata: cnstypes.CnsVolumeMetadata{ContainerCluster: cnstypes.CnsContainerCluster{
			ClusterType: string(cnstypes.CnsClusterTypeKubernetes), ClusterId: "vcext", VSphereUser: "user",
		}},
		BackingObjectDetails: &cnstypes.CnsVsanFileShareBackingDetails{CnsFileBackingDetails: cnstypes.CnsFileBackingDetails{
			CnsBackingObjectDetails: cnstypes.CnsBackingObjectDetails{CapacityInMb: 1024},
		}},
		CreateSpec: &cnstypes.CnsVSANFileCreateSpec{SoftQuotaInMb: 1024, Permission: []vsanfstypes.VsanFileShareNetPermission{
			{Ips: "*", Permissions: vsanfstypes.VsanFileShareAccessTypeREAD_WRITE, AllowRoot: true},
		}},
	}}))
}

func (f *fileEnv) shares(names ...string) []vsantypes.VsanFileShare {
	f.t.Helper()
	res, err := vsanmethods.VsanClusterQueryFileShares(f.ctx, f.vsan, &vsantypes.VsanClusterQueryFileShares{
		This:      fileServiceSystemRef,
		QuerySpec: vsantypes.VsanFileShareQuerySpec{Names: names},
		Cluster:   &f.cluster,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	if res.Returnval == nil {
		return nil
	}
	return res.Returnval.FileShares
}

func TestCNSFileVolume(t *testing.T) {
	f := newFileEnv(t)
	block := f.createVolume("block", 10)
	id := f.ok(f.createFile("pvc-file", f.vsanDS)).GetCnsVolumeOperationResult().VolumeId.Id
	if !strings.HasPrefix(id, "file:") {
		t.Errorf("file volume ID %q does not start with file:", id)
	}

	// Both queries answer typed backing details, as the CSI driver casts them.
	res, err := f.cns.QueryVolume(f.ctx, &cnstypes.CnsQueryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	all, err := f.cns.QueryAllVolume(f.ctx, cnstypes.CnsQueryFilter{VolumeIds: []cnstypes.CnsVolumeId{{Id: id}}},
		cnstypes.CnsQuerySelection{Names: []string{string(cnstypes.QuerySelectionNameTypeBackingObjectDetails)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Volumes) != 2 || len(all.Volumes) != 1 {
		t.Fatalf("QueryVolume: %d volumes, QueryAllVolume by ID: %d; want 2 and 1", len(res.Volumes), len(all.Volumes))
	}
	for _, v := range append(res.Volumes, all.Volumes...) {
		switch d := v.BackingObjectDetails.(type) {
		case *cnstypes.CnsBlockBackingDetails:
			if v.VolumeId.Id != block || d.BackingDiskId != block {
				t.Errorf("block details %+v on volume %s", d, v.VolumeId.Id)
			}
		case *cnstypes.CnsVsanFileShareBackingDetails:
			if v.VolumeId.Id != id || v.VolumeType != "FILE" || d.CapacityInMb != 1024 || d.Name != "pvc-file" {
				t.Errorf("file volume %s: type %s, details %+v", v.VolumeId.Id, v.VolumeType, d)
			}
			want := map[string]string{"NFSv4.1": "10.0.1.10:/vsanfs/pvc-file", "NFSv3": "10.0.1.10:/pvc-file"}
			for _, kv := range d.AccessPoints {
				if want[kv.Key] != kv.Value {
					t.Errorf("access point %s = %q, want %q", kv.Key, kv.Value, want[kv.Key])
				}
				delete(want, kv.Key)
			}
			if len(want) > 0 {
				t.Errorf("missing access points %v", want)
			}
		default:
			t.Errorf("volume %s: backing details %T, want a typed backing", v.VolumeId.Id, d)
		}
	}

	// The vSAN file service lists the share with the create spec's permissions.
	shares := f.shares("pvc-file")
	if len(shares) != 1 {
		t.Fatalf("VsanClusterQueryFileShares: %d shares, want 1", len(shares))
	}
	s := shares[0]
	if s.Config.SoftQuota != "1024MB" || len(s.Config.Permission) != 1 || s.Runtime.ManagedBy != "cns" {
		t.Errorf("share %+v / %+v", s.Config, s.Runtime)
	}
	if p := s.Config.Permission[0]; p.Ips != "*" || p.Permissions != "READ_WRITE" || p.AllowRoot == nil || !*p.AllowRoot {
		t.Errorf("net permission %+v", p)
	}

	// Metadata updates merge entities.
	f.ok(f.result(f.cns.UpdateVolumeMetadata(f.ctx, []cnstypes.CnsVolumeMetadataUpdateSpec{{
		VolumeId: cnstypes.CnsVolumeId{Id: id},
		Metadata: cnstypes.CnsVolumeMetadata{EntityMetadata: []cnstypes.BaseCnsEntityMetadata{
			&cnstypes.CnsKubernetesEntityMetadata{CnsEntityMetadata: cnstypes.CnsEntityMetadata{EntityName: "claim"}, EntityType: "PERSISTENT_VOLUME_CLAIM", Namespace: "ns"},
		}},
	}})))
	res, err = f.cns.QueryVolume(f.ctx, &cnstypes.CnsQueryFilter{VolumeIds: []cnstypes.CnsVolumeId{{Id: id}}})
	if err != nil || len(res.Volumes) != 1 || len(res.Volumes[0].Metadata.EntityMetadata) != 1 {
		t.Fatalf("query after metadata update: %+v, %v", res, err)
	}

	// Delete removes the volume and the share.
	f.ok(f.result(f.cns.DeleteVolume(f.ctx, []cnstypes.CnsVolumeId{{Id: id}}, true)))
	res, err = f.cns.QueryVolume(f.ctx, &cnstypes.CnsQueryFilter{})
	if err != nil || len(res.Volumes) != 1 || res.Volumes[0].VolumeId.Id != block {
		t.Errorf("after delete: %+v, %v", res, err)
	}
	if got := f.shares(); len(got) != 0 {
		t.Errorf("share still listed after delete: %+v", got)
	}
}

func TestCNSFileVolumeNeedsFileService(t *testing.T) {
	f := newFileEnv(t)
	tests := []struct {
		name     string
		ds       types.ManagedObjectReference
		fileSvc  bool
		wantPart string
	}{
		{"not a vsan datastore", f.ds, true, "no vSAN datastore with vSAN file service enabled"},
		{"file service disabled", f.vsanDS, false, "no vSAN datastore with vSAN file service enabled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.setFileService(tc.fileSvc)
			r := f.createFile("pvc-"+strings.ReplaceAll(tc.name, " ", "-"), tc.ds).GetCnsVolumeOperationResult()
			if r.Fault == nil || !strings.Contains(r.Fault.LocalizedMessage, tc.wantPart) {
				t.Errorf("fault %+v, want one containing %q", r.Fault, tc.wantPart)
			}
		})
	}
}
