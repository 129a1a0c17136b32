package defects_test

import (
	"slices"
	"testing"

	"github.com/vmware/govmomi/cns"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vslm"
)

// ncEnv is env as the snapshot, file and VM tests use it: the driver's
// clients under their own names and ds-zone-a for block volumes.
type ncEnv struct {
	*env
	vim  *vim25.Client
	vslm *vslm.ObjectManager
	ds   types.ManagedObjectReference // ds-zone-a, for block volumes
}

func ncStart(t *testing.T, defect string) *ncEnv {
	t.Helper()
	e := start(t, defect)
	return &ncEnv{env: e, vim: e.vc, vslm: e.fcd, ds: e.datastore("ds-zone-a")}
}

// result waits for a CNS task and gives its one volume result; the task
// itself must succeed.
func (e *ncEnv) result(task *object.Task, err error) cnstypes.BaseCnsVolumeOperationResult {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := cns.GetTaskInfo(e.ctx, task)
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := cns.GetTaskResult(e.ctx, info)
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

// ok fails the test unless the volume result has no fault.
func (e *ncEnv) ok(res cnstypes.BaseCnsVolumeOperationResult) cnstypes.BaseCnsVolumeOperationResult {
	e.t.Helper()
	if f := res.GetCnsVolumeOperationResult().Fault; f != nil {
		e.t.Fatalf("volume %s: fault %T: %s", res.GetCnsVolumeOperationResult().VolumeId.Id, f.Fault, f.LocalizedMessage)
	}
	return res
}

func (e *ncEnv) blockSpec(name string, mb int64) cnstypes.CnsVolumeCreateSpec {
	return cnstypes.CnsVolumeCreateSpec{
		Name:       name,
		VolumeType: string(cnstypes.CnsVolumeTypeBlock),
		Datastores: []types.ManagedObjectReference{e.ds},
		Metadata: cnstypes.CnsVolumeMetadata{ContainerCluster: cnstypes.CnsContainerCluster{
			ClusterType: string(cnstypes.CnsClusterTypeKubernetes), ClusterId: "defects", VSphereUser: "user",
		}},
		BackingObjectDetails: &cnstypes.CnsBlockBackingDetails{
			CnsBackingObjectDetails: cnstypes.CnsBackingObjectDetails{CapacityInMb: mb},
		},
	}
}

func (e *ncEnv) createVolume(spec cnstypes.CnsVolumeCreateSpec) string {
	e.t.Helper()
	return e.ok(e.result(e.cns.CreateVolume(e.ctx, []cnstypes.CnsVolumeCreateSpec{spec}))).GetCnsVolumeOperationResult().VolumeId.Id
}

func (e *ncEnv) snapshot(volume string) string {
	e.t.Helper()
	res := e.ok(e.result(e.cns.CreateSnapshots(e.ctx, []cnstypes.CnsSnapshotCreateSpec{
		{VolumeId: cnstypes.CnsVolumeId{Id: volume}, Description: "defects"},
	})))
	return res.(*cnstypes.CnsSnapshotCreateResult).Snapshot.SnapshotId.Id
}

func (e *ncEnv) deleteSnapshot(volume, snap string) {
	e.t.Helper()
	e.ok(e.result(e.cns.DeleteSnapshots(e.ctx, []cnstypes.CnsSnapshotDeleteSpec{
		{VolumeId: cnstypes.CnsVolumeId{Id: volume}, SnapshotId: cnstypes.CnsSnapshotId{Id: snap}},
	})))
}

// cnsSnapshots lists the CNS snapshot IDs of a volume.
func (e *ncEnv) cnsSnapshots(volume string) []string {
	e.t.Helper()
	task, err := e.cns.QuerySnapshots(e.ctx, cnstypes.CnsSnapshotQueryFilter{
		SnapshotQuerySpecs: []cnstypes.CnsSnapshotQuerySpec{{VolumeId: cnstypes.CnsVolumeId{Id: volume}}},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := cns.GetTaskInfo(e.ctx, task)
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := cns.GetQuerySnapshotsTaskResult(e.ctx, info)
	if err != nil {
		e.t.Fatal(err)
	}
	var ids []string
	for _, s := range res.Entries {
		if s.Error == nil {
			ids = append(ids, s.Snapshot.SnapshotId.Id)
		}
	}
	return ids
}

// fcdSnapshots lists the snapshots the FCD keeps (RetrieveSnapshotInfo).
func (e *ncEnv) fcdSnapshots(id string) []string {
	e.t.Helper()
	info, err := e.vslm.RetrieveSnapshotInfo(e.ctx, e.ds, id)
	if err != nil {
		e.t.Fatal(err)
	}
	var ids []string
	for _, s := range info.Snapshots {
		ids = append(ids, s.Id.Id)
	}
	return ids
}

func TestSnapshotDeleteDoesNothing(t *testing.T) {
	e := ncStart(t, "snapshot-delete-does-nothing")
	id := e.createVolume(e.blockSpec("pvc-snap-nothing", 64))
	snap := e.snapshot(id)
	e.deleteSnapshot(id, snap) // answers success
	if got := e.cnsSnapshots(id); !slices.Contains(got, snap) {
		t.Errorf("CNS snapshots of %s after the delete = %v, want %s still there", id, got, snap)
	}
}

func TestSnapshotDeleteCNSOnly(t *testing.T) {
	for _, tc := range []struct {
		defect  string
		fcdKeep bool
	}{{"", false}, {"snapshot-delete-cns-only", true}} {
		t.Run("defect="+tc.defect, func(t *testing.T) {
			e := ncStart(t, tc.defect)
			id := e.createVolume(e.blockSpec("pvc-snap-cns-only", 64))
			snap := e.snapshot(id)
			e.deleteSnapshot(id, snap)
			if got := e.cnsSnapshots(id); slices.Contains(got, snap) {
				t.Errorf("CNS snapshots of %s after the delete = %v, want none", id, got)
			}
			if got := slices.Contains(e.fcdSnapshots(id), snap); got != tc.fcdKeep {
				t.Errorf("FCD %s lists snapshot %s after the delete: %t, want %t", id, snap, got, tc.fcdKeep)
			}
		})
	}
}

func TestRestoreIgnoresSnapshot(t *testing.T) {
	for _, tc := range []struct {
		defect string
		wantMB int64
	}{{"", 64}, {"restore-ignores-snapshot", 0}} {
		t.Run("defect="+tc.defect, func(t *testing.T) {
			e := ncStart(t, tc.defect)
			id := e.createVolume(e.blockSpec("pvc-restore-src", 64))
			snap := e.snapshot(id)
			// Capacity 0 takes the snapshot's size; a blank create has none.
			spec := e.blockSpec("pvc-restored", 0)
			spec.VolumeSource = &cnstypes.CnsSnapshotVolumeSource{
				VolumeId: cnstypes.CnsVolumeId{Id: id}, SnapshotId: cnstypes.CnsSnapshotId{Id: snap},
			}
			restored := e.createVolume(spec)
			obj, err := e.vslm.Retrieve(e.ctx, e.ds, restored)
			if err != nil {
				t.Fatal(err)
			}
			if got := obj.Config.CapacityInMB; got != tc.wantMB {
				t.Errorf("volume restored from snapshot %s is %d MB, want %d", snap, got, tc.wantMB)
			}
		})
	}
}
