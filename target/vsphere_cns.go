package target

import (
	"context"
	"fmt"

	cnstypes "github.com/vmware/govmomi/cns/types"
)

// VolumeRef names one vCenter-side volume in listings and leak reports.
// Datastore is the CNS datastore URL for CNS volumes, the datastore name for FCDs.
type VolumeRef struct {
	ID        string `json:"id"`
	Name      string `json:"name,omitempty"`
	Datastore string `json:"datastore,omitempty"`
}

// cnsPageSize is how many volumes one CnsQueryVolume page asks for.
const cnsPageSize = 500

// CNSVolume returns the CNS volume with this ID, or nil when CNS has none.
func (t *Target) CNSVolume(ctx context.Context, id string) (*cnstypes.CnsVolume, error) {
	vols, err := t.queryCNS(ctx, cnstypes.CnsQueryFilter{VolumeIds: []cnstypes.CnsVolumeId{{Id: id}}})
	if err != nil {
		return nil, fmt.Errorf("query CNS volume %s: %w", id, err)
	}
	for i := range vols {
		if vols[i].VolumeId.Id == id {
			noteCNSVolume(&vols[i])
			return &vols[i], nil
		}
	}
	return nil, nil
}

// ListCNSVolumes lists the CNS volumes of this target's cluster
// (csi.clusterID), or every CNS volume when no cluster ID is configured.
func (t *Target) ListCNSVolumes(ctx context.Context) ([]VolumeRef, error) {
	var filter cnstypes.CnsQueryFilter
	if id := t.Config.CSI.ClusterID; id != "" {
		filter.ContainerClusterIds = []string{id}
	}
	vols, err := t.queryCNS(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("list CNS volumes: %w", err)
	}
	out := make([]VolumeRef, 0, len(vols))
	for _, v := range vols {
		out = append(out, VolumeRef{ID: v.VolumeId.Id, Name: v.Name, Datastore: v.DatastoreUrl})
	}
	return out, nil
}

// queryCNS runs CnsQueryVolume page by page: vCenter caps each answer and
// hands back a cursor for the rest.
func (t *Target) queryCNS(ctx context.Context, filter cnstypes.CnsQueryFilter) ([]cnstypes.CnsVolume, error) {
	if t.CNS == nil {
		return nil, errNoVCenter
	}
	filter.Cursor = &cnstypes.CnsCursor{Limit: cnsPageSize}
	var out []cnstypes.CnsVolume
	for {
		res, err := t.CNS.QueryVolume(ctx, &filter)
		if err != nil {
			return nil, err
		}
		out = append(out, res.Volumes...)
		next := res.Cursor.Offset
		if len(res.Volumes) == 0 || next <= filter.Cursor.Offset || next >= res.Cursor.TotalRecords {
			return out, nil
		}
		filter.Cursor.Offset = next
	}
}

// WaitForCNSVolume waits until CNS has the volume (present) or no longer
// has it (!present), and returns it while present.
func (t *Target) WaitForCNSVolume(ctx context.Context, volumeID string, present bool) (*cnstypes.CnsVolume, error) {
	var vol *cnstypes.CnsVolume
	what := fmt.Sprintf("CNS volume %s to exist", volumeID)
	if !present {
		what = fmt.Sprintf("CNS volume %s to be gone", volumeID)
	}
	err := WaitFor(ctx, what, Timeouts.CNSVolume, func(ctx context.Context) (bool, string, error) {
		got, err := t.CNSVolume(ctx, volumeID)
		if err != nil {
			return false, oneLine(err.Error()), nil
		}
		vol = got
		if got == nil {
			return !present, "absent", nil
		}
		return present, fmt.Sprintf("present (name %q, health %s)", got.Name, got.HealthStatus), nil
	})
	return vol, err
}
