package vcext

import (
	cnsmethods "github.com/vmware/govmomi/cns/methods"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

type metadataUpdater interface {
	CnsUpdateVolumeMetadata(ctx *simulator.Context, req *cnstypes.CnsUpdateVolumeMetadata) soap.HasFault
}

// CnsUpdateVolumeMetadata merges entity metadata into a volume's. vSphere
// CNS API reference, CnsVolumeManager.CnsUpdateVolumeMetadata with
// CnsVolumeMetadataUpdateSpec and CnsEntityMetadata.delete: each entity in
// the spec is added or replaces the entity of the same type, name,
// namespace and cluster; an entity with delete set is removed; entities
// the spec does not name are kept. vcsim replaces the whole list, so the
// syncer's one-entity updates (PVC, then pod, ...) wiped each other out and
// its "no entity left: untrack the retained volume" check never held.
func (m *volumeManager) CnsUpdateVolumeMetadata(ctx *simulator.Context, req *cnstypes.CnsUpdateVolumeMetadata) soap.HasFault {
	vctx := ctx.For(vim25.Path)
	task := simulator.CreateTask(m, "CnsUpdateVolumeMetadata", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		if len(req.UpdateSpecs) == 0 {
			return nil, &types.InvalidArgument{InvalidProperty: "CnsUpdateVolumeMetadataSpec"}
		}
		merged := *req
		merged.UpdateSpecs = make([]cnstypes.CnsVolumeMetadataUpdateSpec, len(req.UpdateSpecs))
		for i, spec := range req.UpdateSpecs {
			current := []cnstypes.BaseCnsEntityMetadata(nil)
			if vol := m.volume(vctx, spec.VolumeId); vol != nil {
				current = vol.Metadata.EntityMetadata
			}
			spec.Metadata.EntityMetadata = mergeEntities(current, spec.Metadata.EntityMetadata)
			merged.UpdateSpecs[i] = spec
		}
		// The simulator's own update, inside this task (as in CnsExtendVolume)
		// so that read and write are one step under the manager's task lock.
		result, fault := runTask(vctx, m.base.(metadataUpdater).CnsUpdateVolumeMetadata(vctx, &merged))
		if fault != nil {
			return nil, fault.Fault
		}
		return result, nil
	})
	return &cnsmethods.CnsUpdateVolumeBody{
		Res: &cnstypes.CnsUpdateVolumeMetadataResponse{Returnval: task.Run(vctx)},
	}
}

// entityKey identifies an entity within a volume's metadata.
type entityKey struct{ kind, name, namespace, cluster string }

func keyOf(e cnstypes.BaseCnsEntityMetadata) entityKey {
	base := e.GetCnsEntityMetadata()
	k := entityKey{name: base.EntityName, cluster: base.ClusterID}
	if ke, ok := e.(*cnstypes.CnsKubernetesEntityMetadata); ok {
		k.kind, k.namespace = ke.EntityType, ke.Namespace
	}
	return k
}

// mergeEntities applies updates to current, keeping current's order.
func mergeEntities(current, updates []cnstypes.BaseCnsEntityMetadata) []cnstypes.BaseCnsEntityMetadata {
	out := make([]cnstypes.BaseCnsEntityMetadata, 0, len(current)+len(updates))
	index := map[entityKey]int{}
	for _, e := range current {
		index[keyOf(e)] = len(out)
		out = append(out, e)
	}
	for _, u := range updates {
		k := keyOf(u)
		i, found := index[k]
		switch {
		case u.GetCnsEntityMetadata().Delete:
			if found {
				out[i] = nil
				delete(index, k)
			}
		case found:
			out[i] = u
		default:
			index[k] = len(out)
			out = append(out, u)
		}
	}
	kept := out[:0]
	for _, e := range out {
		if e != nil {
			kept = append(kept, e)
		}
	}
	return kept
}
