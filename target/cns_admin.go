package target

import (
	"context"
	"fmt"

	"github.com/vmware/govmomi/cns"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

// What a vSphere admin does through the CNS API directly (vSphere CNS API
// reference, CnsVolumeManager): specs use it to set up static volumes and
// to clean up volumes the driver was told to keep.

// CNSVolumeSpec describes a block volume to create through CNS.
type CNSVolumeSpec struct {
	Name       string
	Datastore  types.ManagedObjectReference
	CapacityMB int64
	PolicyID   string // optional SPBM policy
}

// CreateCNSVolume creates a CNS block volume (and its first-class disk) for
// this target's cluster, as an admin would before a static PV, and returns
// its ID. The caller tracks its deletion.
func (t *Target) CreateCNSVolume(ctx context.Context, spec CNSVolumeSpec) (string, error) {
	if t.CNS == nil {
		return "", errNoVCenter
	}
	create := cnstypes.CnsVolumeCreateSpec{
		Name:       spec.Name,
		VolumeType: string(cnstypes.CnsVolumeTypeBlock),
		Datastores: []types.ManagedObjectReference{spec.Datastore},
		Metadata: cnstypes.CnsVolumeMetadata{ContainerCluster: cnstypes.CnsContainerCluster{
			ClusterType:   string(cnstypes.CnsClusterTypeKubernetes),
			ClusterId:     t.Config.CSI.ClusterID,
			VSphereUser:   t.Config.VCenter.Username,
			ClusterFlavor: string(cnstypes.CnsClusterFlavorVanilla),
		}},
		BackingObjectDetails: &cnstypes.CnsBlockBackingDetails{
			CnsBackingObjectDetails: cnstypes.CnsBackingObjectDetails{CapacityInMb: spec.CapacityMB},
		},
	}
	if spec.PolicyID != "" {
		create.Profile = []types.BaseVirtualMachineProfileSpec{&types.VirtualMachineDefinedProfileSpec{ProfileId: spec.PolicyID}}
	}
	res, err := t.cnsTask(ctx, "create CNS volume "+spec.Name, func() (*object.Task, error) {
		return t.CNS.CreateVolume(ctx, []cnstypes.CnsVolumeCreateSpec{create})
	})
	if err != nil {
		return "", err
	}
	return res.GetCnsVolumeOperationResult().VolumeId.Id, nil
}

// DeleteCNSVolume deletes a CNS volume and, with deleteDisk, its disk. A
// volume that is already gone is not an error.
func (t *Target) DeleteCNSVolume(ctx context.Context, id string, deleteDisk bool) error {
	if t.CNS == nil {
		return errNoVCenter
	}
	_, err := t.cnsTask(ctx, "delete CNS volume "+id, func() (*object.Task, error) {
		return t.CNS.DeleteVolume(ctx, []cnstypes.CnsVolumeId{{Id: id}}, deleteDisk)
	})
	if isAbsent(err) {
		return nil
	}
	return err
}

// AttachCNSVolume attaches a CNS volume to a VM through CNS, as the driver's
// ControllerPublishVolume does, but without any VolumeAttachment.
func (t *Target) AttachCNSVolume(ctx context.Context, id string, vm types.ManagedObjectReference) error {
	if t.CNS == nil {
		return errNoVCenter
	}
	_, err := t.cnsTask(ctx, "attach CNS volume "+id, func() (*object.Task, error) {
		return t.CNS.AttachVolume(ctx, []cnstypes.CnsVolumeAttachDetachSpec{{VolumeId: cnstypes.CnsVolumeId{Id: id}, Vm: vm}})
	})
	return err
}

// DetachCNSVolume detaches a CNS volume from a VM.
func (t *Target) DetachCNSVolume(ctx context.Context, id string, vm types.ManagedObjectReference) error {
	if t.CNS == nil {
		return errNoVCenter
	}
	_, err := t.cnsTask(ctx, "detach CNS volume "+id, func() (*object.Task, error) {
		return t.CNS.DetachVolume(ctx, []cnstypes.CnsVolumeAttachDetachSpec{{VolumeId: cnstypes.CnsVolumeId{Id: id}, Vm: vm}})
	})
	return err
}

// CNSSnapshots lists the CNS snapshots of a volume (CnsQuerySnapshots).
// A volume CNS does not have is an error, never an empty list: CNS answers
// a query by volume ID for a volume without snapshots with no entries, and
// for a volume it does not know with CnsVolumeNotFoundFault (the vSphere
// CSI driver's ListSnapshots relies on both).
func (t *Target) CNSSnapshots(ctx context.Context, volumeID string) ([]cnstypes.CnsSnapshot, error) {
	if t.CNS == nil {
		return nil, errNoVCenter
	}
	task, err := t.CNS.QuerySnapshots(ctx, cnstypes.CnsSnapshotQueryFilter{
		SnapshotQuerySpecs: []cnstypes.CnsSnapshotQuerySpec{{VolumeId: cnstypes.CnsVolumeId{Id: volumeID}}},
	})
	if err != nil {
		return nil, fmt.Errorf("query CNS snapshots of %s: %w", volumeID, err)
	}
	info, err := cns.GetTaskInfo(ctx, task)
	if err != nil {
		return nil, fmt.Errorf("query CNS snapshots of %s: %w", volumeID, err)
	}
	res, err := cns.GetQuerySnapshotsTaskResult(ctx, info)
	if err != nil {
		return nil, fmt.Errorf("query CNS snapshots of %s: %w", volumeID, err)
	}
	var out []cnstypes.CnsSnapshot
	notFound := ""
	for _, e := range res.Entries {
		if e.Error == nil {
			out = append(out, e.Snapshot)
			continue
		}
		switch e.Error.Fault.(type) {
		case *cnstypes.CnsVolumeNotFoundFault:
			return nil, fmt.Errorf("query CNS snapshots of %s: CNS has no such volume (%s); a missing volume is not one without snapshots", volumeID, faultError{e.Error})
		case *types.NotFound:
			notFound = faultError{e.Error}.Error()
		default:
			return nil, fmt.Errorf("query CNS snapshots of %s: %s", volumeID, faultError{e.Error})
		}
	}
	if len(out) == 0 {
		// No snapshots, or no volume at all: an empty answer (or a plain
		// NotFound) does not tell them apart; CNS's record of the volume does.
		vol, err := t.CNSVolume(ctx, volumeID)
		if err != nil {
			return nil, fmt.Errorf("query CNS snapshots of %s: %w", volumeID, err)
		}
		if vol == nil {
			answer := "no entries"
			if notFound != "" {
				answer = notFound
			}
			return nil, fmt.Errorf("query CNS snapshots of %s: CNS has no such volume (the snapshot query answered %s); a missing volume is not one without snapshots", volumeID, answer)
		}
	}
	return out, nil
}

// cnsTask runs a CNS task and returns its single operation result, failing
// on the task's fault or the operation's fault.
func (t *Target) cnsTask(ctx context.Context, what string, start func() (*object.Task, error)) (cnstypes.BaseCnsVolumeOperationResult, error) {
	task, err := start()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	info, err := cns.GetTaskInfo(ctx, task)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	res, err := cns.GetTaskResult(ctx, info)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if f := res.GetCnsVolumeOperationResult().Fault; f != nil {
		return nil, fmt.Errorf("%s: %s: %w", what, f.LocalizedMessage, faultError{f})
	}
	return res, nil
}

// faultError lets isAbsent see the fault inside an operation result.
type faultError struct{ f *types.LocalizedMethodFault }

func (e faultError) Error() string {
	if e.f.LocalizedMessage != "" {
		return e.f.LocalizedMessage
	}
	return fmt.Sprintf("%T", e.f.Fault)
}

func (e faultError) Fault() types.BaseMethodFault { return e.f.Fault }

// DeleteVolumeAndDisk removes a volume the driver will not delete (a
// retained or static one): through CNS with its disk while CNS tracks it,
// else the first-class disk directly, which is what is left once the
// syncer untracks a retained volume whose PV was deleted. Absent is fine.
func (t *Target) DeleteVolumeAndDisk(ctx context.Context, id string) error {
	vol, err := t.CNSVolume(ctx, id)
	if err != nil {
		return err
	}
	if vol != nil {
		return t.DeleteCNSVolume(ctx, id, true)
	}
	return t.DeleteFCD(ctx, id)
}

// DeleteFCD deletes a first-class disk (VStorageObjectManager
// DeleteVStorageObject_Task); a disk that is already gone is not an error.
func (t *Target) DeleteFCD(ctx context.Context, id string) error {
	fcd, err := t.FCD(ctx, id)
	if err != nil || fcd == nil {
		return err
	}
	ds := fcd.Config.Backing.GetBaseConfigInfoBackingInfo().Datastore
	task, err := t.VSLM.Delete(ctx, ds, id)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil && !isAbsent(err) {
		return fmt.Errorf("delete FCD %s: %w", id, err)
	}
	return nil
}
