package vcext

import (
	"reflect"
	"slices"
	"sort"

	cnsmethods "github.com/vmware/govmomi/cns/methods"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

// CnsQueryVolume answers with the block volumes of the CNS simulator and the
// file volumes, each with typed backing details.
func (f *fileVolumes) CnsQueryVolume(ctx *simulator.Context, req *cnstypes.CnsQueryVolume) soap.HasFault {
	body, ok := f.volumeManager.CnsQueryVolume(ctx, req).(*cnsmethods.CnsQueryVolumeBody)
	if !ok || body.Res == nil {
		return body
	}
	var filter cnstypes.CnsQueryFilter
	if req.Filter != nil {
		filter = *req.Filter.GetCnsQueryFilter()
	}
	body.Res.Returnval = f.merge(ctx, filter, body.Res.Returnval)
	return body
}

// CnsQueryAllVolume is CnsQueryVolume without paging; the selection of
// fields is ignored (the answer has them all), as the CNS simulator does.
func (f *fileVolumes) CnsQueryAllVolume(ctx *simulator.Context, req *cnstypes.CnsQueryAllVolume) soap.HasFault {
	body, ok := f.volumeManager.CnsQueryAllVolume(ctx, req).(*cnsmethods.CnsQueryAllVolumeBody)
	if !ok || body.Res == nil {
		return body
	}
	filter := req.Filter
	filter.Cursor = nil
	body.Res.Returnval = f.merge(ctx, filter, body.Res.Returnval)
	return body
}

// merge adds the matching file volumes to the simulator's result, pages the
// whole (vSphere CNS API reference, CnsQueryFilter.cursor: offset and limit
// of the answer; CnsCursor.totalRecords) and types every backing.
func (f *fileVolumes) merge(ctx *simulator.Context, filter cnstypes.CnsQueryFilter, res cnstypes.CnsQueryResult) cnstypes.CnsQueryResult {
	files := filesOf(ctx)
	files.mu.Lock()
	for _, fs := range files.shares {
		if matchesFile(filter, fs) {
			res.Volumes = append(res.Volumes, fs.volume)
		}
	}
	files.mu.Unlock()

	if c := filter.Cursor; c != nil && c.Limit > 0 {
		// A stable order, so pages do not overlap.
		sort.Slice(res.Volumes, func(i, j int) bool { return res.Volumes[i].VolumeId.Id < res.Volumes[j].VolumeId.Id })
		total := int64(len(res.Volumes))
		start := min(max(c.Offset, 0), total)
		end := min(start+c.Limit, total)
		res.Volumes = res.Volumes[start:end]
		res.Cursor = cnstypes.CnsCursor{Offset: end, Limit: c.Limit, TotalRecords: total}
	}
	for i := range res.Volumes {
		if d := res.Volumes[i].BackingObjectDetails; d != nil {
			res.Volumes[i].BackingObjectDetails = typedDetails{d}
		}
	}
	return res
}

// matchesFile applies a CNS query filter to a file volume: every criterion
// given must hold (vSphere CNS API reference, CnsQueryFilter).
func matchesFile(f cnstypes.CnsQueryFilter, fs *fileShare) bool {
	v := &fs.volume
	if len(f.VolumeIds) > 0 && !slices.ContainsFunc(f.VolumeIds, func(id cnstypes.CnsVolumeId) bool { return id.Id == v.VolumeId.Id }) {
		return false
	}
	if len(f.Names) > 0 && !slices.Contains(f.Names, v.Name) {
		return false
	}
	if len(f.Datastores) > 0 && !slices.ContainsFunc(f.Datastores, func(r types.ManagedObjectReference) bool { return r.Value == fs.datastore.Value }) {
		return false
	}
	if len(f.ContainerClusterIds) > 0 && !slices.ContainsFunc(f.ContainerClusterIds, func(id string) bool {
		if v.Metadata.ContainerCluster.ClusterId == id {
			return true
		}
		return slices.ContainsFunc(v.Metadata.ContainerClusterArray, func(c cnstypes.CnsContainerCluster) bool { return c.ClusterId == id })
	}) {
		return false
	}
	if f.StoragePolicyId != "" && f.StoragePolicyId != v.StoragePolicyId {
		return false
	}
	if f.ComplianceStatus != "" && f.ComplianceStatus != v.ComplianceStatus {
		return false
	}
	if f.HealthStatus != "" && f.HealthStatus != v.HealthStatus {
		return false
	}
	if len(f.Labels) > 0 {
		found := false
		for _, e := range v.Metadata.EntityMetadata {
			for _, l := range e.GetCnsEntityMetadata().Labels {
				if slices.Contains(f.Labels, l) {
					found = true
				}
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// typedDetails sends a volume's backing details with their xsi:type, as
// vCenter does for every polymorphic field: govmomi's CnsVolume field has no
// typeattr tag, so the simulator would send the base type's name, and a
// client casting to *CnsVsanFileShareBackingDetails (the CSI driver's
// ControllerPublishVolume does) would get *CnsBackingObjectDetails.
type typedDetails struct {
	cnstypes.BaseCnsBackingObjectDetails
}

// xsiType is the XML Schema instance "type" attribute, the name govmomi's
// decoder reads (vim25/xml's typeattr emits the same).
var xsiType = xml.Name{Space: "http://www.w3.org/2001/XMLSchema-instance", Local: "type"}

// MarshalXML writes the details with xsi:type set to their type's name.
func (d typedDetails) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	t := reflect.TypeOf(d.BaseCnsBackingObjectDetails)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	start.Attr = append(start.Attr, xml.Attr{Name: xsiType, Value: t.Name()})
	return e.EncodeElement(d.BaseCnsBackingObjectDetails, start)
}
