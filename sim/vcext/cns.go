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

// cnsBase is what the overrides use of the CNS volume manager registered in
// the CNS registry (cns/simulator's, or a wrapper embedding it).
type cnsBase interface {
	mo.Reference
	CnsQueryVolume(ctx context.Context, req *cnstypes.CnsQueryVolume) soap.HasFault
	CnsExtendVolume(ctx *simulator.Context, req *cnstypes.CnsExtendVolume) soap.HasFault
	CnsDeleteVolume(ctx *simulator.Context, req *cnstypes.CnsDeleteVolume) soap.HasFault
}

// volumeManager overrides some CNS volume manager methods by embedding the
// registered manager, govmomi's pattern for overriding a managed object.
type volumeManager struct {
	cnsBase
}

// cnsOverrides are the methods volumeManager serves.
var cnsOverrides = map[string]bool{
	"CnsAttachVolume": true,
	"CnsDetachVolume": true,
	"CnsExtendVolume": true,
	"CnsDeleteVolume": true,
}

// installCNSVolumeManager routes the overridden methods to a volumeManager
// wrapping whatever manager the CNS registry holds at call time. A call hook
// rather than Registry.Put: with Service.RegisterEndpoints, NewServer
// registers cns/simulator again and copies a fresh manager over any object
// put at the CNS manager's moref.
func installCNSVolumeManager(r *simulator.Registry) {
	overrideCalls(r, func(ctx *simulator.Context, m *simulator.Method) mo.Reference {
		ref := cns.CnsVolumeManagerInstance
		if m.This.Type != ref.Type || m.This.Value != ref.Value || !cnsOverrides[m.Name] {
			return nil
		}
		base, ok := ctx.Map.Get(m.This).(cnsBase)
		if !ok {
			return nil
		}
		return &volumeManager{cnsBase: base}
	})
}

// volume returns the CNS volume with the given ID as CnsQueryVolume reports it.
func (m *volumeManager) volume(ctx *simulator.Context, id cnstypes.CnsVolumeId) *cnstypes.CnsVolume {
	body, ok := m.CnsQueryVolume(ctx, &cnstypes.CnsQueryVolume{
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
