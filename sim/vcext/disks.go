package vcext

import (
	"errors"
	"log"
	"sync"

	cnsmethods "github.com/vmware/govmomi/cns/methods"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vsphere-conformance/vsphere-conformance/sim/loopdisk"
)

const mib = 1024 * 1024

// diskStores maps a model's vim25 registry to the store that gives its FCDs
// bytes (loop devices on real nodes); no entry: bookkeeping only.
var diskStores sync.Map // *simulator.Registry -> *loopdisk.Store

// SetDiskStore makes the model's FCDs real disks kept by s: CNS attach to a
// VM registered as a real node gives it a block device, and detach, extend,
// delete, snapshot and restore act on the bytes. A nil or empty store turns
// that off. Call it before the server serves; Install may come before or
// after.
func SetDiskStore(m *simulator.Model, s *loopdisk.Store) error {
	if m == nil || m.Service == nil || m.Service.Context == nil {
		return errors.New("vcext: SetDiskStore needs a created model (call model.Create first)")
	}
	if !s.Enabled() {
		diskStores.Delete(m.Map())
		return nil
	}
	diskStores.Store(m.Map(), s)
	return nil
}

// diskStore is the store of ctx's model; nil (a no-op store) without one.
func diskStore(ctx *simulator.Context) *loopdisk.Store {
	r := ctx.Map
	if r.Path != vim25.Path {
		r = ctx.For(vim25.Path).Map
	}
	if v, ok := diskStores.Load(r); ok {
		return v.(*loopdisk.Store)
	}
	return nil
}

// snapshotInfo is what a CNS snapshot captured: its volume, that volume's
// disk and the disk's size at the time.
type snapshotInfo struct {
	volumeID   string
	diskID     string
	capacityMB int64
}

// cnsSnapshots remembers, per vim25 registry, the CNS snapshots taken: the
// CNS simulator records neither a snapshot's disk nor its size.
var cnsSnapshots sync.Map // *simulator.Registry -> *snapshotTable

type snapshotTable struct {
	mu   sync.Mutex
	byID map[string]snapshotInfo
}

func snapshots(ctx *simulator.Context) *snapshotTable {
	v, _ := cnsSnapshots.LoadOrStore(ctx.For(vim25.Path).Map, &snapshotTable{byID: map[string]snapshotInfo{}})
	return v.(*snapshotTable)
}

func (t *snapshotTable) get(id string) (snapshotInfo, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.byID[id]
	return s, ok
}

func (t *snapshotTable) put(id string, s snapshotInfo) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.byID[id] = s
}

func (t *snapshotTable) forget(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.byID, id)
}

type (
	snapshotCreator interface {
		CnsCreateSnapshots(ctx *simulator.Context, req *cnstypes.CnsCreateSnapshots) soap.HasFault
	}
	snapshotDeleter interface {
		CnsDeleteSnapshots(ctx *simulator.Context, req *cnstypes.CnsDeleteSnapshots) soap.HasFault
	}
)

// CnsCreateSnapshots takes the snapshots with the CNS simulator and then
// copies each disk's bytes. vSphere CNS API reference,
// CnsVolumeManager.CnsCreateSnapshots: a snapshot is a point-in-time copy
// of the volume, which CnsSnapshotVolumeSource later creates volumes from.
// A snapshot whose bytes cannot be copied is deleted again and its result
// carries the fault, so no snapshot exists without its content.
func (m *volumeManager) CnsCreateSnapshots(ctx *simulator.Context, req *cnstypes.CnsCreateSnapshots) soap.HasFault {
	vctx := ctx.For(vim25.Path)
	task := simulator.CreateTask(m, "CreateSnapshots", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		// The simulator's task, inside ours so the copy is done before the
		// client sees the result; it runs on vctx, which holds the
		// manager's task lock already (as in CnsExtendVolume).
		result, lf := runTask(vctx, m.base.(snapshotCreator).CnsCreateSnapshots(vctx, req))
		if lf != nil {
			return nil, lf.Fault
		}
		batch, ok := result.(*cnstypes.CnsVolumeOperationBatchResult)
		if !ok {
			return result, nil
		}
		for i, r := range batch.VolumeResults {
			res, ok := r.(*cnstypes.CnsSnapshotCreateResult)
			if !ok || res.Fault != nil {
				continue
			}
			if fault := m.keepSnapshot(vctx, res.Snapshot); fault != nil {
				res.Fault = fault
				batch.VolumeResults[i] = res
			}
		}
		return batch, nil
	})
	return &cnsmethods.CnsCreateSnapshotsBody{
		Res: &cnstypes.CnsCreateSnapshotsResponse{Returnval: task.Run(vctx)},
	}
}

// keepSnapshot records a new snapshot and copies its disk's bytes.
func (m *volumeManager) keepSnapshot(ctx *simulator.Context, snap cnstypes.CnsSnapshot) *types.LocalizedMethodFault {
	diskID := snap.VolumeId.Id
	if vol := m.volume(ctx, snap.VolumeId); vol != nil {
		if backing, block := backingDisk(vol); block {
			diskID = backing
		}
	}
	info := snapshotInfo{volumeID: snap.VolumeId.Id, diskID: diskID}
	if disk := findFCD(ctx, diskID); disk != nil {
		info.capacityMB = disk.capacityMB
	}
	err := diskStore(ctx).Snapshot(diskID, snap.SnapshotId.Id)
	if err == nil {
		snapshots(ctx).put(snap.SnapshotId.Id, info)
		return nil
	}
	m.dropSnapshot(ctx, snap)
	return cnsFault("snapshot %s of volume %s: copying the disk's bytes failed: %v",
		snap.SnapshotId.Id, snap.VolumeId.Id, err)
}

// dropSnapshot deletes a snapshot from the CNS simulator's records.
func (m *volumeManager) dropSnapshot(ctx *simulator.Context, snap cnstypes.CnsSnapshot) {
	del, ok := m.base.(snapshotDeleter)
	if !ok {
		return
	}
	_, _ = runTask(ctx, del.CnsDeleteSnapshots(ctx, &cnstypes.CnsDeleteSnapshots{
		This:                m.Reference(),
		SnapshotDeleteSpecs: []cnstypes.CnsSnapshotDeleteSpec{{VolumeId: snap.VolumeId, SnapshotId: snap.SnapshotId}},
	}))
}

// CnsDeleteSnapshots deletes with the CNS simulator, then the snapshots'
// bytes (vSphere CNS API reference, CnsVolumeManager.CnsDeleteSnapshots).
func (m *volumeManager) CnsDeleteSnapshots(ctx *simulator.Context, req *cnstypes.CnsDeleteSnapshots) soap.HasFault {
	vctx := ctx.For(vim25.Path)
	task := simulator.CreateTask(m, "DeleteSnapshots", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		result, lf := runTask(vctx, m.base.(snapshotDeleter).CnsDeleteSnapshots(vctx, req))
		if lf != nil {
			return nil, lf.Fault
		}
		batch, ok := result.(*cnstypes.CnsVolumeOperationBatchResult)
		if !ok {
			return result, nil
		}
		for _, r := range batch.VolumeResults {
			res, ok := r.(*cnstypes.CnsSnapshotDeleteResult)
			if !ok || res.Fault != nil {
				continue
			}
			snapshots(vctx).forget(res.SnapshotId.Id)
			if err := diskStore(vctx).DeleteSnapshot(res.SnapshotId.Id); err != nil {
				res.Fault = cnsFault("snapshot %s deleted, its bytes not: %v", res.SnapshotId.Id, err)
			}
		}
		return batch, nil
	})
	return &cnsmethods.CnsDeleteSnapshotBody{
		Res: &cnstypes.CnsDeleteSnapshotsResponse{Returnval: task.Run(vctx)},
	}
}

// snapshotSource is the snapshot a single block create restores, or nil.
func snapshotSource(req *cnstypes.CnsCreateVolume) *cnstypes.CnsSnapshotVolumeSource {
	if len(req.CreateSpecs) != 1 || !isBlockCreate(req.CreateSpecs[0]) {
		return nil
	}
	src, _ := req.CreateSpecs[0].VolumeSource.(*cnstypes.CnsSnapshotVolumeSource)
	return src
}

// checkRestore validates a create from a snapshot before any disk exists.
// vSphere CNS API reference, CnsSnapshotVolumeSource: "volume creation from
// a volume snapshot", naming the volume and the snapshot: the new volume
// holds the snapshot's data, so it is at least the snapshot's size. A
// capacity of 0 takes the snapshot's size; the CNS simulator would make an
// empty disk of the requested size instead.
func checkRestore(ctx *simulator.Context, spec *cnstypes.CnsVolumeCreateSpec, src *cnstypes.CnsSnapshotVolumeSource) *types.LocalizedMethodFault {
	info, ok := snapshots(ctx).get(src.SnapshotId.Id)
	if !ok || info.volumeID != src.VolumeId.Id {
		msg := "snapshot " + src.SnapshotId.Id + " of volume " + src.VolumeId.Id + " not found"
		return opFault(&cnstypes.CnsSnapshotNotFoundFault{
			CnsFault: cnstypes.CnsFault{Reason: msg}, VolumeId: src.VolumeId, SnapshotId: src.SnapshotId,
		}, "%s", msg)
	}
	details := spec.BackingObjectDetails.GetCnsBackingObjectDetails()
	switch {
	case details.CapacityInMb == 0:
		details.CapacityInMb = info.capacityMB
	case details.CapacityInMb < info.capacityMB:
		return opFault(&types.InvalidArgument{InvalidProperty: "capacityInMb"},
			"volume of %d MB cannot hold snapshot %s of %d MB", details.CapacityInMb, src.SnapshotId.Id, info.capacityMB)
	}
	return nil
}

// restoreBytes gives a volume created from a snapshot the snapshot's bytes,
// grown to the volume's capacity.
func restoreBytes(ctx *simulator.Context, src *cnstypes.CnsSnapshotVolumeSource, diskID string, capacityMB int64) error {
	store := diskStore(ctx)
	if err := store.Restore(src.SnapshotId.Id, diskID); err != nil {
		return err
	}
	return store.Extend(diskID, capacityMB*mib)
}

// fcdDeleter serves VStorageObjectManager.DeleteVStorageObject_Task, which
// deletes the virtual storage object with its backing disk (vSphere Web
// Services API reference): the FCD's bytes go with it.
type fcdDeleter struct {
	*simulator.VcenterVStorageObjectManager
}

// installFCDDelete serves the session's DeleteVStorageObject_Task calls
// with fcdDeleter. Not a call hook returning a handler: for vim25 objects
// the session's registry (which falls back to the shared one) wins over
// it, so the wrapper goes into the session's registry, as listview.go does.
// It embeds the shared manager, so every other method is the same.
func installFCDDelete(r *simulator.Registry) {
	observeCalls(r, func(ctx *simulator.Context, m *simulator.Method) {
		if m.Name != "DeleteVStorageObject_Task" || ctx.Session == nil || diskStore(ctx) == nil {
			return
		}
		vsom := ctx.Map.VStorageObjectManager()
		if vsom == nil || m.This != vsom.Self {
			return
		}
		if _, ok := ctx.Session.Registry.Get(vsom.Self).(*fcdDeleter); !ok {
			ctx.Session.Registry.Put(&fcdDeleter{vsom}) // Registry.Put keeps Self
		}
	})
}

// DeleteVStorageObjectTask waits for vcsim's delete (the dispatcher holds
// the manager's lock on ctx, which the task shares), then removes the bytes
// once the FCD is really gone.
func (d *fcdDeleter) DeleteVStorageObjectTask(ctx *simulator.Context, req *types.DeleteVStorageObject_Task) soap.HasFault {
	body := d.VcenterVStorageObjectManager.DeleteVStorageObjectTask(ctx, req)
	if waitTask(ctx, body) == nil {
		deleteBytes(ctx, req.Id.Id)
	}
	return body
}

// deleteBytes removes the bytes of an FCD that no longer exists. The delete
// already succeeded, so a failure is logged, not returned.
func deleteBytes(ctx *simulator.Context, diskID string) {
	if findFCD(ctx, diskID) != nil {
		return
	}
	if err := diskStore(ctx).Delete(diskID); err != nil {
		log.Printf("vcext: FCD %s deleted, its bytes not: %v", diskID, err)
	}
}
