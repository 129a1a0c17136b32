package defects

import (
	"reflect"
	"strings"
	"sync"

	"github.com/vmware/govmomi/cns"
	cnsmethods "github.com/vmware/govmomi/cns/methods"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	vsanmethods "github.com/vmware/govmomi/vsan/methods"
	vsanfstypes "github.com/vmware/govmomi/vsan/vsanfs/types"
)

// fileProfiles break CNS file volumes, which are vSAN file shares (vSphere
// CNS API reference, CnsVolumeCreateSpec with volumeType FILE,
// CnsVSANFileCreateSpec, CnsVsanFileShareBackingDetails).
var fileProfiles = []Profile{
	{
		Name: "file-share-read-only",
		Breaks: "vSphere CNS API reference, CnsVSANFileCreateSpec.permission: the net permissions the file share " +
			"is created with; here every permission the driver asked for becomes READ_ONLY.",
		Symptom: `net permissions of share.*READ_ONLY`,
		install: func(m *simulator.Model) error {
			around(m.Service.Context.For(cns.Path).Map, "CnsCreateVolume", func(_ *simulator.Context, req any, next func() soap.HasFault) soap.HasFault {
				for _, spec := range req.(*cnstypes.CnsCreateVolume).CreateSpecs {
					fs, ok := spec.CreateSpec.(*cnstypes.CnsVSANFileCreateSpec)
					if !ok || spec.VolumeType != string(cnstypes.CnsVolumeTypeFile) {
						continue
					}
					for i := range fs.Permission {
						fs.Permission[i].Permissions = vsanfstypes.VsanFileShareAccessTypeREAD_ONLY
					}
				}
				return next()
			})
			return nil
		},
	},
	{
		Name: "file-share-no-access-point",
		Breaks: "vSphere CNS API reference, CnsVsanFileShareBackingDetails.accessPoints (and vSAN Management API, " +
			"VsanFileShareRuntimeInfo.accessPoints): the share's NFSv3 and NFSv4.1 access points; here the share " +
			"is exported without its NFSv4.1 access point, which the CSI driver hands to nodes.",
		Symptom: `has no NFSv4\.1 access point`,
		install: func(m *simulator.Model) error {
			r := m.Service.Context.For(cns.Path).Map
			around(r, "CnsQueryVolume", func(_ *simulator.Context, _ any, next func() soap.HasFault) soap.HasFault {
				body := next()
				if b, ok := body.(*cnsmethods.CnsQueryVolumeBody); ok && b.Res != nil {
					fileNoNFSv41(b.Res.Returnval.Volumes)
				}
				return body
			})
			around(r, "CnsQueryAllVolume", func(_ *simulator.Context, _ any, next func() soap.HasFault) soap.HasFault {
				body := next()
				if b, ok := body.(*cnsmethods.CnsQueryAllVolumeBody); ok && b.Res != nil {
					fileNoNFSv41(b.Res.Returnval.Volumes)
				}
				return body
			})
			around(r, "VsanClusterQueryFileShares", func(_ *simulator.Context, _ any, next func() soap.HasFault) soap.HasFault {
				body := next()
				if b, ok := body.(*vsanmethods.VsanClusterQueryFileSharesBody); ok && b.Res != nil && b.Res.Returnval != nil {
					for i := range b.Res.Returnval.FileShares {
						if rt := b.Res.Returnval.FileShares[i].Runtime; rt != nil {
							c := *rt // the answer's copy: the share's record stays as it is
							c.AccessPoints = fileWithoutNFSv41(rt.AccessPoints)
							b.Res.Returnval.FileShares[i].Runtime = &c
						}
					}
				}
				return body
			})
			return nil
		},
	},
	{
		Name: "file-delete-leaves-share",
		Breaks: "vSphere CNS API reference, CnsVolumeManager.CnsDeleteVolume: deleting a file volume deletes its " +
			"vSAN file share; here CNS forgets the volume and the share stays in the vSAN file service.",
		Symptom: `file share \S+ still exists after its claim was deleted`,
		install: func(m *simulator.Model) error {
			r := m.Service.Context.For(cns.Path).Map
			var forgotten sync.Map // CNS volume ID -> true
			around(r, "CnsDeleteVolume", func(ctx *simulator.Context, req any, next func() soap.HasFault) soap.HasFault {
				d := req.(*cnstypes.CnsDeleteVolume)
				if len(d.VolumeIds) != 1 || !strings.HasPrefix(d.VolumeIds[0].Id, "file:") {
					return next()
				}
				id := d.VolumeIds[0]
				res := &cnstypes.CnsVolumeOperationResult{VolumeId: id}
				if _, gone := forgotten.LoadOrStore(id.Id, true); gone {
					res.Fault = &types.LocalizedMethodFault{Fault: new(types.NotFound)}
				}
				batch := &cnstypes.CnsVolumeOperationBatchResult{VolumeResults: []cnstypes.BaseCnsVolumeOperationResult{res}}
				return &cnsmethods.CnsDeleteVolumeBody{
					Res: &cnstypes.CnsDeleteVolumeResponse{Returnval: ncSucceed(ctx, d.This, "CnsDeleteVolume", batch)},
				}
			})
			hide := func(res *cnstypes.CnsQueryResult) {
				kept := res.Volumes[:0]
				for _, v := range res.Volumes {
					if _, gone := forgotten.Load(v.VolumeId.Id); !gone {
						kept = append(kept, v)
					} else if res.Cursor.TotalRecords > 0 {
						res.Cursor.TotalRecords--
					}
				}
				res.Volumes = kept
			}
			around(r, "CnsQueryVolume", func(_ *simulator.Context, _ any, next func() soap.HasFault) soap.HasFault {
				body := next()
				if b, ok := body.(*cnsmethods.CnsQueryVolumeBody); ok && b.Res != nil {
					hide(&b.Res.Returnval)
				}
				return body
			})
			around(r, "CnsQueryAllVolume", func(_ *simulator.Context, _ any, next func() soap.HasFault) soap.HasFault {
				body := next()
				if b, ok := body.(*cnsmethods.CnsQueryAllVolumeBody); ok && b.Res != nil {
					hide(&b.Res.Returnval)
				}
				return body
			})
			return nil
		},
	},
}

// fileNoNFSv41 drops the NFSv4.1 access point from the file volumes of a
// query answer, copying each backing so the volume's record stays intact.
func fileNoNFSv41(vols []cnstypes.CnsVolume) {
	for i := range vols {
		d, rewrap := fileBacking(vols[i].BackingObjectDetails)
		if d == nil {
			continue
		}
		c := *d
		c.AccessPoints = fileWithoutNFSv41(d.AccessPoints)
		vols[i].BackingObjectDetails = rewrap(&c)
	}
}

// fileBacking is a volume's file share backing, nil for others, and how to
// put a changed one back. sim/vcext wraps backings in a struct embedding
// them (to send their xsi:type); the wrapper is kept.
func fileBacking(b cnstypes.BaseCnsBackingObjectDetails) (*cnstypes.CnsVsanFileShareBackingDetails, func(*cnstypes.CnsVsanFileShareBackingDetails) cnstypes.BaseCnsBackingObjectDetails) {
	if d, ok := b.(*cnstypes.CnsVsanFileShareBackingDetails); ok {
		return d, func(n *cnstypes.CnsVsanFileShareBackingDetails) cnstypes.BaseCnsBackingObjectDetails { return n }
	}
	v := reflect.ValueOf(b)
	if !v.IsValid() || v.Kind() != reflect.Struct {
		return nil, nil
	}
	inner := v.FieldByName("BaseCnsBackingObjectDetails")
	if !inner.IsValid() {
		return nil, nil
	}
	d, ok := inner.Interface().(*cnstypes.CnsVsanFileShareBackingDetails)
	if !ok {
		return nil, nil
	}
	return d, func(n *cnstypes.CnsVsanFileShareBackingDetails) cnstypes.BaseCnsBackingObjectDetails {
		w := reflect.New(v.Type()).Elem()
		w.Set(v)
		w.FieldByName("BaseCnsBackingObjectDetails").Set(reflect.ValueOf(n))
		return w.Interface().(cnstypes.BaseCnsBackingObjectDetails)
	}
}

func fileWithoutNFSv41(points []types.KeyValue) []types.KeyValue {
	var out []types.KeyValue
	for _, kv := range points {
		if kv.Key != "NFSv4.1" {
			out = append(out, kv)
		}
	}
	return out
}
