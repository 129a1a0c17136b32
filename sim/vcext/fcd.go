package vcext

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// fcd is what the CNS extensions need to know about a first class disk
// (VStorageObject), copied out under the VStorageObjectManager's lock.
type fcd struct {
	id         types.ID
	datastore  types.ManagedObjectReference
	path       string // "[ds] fcd/<id>.vmdk"
	capacityMB int64
	thin       bool
	keep       bool               // keepAfterDeleteVm
	key        *types.CryptoKeyId // backing keyId: set when encrypted
}

// findFCD looks a first class disk up by ID in vcsim's catalog. Its tasks
// change the catalog while holding the manager's lock, so read under it too.
func findFCD(ctx *simulator.Context, id string) *fcd {
	vsom := ctx.Map.VStorageObjectManager()
	var found *fcd
	ctx.WithLock(vsom, func() {
		for ds, objs := range vsom.Catalog() {
			obj, ok := objs[types.ID{Id: id}]
			if !ok {
				continue
			}
			backing, ok := obj.Config.Backing.(*types.BaseConfigInfoDiskFileBackingInfo)
			if !ok {
				continue
			}
			found = &fcd{
				id:         obj.Config.Id,
				datastore:  ds,
				path:       backing.FilePath,
				capacityMB: obj.Config.CapacityInMB,
				thin:       isThin(backing.ProvisioningType),
				keep:       obj.Config.KeepAfterDeleteVm != nil && *obj.Config.KeepAfterDeleteVm,
			}
			if k := backing.KeyId; k != nil {
				key := *k
				found.key = &key
			}
			return
		}
	})
	return found
}

// setFCDConsumer records which VM uses the disk (VStorageObjectConfigInfo.
// consumerId), as vCenter does while an FCD is attached; vcsim's own
// DeleteVStorageObject then refuses to delete it (InvalidState), like vCenter.
func setFCDConsumer(ctx *simulator.Context, d *fcd, consumer []types.ID) {
	vsom := ctx.Map.VStorageObjectManager()
	ctx.WithLock(vsom, func() {
		if obj, ok := vsom.Catalog()[d.datastore][d.id]; ok {
			obj.Config.ConsumerId = consumer
		}
	})
}

// extendFCD grows the disk through the VStorageObjectManager's ExtendDisk_Task.
func extendFCD(ctx *simulator.Context, d *fcd, capacityMB int64) *types.LocalizedMethodFault {
	vsom := ctx.Map.VStorageObjectManager()
	res := vsom.ExtendDiskTask(ctx, &types.ExtendDisk_Task{
		This:            vsom.Self,
		Id:              d.id,
		Datastore:       d.datastore,
		NewCapacityInMB: capacityMB,
	})
	return waitTask(ctx, res)
}

// isThin: CNS creates thin disks; an empty type is vcsim's registered disk.
func isThin(provisioning string) bool {
	return provisioning == "" ||
		provisioning == string(types.BaseConfigInfoDiskFileBackingInfoProvisioningTypeThin)
}
