package vcext

import (
	"github.com/vmware/govmomi/cns"
	cnsmethods "github.com/vmware/govmomi/cns/methods"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
)

// cnsLock runs f holding the CNS volume manager's task lock. The CNS
// simulator's tasks change its volume maps while holding that lock (every
// task locks its entity, the manager), but its query methods read the maps
// without it: a query concurrent with a create or delete is a concurrent map
// read and write, which is fatal in Go. vCenter serves queries during any
// operation (the syncer's full sync queries while the controller creates).
func cnsLock(ctx *simulator.Context, f func()) {
	vctx := ctx.For(vim25.Path) // all tasks, and so their locks, are vim25's
	vctx.Map.WithLock(ctx, cns.CnsVolumeManagerInstance, f)
}

// setCompliance reports each volume's compliance as it is now (the
// simulator records "compliant" once, at create).
func setCompliance(ctx *simulator.Context, vols []cnstypes.CnsVolume) {
	for i := range vols {
		vols[i].ComplianceStatus = complianceStatus(ctx, &vols[i])
	}
}

// CnsQueryVolume is the simulator's query, serialized with CNS tasks.
func (m *volumeManager) CnsQueryVolume(ctx *simulator.Context, req *cnstypes.CnsQueryVolume) soap.HasFault {
	var body soap.HasFault
	cnsLock(ctx, func() { body = m.base.(volumeQuerier).CnsQueryVolume(ctx, req) })
	if b, ok := body.(*cnsmethods.CnsQueryVolumeBody); ok && b.Res != nil {
		setCompliance(ctx, b.Res.Returnval.Volumes)
	}
	return body
}

// CnsQueryAllVolume is the simulator's query, serialized with CNS tasks.
func (m *volumeManager) CnsQueryAllVolume(ctx *simulator.Context, req *cnstypes.CnsQueryAllVolume) soap.HasFault {
	var body soap.HasFault
	cnsLock(ctx, func() { body = m.base.(allVolumeQuerier).CnsQueryAllVolume(ctx, req) })
	if b, ok := body.(*cnsmethods.CnsQueryAllVolumeBody); ok && b.Res != nil {
		setCompliance(ctx, b.Res.Returnval.Volumes)
	}
	return body
}
