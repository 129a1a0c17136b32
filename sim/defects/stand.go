package defects

import (
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	vsantypes "github.com/vmware/govmomi/vsan/types"
)

// stand answers a call in place of its managed object, through a defect's
// serve (see around). The simulator finds the method to call by its name,
// so every method a defect intercepts has a line here.
type stand struct {
	ref   types.ManagedObjectReference
	serve func(ctx *simulator.Context, req any) soap.HasFault
}

func (s *stand) Reference() types.ManagedObjectReference { return s.ref }

// CNS (CnsVolumeManager).

func (s *stand) CnsCreateVolume(ctx *simulator.Context, req *cnstypes.CnsCreateVolume) soap.HasFault {
	return s.serve(ctx, req)
}

func (s *stand) CnsDeleteVolume(ctx *simulator.Context, req *cnstypes.CnsDeleteVolume) soap.HasFault {
	return s.serve(ctx, req)
}

func (s *stand) CnsAttachVolume(ctx *simulator.Context, req *cnstypes.CnsAttachVolume) soap.HasFault {
	return s.serve(ctx, req)
}

func (s *stand) CnsDetachVolume(ctx *simulator.Context, req *cnstypes.CnsDetachVolume) soap.HasFault {
	return s.serve(ctx, req)
}

func (s *stand) CnsExtendVolume(ctx *simulator.Context, req *cnstypes.CnsExtendVolume) soap.HasFault {
	return s.serve(ctx, req)
}

func (s *stand) CnsUpdateVolumeMetadata(ctx *simulator.Context, req *cnstypes.CnsUpdateVolumeMetadata) soap.HasFault {
	return s.serve(ctx, req)
}

func (s *stand) CnsCreateSnapshots(ctx *simulator.Context, req *cnstypes.CnsCreateSnapshots) soap.HasFault {
	return s.serve(ctx, req)
}

func (s *stand) CnsDeleteSnapshots(ctx *simulator.Context, req *cnstypes.CnsDeleteSnapshots) soap.HasFault {
	return s.serve(ctx, req)
}

func (s *stand) CnsQueryVolume(ctx *simulator.Context, req *cnstypes.CnsQueryVolume) soap.HasFault {
	return s.serve(ctx, req)
}

func (s *stand) CnsQueryAllVolume(ctx *simulator.Context, req *cnstypes.CnsQueryAllVolume) soap.HasFault {
	return s.serve(ctx, req)
}

// vSAN (VsanFileServiceSystem, served on the CNS endpoint).

func (s *stand) VsanClusterQueryFileShares(ctx *simulator.Context, req *vsantypes.VsanClusterQueryFileShares) soap.HasFault {
	return s.serve(ctx, req)
}
