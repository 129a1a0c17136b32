package vcext

import (
	"fmt"
	"testing"

	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// registerSpec is the create spec the CSI driver's syncer sends for an
// in-tree volume on vCenter > 7.0 (v3.3.1 pkg/apis/migration registerVolume).
func (e *cnsEnv) registerSpec(url string) []cnstypes.CnsVolumeCreateSpec {
	return []cnstypes.CnsVolumeCreateSpec{{
		Name:       "legacy",
		VolumeType: string(cnstypes.CnsVolumeTypeBlock),
		Metadata: cnstypes.CnsVolumeMetadata{ContainerCluster: cnstypes.CnsContainerCluster{
			ClusterType: string(cnstypes.CnsClusterTypeKubernetes), ClusterId: "vcext", VSphereUser: "user",
		}},
		BackingObjectDetails: &cnstypes.CnsBlockBackingDetails{BackingDiskUrlPath: url},
	}}
}

func TestCreateVolumeRegistersExistingVMDK(t *testing.T) {
	e := newCNSEnv(t)
	var ds mo.Datastore
	if err := e.c.RetrieveOne(e.ctx, e.ds, []string{"name"}, &ds); err != nil {
		t.Fatal(err)
	}
	finder := object.NewSearchIndex(e.c.Client)
	dcRef, err := finder.FindByInventoryPath(e.ctx, "/DC0")
	if err != nil || dcRef == nil {
		t.Fatalf("datacenter DC0: %v", err)
	}
	dc := object.NewDatacenter(e.c.Client, dcRef.Reference())
	path := fmt.Sprintf("[%s] kubevols/legacy.vmdk", ds.Name)
	if err := object.NewFileManager(e.c.Client).MakeDirectory(e.ctx, fmt.Sprintf("[%s] kubevols", ds.Name), dc, true); err != nil {
		t.Fatal(err)
	}
	task, err := object.NewVirtualDiskManager(e.c.Client).CreateVirtualDisk(e.ctx, path, dc, &types.FileBackedVirtualDiskSpec{
		VirtualDiskSpec: types.VirtualDiskSpec{AdapterType: "lsiLogic", DiskType: "thin"}, CapacityKb: 3 * 1024 * 1024,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(e.ctx); err != nil {
		t.Fatal(err)
	}
	url := "https://vc.example/folder/kubevols/legacy.vmdk?dcPath=DC0&dsName=" + ds.Name

	tests := []struct {
		name      string
		url       string
		wantFault string // fault type; "" means success
	}{
		{"registers the vmdk", url, ""},
		{"a second register names the volume", url, "*types.CnsAlreadyRegisteredFault"},
		{"missing file", "https://vc.example/folder/kubevols/none.vmdk?dcPath=DC0&dsName=" + ds.Name, "*types.NotFound"},
		{"not a datastore URL", "https://vc.example/elsewhere/x.vmdk", "*types.InvalidArgument"},
	}
	var id string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.result(e.cns.CreateVolume(e.ctx, e.registerSpec(tt.url)))
			f := res.GetCnsVolumeOperationResult().Fault
			if tt.wantFault != "" {
				if f == nil || fmt.Sprintf("%T", f.Fault) != tt.wantFault {
					t.Fatalf("fault = %#v, want %s", f, tt.wantFault)
				}
				if r, ok := f.Fault.(*cnstypes.CnsAlreadyRegisteredFault); ok && r.VolumeId.Id != id {
					t.Errorf("already registered as %q, want %q", r.VolumeId.Id, id)
				}
				return
			}
			if f != nil {
				t.Fatalf("fault %T: %s", f.Fault, f.LocalizedMessage)
			}
			id = res.GetCnsVolumeOperationResult().VolumeId.Id
			obj, err := e.fcd.Retrieve(e.ctx, e.ds, id)
			if err != nil {
				t.Fatal(err)
			}
			if got := obj.Config.Backing.(*types.BaseConfigInfoDiskFileBackingInfo).FilePath; got != path {
				t.Errorf("FCD file = %q, want the vmdk's own path %q", got, path)
			}
			if obj.Config.CapacityInMB != 3072 {
				t.Errorf("FCD capacity = %d MB, want 3072 from the vmdk", obj.Config.CapacityInMB)
			}
		})
	}
}
