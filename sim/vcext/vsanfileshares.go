package vcext

import (
	"slices"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vsan"
	vsanmethods "github.com/vmware/govmomi/vsan/methods"
	vsansim "github.com/vmware/govmomi/vsan/simulator"
	vsantypes "github.com/vmware/govmomi/vsan/types"
)

// fileServiceSystemRef is vCenter's vSAN file service system (vSAN
// Management API, VsanFileServiceSystem, MOID
// "vsan-cluster-file-service-system" on the vSAN service endpoint).
var fileServiceSystemRef = types.ManagedObjectReference{
	Type:  "VsanFileServiceSystem",
	Value: "vsan-cluster-file-service-system",
}

// fileServiceSystem answers file share queries from the file volume store.
type fileServiceSystem struct{}

func (*fileServiceSystem) Reference() types.ManagedObjectReference { return fileServiceSystemRef }

// VsanClusterQueryFileShares lists the file shares of a cluster (all
// clusters without one) that match the query spec's uuids, names, domain
// and managedBy (vSAN Management API, VsanFileServiceSystem.
// VsanClusterQueryFileShares with VsanFileShareQuerySpec). Paging (offset,
// limit) is not simulated: every match is returned.
func (*fileServiceSystem) VsanClusterQueryFileShares(ctx *simulator.Context, req *vsantypes.VsanClusterQueryFileShares) soap.HasFault {
	spec := req.QuerySpec
	result := &vsantypes.FileShareQueryResult{}
	files := filesOf(ctx)
	files.mu.Lock()
	for _, fs := range files.shares {
		s := fs.share
		switch {
		case req.Cluster != nil && req.Cluster.Value != fs.cluster.Value,
			len(spec.Uuids) > 0 && !slices.Contains(spec.Uuids, s.Uuid),
			len(spec.Names) > 0 && !slices.Contains(spec.Names, s.Config.Name),
			spec.DomainName != "" && spec.DomainName != s.Config.DomainName,
			len(spec.ManagedBy) > 0 && !slices.Contains(spec.ManagedBy, s.Runtime.ManagedBy):
			continue
		}
		result.FileShares = append(result.FileShares, s)
	}
	files.mu.Unlock()
	slices.SortFunc(result.FileShares, func(a, b vsantypes.VsanFileShare) int {
		switch {
		case a.Config.Name < b.Config.Name:
			return -1
		case a.Config.Name > b.Config.Name:
			return 1
		}
		return 0
	})
	result.TotalShareCount = int64(len(result.FileShares))
	return &vsanmethods.VsanClusterQueryFileSharesBody{
		Res: &vsantypes.VsanClusterQueryFileSharesResponse{Returnval: result},
	}
}

// vsanClusterConfig is the vSAN config vCenter reports for a cluster
// (VsanClusterGetConfig), nil when the vSAN SDK is not registered.
func vsanClusterConfig(ctx *simulator.Context, cluster types.ManagedObjectReference) *vsantypes.VsanConfigInfoEx {
	r := ctx.For(vsan.Path).Map
	if r == nil {
		return nil
	}
	ccs, ok := r.Get(vsan.VsanVcClusterConfigSystemInstance).(*vsansim.ClusterConfigSystem)
	if !ok || ccs.Config == nil {
		return nil
	}
	return ccs.Config[cluster]
}
