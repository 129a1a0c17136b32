package vcext

import (
	"context"
	"fmt"

	"github.com/vmware/govmomi/cns"
	cnsmethods "github.com/vmware/govmomi/cns/methods"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// The CNS registry's volume manager (cns/simulator's, or a wrapper another
// extension registered over it) is used through these: each override is
// only installed when the manager has what that override calls.
type (
	volumeQuerier interface {
		CnsQueryVolume(ctx context.Context, req *cnstypes.CnsQueryVolume) soap.HasFault
	}
	allVolumeQuerier interface {
		CnsQueryAllVolume(ctx context.Context, req *cnstypes.CnsQueryAllVolume) soap.HasFault
	}
	volumeExtender interface {
		CnsExtendVolume(ctx *simulator.Context, req *cnstypes.CnsExtendVolume) soap.HasFault
	}
	volumeDeleter interface {
		CnsDeleteVolume(ctx *simulator.Context, req *cnstypes.CnsDeleteVolume) soap.HasFault
	}
)

func is[T any](base mo.Reference) bool {
	_, ok := base.(T)
	return ok
}

// cnsOverrides are the methods volumeManager serves, with what each needs.
var cnsOverrides = map[string]func(base mo.Reference) bool{
	"CnsAttachVolume":    is[volumeQuerier],
	"CnsCreateVolume":    is[volumeCreator],
	"CnsDetachVolume":    is[volumeQuerier],
	"CnsExtendVolume":    func(b mo.Reference) bool { return is[volumeQuerier](b) && is[volumeExtender](b) },
	"CnsDeleteVolume":    func(b mo.Reference) bool { return is[volumeQuerier](b) && is[volumeDeleter](b) },
	"CnsQueryVolume":     is[volumeQuerier],
	"CnsCreateSnapshots": func(b mo.Reference) bool { return is[volumeQuerier](b) && is[snapshotCreator](b) },
	"CnsDeleteSnapshots": is[snapshotDeleter],
	"CnsQueryAllVolume":  is[allVolumeQuerier],
	"CnsUpdateVolumeMetadata": func(b mo.Reference) bool {
		return is[volumeQuerier](b) && is[metadataUpdater](b)
	},
}

// volumeManager overrides some methods of the registered CNS volume manager
// and delegates to it, govmomi's pattern for overriding a managed object.
type volumeManager struct {
	base mo.Reference
}

// Reference is the CNS volume manager's moref.
func (m *volumeManager) Reference() types.ManagedObjectReference { return m.base.Reference() }

// installCNSVolumeManager routes the overridden methods to a volumeManager
// wrapping whatever manager the CNS registry holds at call time. A call hook
// rather than Registry.Put: with Service.RegisterEndpoints, NewServer
// registers cns/simulator again and copies a fresh manager over any object
// put at the CNS manager's moref.
func installCNSVolumeManager(r *simulator.Registry) {
	overrideCalls(r, func(ctx *simulator.Context, m *simulator.Method) mo.Reference {
		ref := cns.CnsVolumeManagerInstance
		if m.This.Type != ref.Type || m.This.Value != ref.Value {
			return nil
		}
		usable, ok := cnsOverrides[m.Name]
		if !ok {
			return nil
		}
		base := ctx.Map.Get(m.This)
		if base == nil || !usable(base) {
			return nil
		}
		return &volumeManager{base: base}
	})
}

// volume returns the CNS volume with the given ID as CnsQueryVolume reports
// it. The caller holds the manager's task lock (see cnsLock).
func (m *volumeManager) volume(ctx *simulator.Context, id cnstypes.CnsVolumeId) *cnstypes.CnsVolume {
	body, ok := m.base.(volumeQuerier).CnsQueryVolume(ctx, &cnstypes.CnsQueryVolume{
		This:   m.Reference(),
		Filter: &cnstypes.CnsQueryFilter{VolumeIds: []cnstypes.CnsVolumeId{id}},
	}).(*cnsmethods.CnsQueryVolumeBody)
	if !ok || body.Res == nil {
		return nil
	}
	for i := range body.Res.Returnval.Volumes {
		if v := &body.Res.Returnval.Volumes[i]; v.VolumeId.Id == id.Id {
			return v
		}
	}
	return nil
}

// backingDisk is the FCD ID behind a block volume; false for other volumes
// (file shares), which are never attached as disks.
func backingDisk(v *cnstypes.CnsVolume) (string, bool) {
	d, ok := v.BackingObjectDetails.(*cnstypes.CnsBlockBackingDetails)
	if !ok {
		return "", false
	}
	if d.BackingDiskId != "" {
		return d.BackingDiskId, true
	}
	return v.VolumeId.Id, true
}

// opFault is a per-volume fault: CNS reports faults of one volume in its
// CnsVolumeOperationResult and completes the task successfully.
func opFault(f types.BaseMethodFault, format string, args ...any) *types.LocalizedMethodFault {
	return &types.LocalizedMethodFault{Fault: f, LocalizedMessage: fmt.Sprintf(format, args...)}
}

// cnsFault is CNS's generic fault with a reason.
func cnsFault(format string, args ...any) *types.LocalizedMethodFault {
	msg := fmt.Sprintf(format, args...)
	return opFault(&cnstypes.CnsFault{Reason: msg}, "%s", msg)
}
