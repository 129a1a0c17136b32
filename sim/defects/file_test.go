package defects_test

import (
	"strings"
	"testing"

	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vsan"
	vsanmethods "github.com/vmware/govmomi/vsan/methods"
	vsantypes "github.com/vmware/govmomi/vsan/types"
	vsanfstypes "github.com/vmware/govmomi/vsan/vsanfs/types"
)

// createFile makes a CNS file volume on the vSAN datastore of cluster-a
// (vSAN file service on), read-write for every client, as the CSI driver asks.
func (e *ncEnv) createFile(name string) string {
	e.t.Helper()
	return e.createVolume(cnstypes.CnsVolumeCreateSpec{
		Name:       name,
		VolumeType: string(cnstypes.CnsVolumeTypeFile),
		Datastores: []types.ManagedObjectReference{e.datastore("ds-zone-a-vsan")},
		Metadata: cnstypes.CnsVolumeMetadata{ContainerCluster: cnstypes.CnsContainerCluster{
			ClusterType: string(cnstypes.CnsClusterTypeKubernetes), ClusterId: "defects", VSphereUser: "user",
		}},
		BackingObjectDetails: &cnstypes.CnsVsanFileShareBackingDetails{CnsFileBackingDetails: cnstypes.CnsFileBackingDetails{
			CnsBackingObjectDetails: cnstypes.CnsBackingObjectDetails{CapacityInMb: 1024},
		}},
		CreateSpec: &cnstypes.CnsVSANFileCreateSpec{SoftQuotaInMb: 1024, Permission: []vsanfstypes.VsanFileShareNetPermission{
			{Ips: "*", Permissions: vsanfstypes.VsanFileShareAccessTypeREAD_WRITE, AllowRoot: true},
		}},
	})
}

// volume is the CNS volume with this ID, nil if CNS has none.
func (e *ncEnv) volume(id string) *cnstypes.CnsVolume {
	e.t.Helper()
	res, err := e.cns.QueryVolume(e.ctx, &cnstypes.CnsQueryFilter{VolumeIds: []cnstypes.CnsVolumeId{{Id: id}}})
	if err != nil {
		e.t.Fatal(err)
	}
	for i := range res.Volumes {
		if res.Volumes[i].VolumeId.Id == id {
			return &res.Volumes[i]
		}
	}
	return nil
}

// share is the vSAN file share named name in the file service of cluster-a.
func (e *ncEnv) share(name string) *vsantypes.VsanFileShare {
	e.t.Helper()
	vc, err := vsan.NewClient(e.ctx, e.vim)
	if err != nil {
		e.t.Fatal(err)
	}
	cl, err := e.finder.ClusterComputeResource(e.ctx, "cluster-a")
	if err != nil {
		e.t.Fatal(err)
	}
	ref := cl.Reference()
	res, err := vsanmethods.VsanClusterQueryFileShares(e.ctx, vc, &vsantypes.VsanClusterQueryFileShares{
		This:      types.ManagedObjectReference{Type: "VsanFileServiceSystem", Value: "vsan-cluster-file-service-system"},
		QuerySpec: vsantypes.VsanFileShareQuerySpec{Names: []string{name}},
		Cluster:   &ref,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if res.Returnval == nil || len(res.Returnval.FileShares) == 0 {
		return nil
	}
	return &res.Returnval.FileShares[0]
}

func keys(points []types.KeyValue) string {
	var out []string
	for _, kv := range points {
		out = append(out, kv.Key)
	}
	return strings.Join(out, ",")
}

func TestFileShareReadOnly(t *testing.T) {
	e := ncStart(t, "file-share-read-only")
	e.createFile("pvc-rwx-ro")
	s := e.share("pvc-rwx-ro")
	if s == nil || s.Config == nil || len(s.Config.Permission) != 1 {
		t.Fatalf("share = %+v", s)
	}
	if p := s.Config.Permission[0]; p.Ips != "*" || p.Permissions != string(vsanfstypes.VsanFileShareAccessTypeREAD_ONLY) {
		t.Errorf("net permission of a share asked read-write: %s:%s, want *:READ_ONLY", p.Ips, p.Permissions)
	}
}

func TestFileShareNoAccessPoint(t *testing.T) {
	for _, tc := range []struct{ defect, want string }{
		{"", "NFSv3,NFSv4.1"},
		{"file-share-no-access-point", "NFSv3"},
	} {
		t.Run("defect="+tc.defect, func(t *testing.T) {
			e := ncStart(t, tc.defect)
			id := e.createFile("pvc-rwx-ap")
			vol := e.volume(id)
			if vol == nil {
				t.Fatalf("CNS has no volume %s", id)
			}
			d, ok := vol.BackingObjectDetails.(*cnstypes.CnsVsanFileShareBackingDetails)
			if !ok {
				t.Fatalf("backing %T", vol.BackingObjectDetails)
			}
			if got := keys(d.AccessPoints); got != tc.want {
				t.Errorf("CNS access points = %s, want %s", got, tc.want)
			}
			if s := e.share("pvc-rwx-ap"); s == nil || s.Runtime == nil || keys(s.Runtime.AccessPoints) != tc.want {
				t.Errorf("vSAN share = %+v, want access points %s", s, tc.want)
			}
			if again := e.volume(id); keys(again.BackingObjectDetails.(*cnstypes.CnsVsanFileShareBackingDetails).AccessPoints) != tc.want {
				t.Error("a second query answers differently")
			}
		})
	}
}

func TestFileDeleteLeavesShare(t *testing.T) {
	e := ncStart(t, "file-delete-leaves-share")
	id := e.createFile("pvc-rwx-del")
	e.ok(e.result(e.cns.DeleteVolume(e.ctx, []cnstypes.CnsVolumeId{{Id: id}}, true)))
	if e.volume(id) != nil {
		t.Errorf("CNS still has volume %s after its delete", id)
	}
	if e.share("pvc-rwx-del") == nil {
		t.Errorf("the share of volume %s is gone; the defect keeps it", id)
	}
	all, err := e.cns.QueryAllVolume(e.ctx, cnstypes.CnsQueryFilter{}, cnstypes.CnsQuerySelection{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range all.Volumes {
		if v.VolumeId.Id == id {
			t.Errorf("CnsQueryAllVolume still lists %s", id)
		}
	}
}
