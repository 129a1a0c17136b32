package defects

import (
	"slices"
	"sort"

	"github.com/vmware/govmomi/cns"
	cnsmethods "github.com/vmware/govmomi/cns/methods"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vsphere-conformance/vsphere-conformance/sim/vcext"
)

// blockProfiles: defects of CNS block volumes (create, delete, metadata,
// extend).
var blockProfiles = []Profile{
	{
		Name: "delete-leaves-fcd",
		Breaks: "vSphere CNS API reference, CnsVolumeManager.CnsDeleteVolume: with deleteDisk the backing " +
			"first class disk is deleted with the volume; here the CNS record goes and the FCD stays (the orphaned-vmdk problem).",
		Symptom: `FCD \S+ still exists`,
		install: onCNS("CnsDeleteVolume", func(ctx *simulator.Context, req any, next func() soap.HasFault) soap.HasFault {
			req.(*cnstypes.CnsDeleteVolume).DeleteDisk = false
			return next()
		}),
	},
	{
		Name: "delete-does-nothing",
		Breaks: "vSphere CNS API reference, CnsVolumeManager.CnsDeleteVolume: the volume is removed from CNS " +
			"(and its disk with deleteDisk); here the task succeeds and removes nothing.",
		Symptom: `CNS volume \S+ to be gone; last state: present|FCD \S+ still exists`,
		install: onCNS("CnsDeleteVolume", func(ctx *simulator.Context, req any, _ func() soap.HasFault) soap.HasFault {
			r := req.(*cnstypes.CnsDeleteVolume)
			return &cnsmethods.CnsDeleteVolumeBody{Res: &cnstypes.CnsDeleteVolumeResponse{
				Returnval: succeed(ctx, "CnsDeleteVolume", plainResults(r.VolumeIds)),
			}}
		}),
	},
	{
		Name: "create-ignores-policy",
		Breaks: "vSphere CNS API reference, CnsVolumeCreateSpec.profile: the storage policy is applied to the " +
			"volume and its backing disk (CnsVolume.storagePolicyId); here the volume is created without it.",
		Symptom: `CNS volume \S+ (has policy "[^"]*", want|has another policy)`,
		install: onCNS("CnsCreateVolume", func(ctx *simulator.Context, req any, next func() soap.HasFault) soap.HasFault {
			for i := range req.(*cnstypes.CnsCreateVolume).CreateSpecs {
				req.(*cnstypes.CnsCreateVolume).CreateSpecs[i].Profile = nil
			}
			return next()
		}),
	},
	{
		Name: "create-smaller-disk",
		Breaks: "vSphere CNS API reference, CnsBackingObjectDetails.capacityInMb: the capacity of the volume " +
			"to create; here the volume and its FCD get half of it.",
		Symptom: `(CNS volume|FCD) \S+ is not the size the claim asked for|device size in the pod`,
		install: onCNS("CnsCreateVolume", func(ctx *simulator.Context, req any, next func() soap.HasFault) soap.HasFault {
			for _, spec := range req.(*cnstypes.CnsCreateVolume).CreateSpecs {
				if isNewBlock(spec) {
					d := spec.BackingObjectDetails.GetCnsBackingObjectDetails()
					d.CapacityInMb = max(1, d.CapacityInMb/2)
				}
			}
			return next()
		}),
	},
	{
		Name: "placement-ignores-datastores",
		Breaks: "vSphere CNS API reference, CnsVolumeCreateSpec.datastores: the datastores to be considered " +
			"for the volume's placement; here the volume lands on a datastore outside that list.",
		// The driver (v3.3.1) notices a topology-aware volume outside the
		// zone's datastores and fails the create with the last message.
		Symptom: `(CNS volume|FCD) \S+ is on (datastore )?\S+, (want|which host)|failed to calculate accessible topologies for the datastore`,
		install: onCNS("CnsCreateVolume", func(ctx *simulator.Context, req any, next func() soap.HasFault) soap.HasFault {
			for i, spec := range req.(*cnstypes.CnsCreateVolume).CreateSpecs {
				if !isNewBlock(spec) || len(spec.Datastores) == 0 {
					continue
				}
				if ds, ok := datastoreOutside(ctx.For(vim25.Path), spec.Datastores); ok {
					req.(*cnstypes.CnsCreateVolume).CreateSpecs[i].Datastores = []types.ManagedObjectReference{ds}
				}
			}
			return next()
		}),
	},
	{
		Name: "placement-ignores-policy",
		Breaks: "vSphere Storage Policy API reference, PbmPlacementSolver.PbmCheckCompatibility, and vSphere CNS " +
			"API reference, CnsVolumeCreateSpec.profile: a datastore satisfies a tag-based placement rule only when " +
			"it carries one of the rule's tags; here SPBM credits every datastore with the tags of all of them, so " +
			"any datastore passes, CNS places the volume anywhere and calls it compliant.",
		Symptom: `carries none of the tags .* that policy \S+ requires`,
		install: func(m *simulator.Model) error {
			real := vcext.DatastoreTags(m)
			if real == nil { // a model without tags: nothing to misread
				real = func(types.ManagedObjectReference) []vcext.Tag { return nil }
			}
			vim := m.Map()
			return vcext.SetDatastoreTags(m, func(types.ManagedObjectReference) []vcext.Tag {
				var all []vcext.Tag
				for _, ds := range vim.All("Datastore") {
					all = append(all, real(ds.Reference())...)
				}
				return all
			})
		},
	},
	{
		Name: "create-leaves-stray-fcd",
		Breaks: "vSphere CNS API reference, CnsVolumeManager.CnsCreateVolume: one volume per create spec, " +
			"backed by one first class disk; here each create also leaves a second FCD of the same name that no volume owns.",
		Symptom: `FCDs (created|left|made) for one claim|leaked objects on the target:.*FCD \S+|volumes or disks that Kubernetes does not explain`,
		install: onCNS("CnsCreateVolume", func(ctx *simulator.Context, req any, next func() soap.HasFault) soap.HasFault {
			r := req.(*cnstypes.CnsCreateVolume)
			body := next()
			if len(r.CreateSpecs) != 1 || !isNewBlock(r.CreateSpecs[0]) {
				return body
			}
			batch := awaitBatch(ctx, body)
			if batch == nil || len(batch.VolumeResults) != 1 {
				return body
			}
			res, ok := batch.VolumeResults[0].(*cnstypes.CnsVolumeCreateResult)
			if !ok || res.Fault != nil || len(res.PlacementResults) == 0 {
				return body
			}
			spec := r.CreateSpecs[0]
			createStrayFCD(ctx.For(vim25.Path), spec.Name,
				spec.BackingObjectDetails.GetCnsBackingObjectDetails().CapacityInMb, res.PlacementResults[0].Datastore)
			return body
		}),
	},
	{
		Name: "metadata-dropped",
		Breaks: "vSphere CNS API reference, CnsVolumeManager.CnsUpdateVolumeMetadata: the entity metadata of " +
			"the update specs is added to the volumes; here the task succeeds and the volumes keep what they had.",
		Symptom: `CNS volume \S+ (lacks the (PV/PVC|pod) entity metadata|: the claim's entity lacks its new label|: the claim's label set while the syncer was down never arrived)`,
		install: onCNS("CnsUpdateVolumeMetadata", func(ctx *simulator.Context, req any, _ func() soap.HasFault) soap.HasFault {
			var ids []cnstypes.CnsVolumeId
			for _, spec := range req.(*cnstypes.CnsUpdateVolumeMetadata).UpdateSpecs {
				ids = append(ids, spec.VolumeId)
			}
			return &cnsmethods.CnsUpdateVolumeBody{Res: &cnstypes.CnsUpdateVolumeMetadataResponse{
				Returnval: succeed(ctx, "CnsUpdateVolumeMetadata", plainResults(ids)),
			}}
		}),
	},
	{
		Name: "metadata-drops-pod",
		Breaks: "vSphere CNS API reference, CnsVolumeManager.CnsUpdateVolumeMetadata and CnsKubernetesEntityType " +
			"POD: a pod entity the syncer pushes is added to the volume; here pod entities are dropped from every update.",
		Symptom: `CNS volume \S+ lacks the pod entity metadata|entity metadata after the pod changed`,
		install: onCNS("CnsUpdateVolumeMetadata", func(ctx *simulator.Context, req any, next func() soap.HasFault) soap.HasFault {
			r := req.(*cnstypes.CnsUpdateVolumeMetadata)
			for i := range r.UpdateSpecs {
				m := &r.UpdateSpecs[i].Metadata
				m.EntityMetadata = slices.DeleteFunc(m.EntityMetadata, func(e cnstypes.BaseCnsEntityMetadata) bool {
					k, ok := e.(*cnstypes.CnsKubernetesEntityMetadata)
					return ok && k.EntityType == string(cnstypes.CnsKubernetesEntityTypePOD)
				})
			}
			return next()
		}),
	},
	{
		Name: "metadata-wrong-cluster",
		Breaks: "vSphere CNS API reference, CnsContainerCluster.clusterId and CnsEntityMetadata.clusterID: the " +
			"Kubernetes cluster a volume and its entities belong to; here another cluster's ID is recorded.",
		Symptom: `belongs to container cluster "[^"]*", want|lacks the (PV/PVC|pod) entity metadata of cluster`,
		install: func(m *simulator.Model) error {
			r := cnsRegistry(m)
			around(r, "CnsCreateVolume", func(ctx *simulator.Context, req any, next func() soap.HasFault) soap.HasFault {
				for i := range req.(*cnstypes.CnsCreateVolume).CreateSpecs {
					otherCluster(&req.(*cnstypes.CnsCreateVolume).CreateSpecs[i].Metadata)
				}
				return next()
			})
			around(r, "CnsUpdateVolumeMetadata", func(ctx *simulator.Context, req any, next func() soap.HasFault) soap.HasFault {
				for i := range req.(*cnstypes.CnsUpdateVolumeMetadata).UpdateSpecs {
					otherCluster(&req.(*cnstypes.CnsUpdateVolumeMetadata).UpdateSpecs[i].Metadata)
				}
				return next()
			})
			return nil
		},
	},
	{
		// CNS keeps its own capacity record (CnsBackingObjectDetails), apart
		// from the FCD's capacityInMB: the bug is the two disagreeing.
		Name: "extend-cns-only",
		Breaks: "vSphere CNS API reference, CnsVolumeManager.CnsExtendVolume: the volume's backing virtual disk " +
			"is extended (online when attached); here only the CNS record grows, the FCD and the attached disk keep their size.",
		Symptom: `(FCD \S+|disk \S+ on VM \S+) did not grow|filesystem size in the pod after growing`,
		install: onCNS("CnsExtendVolume", func(ctx *simulator.Context, req any, next func() soap.HasFault) soap.HasFault {
			// The CNS simulator's own extend: it updates its record only.
			base, ok := ctx.Map.Get(cns.CnsVolumeManagerInstance).(interface {
				CnsExtendVolume(*simulator.Context, *cnstypes.CnsExtendVolume) soap.HasFault
			})
			if !ok {
				return next()
			}
			return base.CnsExtendVolume(ctx, req.(*cnstypes.CnsExtendVolume))
		}),
	},
	{
		Name: "extend-does-nothing",
		Breaks: "vSphere CNS API reference, CnsVolumeManager.CnsExtendVolume: the volume and its backing disk " +
			"grow to capacityInMb; here the task succeeds and nothing grows.",
		Symptom: `(CNS volume|FCD) \S+ did not grow`,
		install: onCNS("CnsExtendVolume", func(ctx *simulator.Context, req any, _ func() soap.HasFault) soap.HasFault {
			var ids []cnstypes.CnsVolumeId
			for _, spec := range req.(*cnstypes.CnsExtendVolume).ExtendSpecs {
				ids = append(ids, spec.VolumeId)
			}
			return &cnsmethods.CnsExtendVolumeBody{Res: &cnstypes.CnsExtendVolumeResponse{
				Returnval: succeed(ctx, "CnsExtendVolume", plainResults(ids)),
			}}
		}),
	},
}

// wrongClusterID is the cluster metadata-wrong-cluster records instead.
const wrongClusterID = "vsconform-defect-other-cluster"

// otherCluster replaces every cluster ID of a volume's metadata.
func otherCluster(m *cnstypes.CnsVolumeMetadata) {
	if m.ContainerCluster.ClusterId != "" {
		m.ContainerCluster.ClusterId = wrongClusterID
	}
	for i := range m.ContainerClusterArray {
		m.ContainerClusterArray[i].ClusterId = wrongClusterID
	}
	for _, e := range m.EntityMetadata {
		if b := e.GetCnsEntityMetadata(); b.ClusterID != "" {
			b.ClusterID = wrongClusterID
		}
	}
}

// cnsRegistry is the registry serving the CNS volume manager.
func cnsRegistry(m *simulator.Model) *simulator.Registry {
	return m.Service.Context.For(cns.Path).Map
}

// onCNS is an install that puts f around one CNS volume manager method.
func onCNS(method string, f serve) func(m *simulator.Model) error {
	return func(m *simulator.Model) error {
		around(cnsRegistry(m), method, f)
		return nil
	}
}

// isNewBlock: a block volume spec that makes a new disk (not one that
// registers an existing disk or vmdk, nor a file share).
func isNewBlock(spec cnstypes.CnsVolumeCreateSpec) bool {
	d, ok := spec.BackingObjectDetails.(*cnstypes.CnsBlockBackingDetails)
	return ok && d.BackingDiskId == "" && d.BackingDiskUrlPath == ""
}

// plainResults are per-volume results without faults: success for each.
func plainResults(ids []cnstypes.CnsVolumeId) []cnstypes.BaseCnsVolumeOperationResult {
	var out []cnstypes.BaseCnsVolumeOperationResult
	for _, id := range ids {
		out = append(out, &cnstypes.CnsVolumeOperationResult{VolumeId: id})
	}
	return out
}

// succeed answers a CNS method with a task of the volume manager that
// completes successfully with results, as CNS reports a batch (vSphere
// CNS API reference, CnsVolumeOperationBatchResult), and does nothing else.
func succeed(ctx *simulator.Context, method string, results []cnstypes.BaseCnsVolumeOperationResult) types.ManagedObjectReference {
	return ncSucceed(ctx.For(vim25.Path), cns.CnsVolumeManagerInstance, method,
		&cnstypes.CnsVolumeOperationBatchResult{VolumeResults: results})
}

// awaitBatch waits for the CNS task a method body returned and gives its
// batch result; nil when the call or the task failed. The caller holds no
// task lock (the task takes the manager's).
func awaitBatch(ctx *simulator.Context, body soap.HasFault) *cnstypes.CnsVolumeOperationBatchResult {
	if body == nil {
		return nil
	}
	result, fault := ncWait(ctx.For(vim25.Path), body)
	if fault != nil {
		return nil
	}
	batch, _ := result.(*cnstypes.CnsVolumeOperationBatchResult)
	return batch
}

// datastoreOutside picks a datastore not in want, preferring the one whose
// hosts overlap least with those of want (a datastore of another cluster),
// then by name; false when want holds every datastore.
func datastoreOutside(ctx *simulator.Context, want []types.ManagedObjectReference) (types.ManagedObjectReference, bool) {
	wanted := map[types.ManagedObjectReference]bool{}
	for _, e := range ctx.Map.All("Datastore") {
		if ds, ok := e.(*simulator.Datastore); ok && slices.Contains(want, ds.Self) {
			ctx.WithLock(ds, func() {
				for _, h := range ds.Host {
					wanted[h.Key] = true
				}
			})
		}
	}
	type candidate struct {
		ref     types.ManagedObjectReference
		name    string
		overlap int
	}
	var cs []candidate
	for _, e := range ctx.Map.All("Datastore") {
		ds, ok := e.(*simulator.Datastore)
		if !ok || slices.Contains(want, ds.Self) {
			continue
		}
		c := candidate{ref: ds.Self}
		ctx.WithLock(ds, func() {
			c.name = ds.Name
			for _, h := range ds.Host {
				if wanted[h.Key] {
					c.overlap++
				}
			}
		})
		cs = append(cs, c)
	}
	if len(cs) == 0 {
		return types.ManagedObjectReference{}, false
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].overlap != cs[j].overlap {
			return cs[i].overlap < cs[j].overlap
		}
		return cs[i].name < cs[j].name
	})
	return cs[0].ref, true
}

// createStrayFCD makes a thin FCD as CNS makes a volume's (vSphere Web
// Services API, VcenterVStorageObjectManager.CreateDisk_Task) and waits.
func createStrayFCD(ctx *simulator.Context, name string, capacityMB int64, ds types.ManagedObjectReference) {
	vsom := ctx.Map.VStorageObjectManager()
	body := vsom.CreateDiskTask(ctx, &types.CreateDisk_Task{
		This: vsom.Self,
		Spec: types.VslmCreateSpec{
			Name:              name,
			KeepAfterDeleteVm: types.NewBool(true),
			CapacityInMB:      capacityMB,
			BackingSpec: &types.VslmCreateSpecDiskFileBackingSpec{
				VslmCreateSpecBackingSpec: types.VslmCreateSpecBackingSpec{Datastore: ds},
				ProvisioningType:          string(types.BaseConfigInfoDiskFileBackingInfoProvisioningTypeThin),
			},
		},
	})
	ncWait(ctx.For(vim25.Path), body)
}
