package vcext

import (
	"sync"

	cnsmethods "github.com/vmware/govmomi/cns/methods"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/pbm"
	pbmsim "github.com/vmware/govmomi/pbm/simulator"
	pbmtypes "github.com/vmware/govmomi/pbm/types"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// encryptionDataService is the capability (namespace
// com.vmware.storageprofile.dataservice) of vCenter's VM encryption IO
// filter, the rule of the built-in "VM Encryption Policy".
const (
	dataServiceNamespace  = "com.vmware.storageprofile.dataservice"
	encryptionDataService = "ad5a249d-cbc2-43af-9366-694d7664fa52"
)

type volumeCreator interface {
	CnsCreateVolume(ctx *simulator.Context, req *cnstypes.CnsCreateVolume) soap.HasFault
}

// CnsCreateVolume places a new block volume by its policy's tag rules
// (see placeByPolicy), applies an encryption storage policy and restores
// snapshots. vSphere CNS API reference, CnsVolumeCreateSpec.profile: the
// storage policy is applied to the volume's backing disk; vSphere Web
// Services API reference, VslmCreateSpec.crypto: "If unset and if profile
// contains an encryption iofilter, then crypto will be of type
// CryptoSpecEncrypt, and filled with keyId that is automatically generated
// and keyProviderId that is the default kms cluster". The FCD's backing then
// carries that key (BaseConfigInfoFileBackingInfo.keyId, "key id used to
// encrypt the backing disk"). vcsim records the policy ID only and never
// encrypts. A spec whose volumeSource is a CnsSnapshotVolumeSource gets the
// snapshot's size and bytes (see checkRestore); vcsim ignores the source.
func (m *volumeManager) CnsCreateVolume(ctx *simulator.Context, req *cnstypes.CnsCreateVolume) soap.HasFault {
	vctx := ctx.For(vim25.Path)
	if refused := placeByPolicy(vctx, req); refused != nil {
		task := simulator.CreateTask(extendedCreates, "CnsCreateVolume", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
			return createFault(refused), nil
		})
		return &cnsmethods.CnsCreateVolumeBody{
			Res: &cnstypes.CnsCreateVolumeResponse{Returnval: task.Run(vctx)},
		}
	}
	encrypt := len(req.CreateSpecs) == 1 && isBlockCreate(req.CreateSpecs[0]) &&
		profileEncrypts(ctx, req.CreateSpecs[0].Profile)
	src := snapshotSource(req)
	if !encrypt && src == nil {
		return m.base.(volumeCreator).CnsCreateVolume(ctx, req)
	}
	task := simulator.CreateTask(extendedCreates, "CnsCreateVolume", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		if src != nil {
			if lf := checkRestore(vctx, &req.CreateSpecs[0], src); lf != nil {
				return createFault(lf), nil
			}
		}
		var key types.CryptoKeyId
		if encrypt {
			var fault types.BaseMethodFault
			if key, fault = generateKey(vctx); fault != nil {
				// No default key provider: vCenter cannot encrypt, so it
				// refuses the disk rather than leave it in the clear.
				return nil, fault
			}
		}
		// The simulator's own create, inside this task so the key and the
		// bytes are there before the client sees the result. It runs its
		// own task on the CNS manager under a context it clones, which is
		// why this task locks extendedCreates and not the manager (that
		// would deadlock).
		result, lf := runTask(vctx, m.base.(volumeCreator).CnsCreateVolume(vctx, req))
		if lf != nil {
			return nil, lf.Fault
		}
		batch, ok := result.(*cnstypes.CnsVolumeOperationBatchResult)
		if !ok {
			return result, nil
		}
		for i, r := range batch.VolumeResults {
			op := r.GetCnsVolumeOperationResult()
			if op.Fault != nil || op.VolumeId.Id == "" {
				continue
			}
			disk := findFCD(vctx, op.VolumeId.Id)
			if disk == nil {
				continue
			}
			if encrypt {
				setFCDKey(vctx, disk, key)
			}
			if src == nil {
				continue
			}
			if err := restoreBytes(vctx, src, disk.id.Id, disk.capacityMB); err != nil {
				// No volume without its snapshot's bytes: undo the create.
				m.undoCreate(vctx, op.VolumeId)
				batch.VolumeResults[i] = createResult(cnsFault("volume from snapshot %s: restoring its bytes failed: %v",
					src.SnapshotId.Id, err))
			}
		}
		return batch, nil
	})
	return &cnsmethods.CnsCreateVolumeBody{
		Res: &cnstypes.CnsCreateVolumeResponse{Returnval: task.Run(vctx)},
	}
}

// createFault is a create's batch result carrying one volume's fault.
func createFault(f *types.LocalizedMethodFault) *cnstypes.CnsVolumeOperationBatchResult {
	return &cnstypes.CnsVolumeOperationBatchResult{VolumeResults: []cnstypes.BaseCnsVolumeOperationResult{createResult(f)}}
}

func createResult(f *types.LocalizedMethodFault) *cnstypes.CnsVolumeCreateResult {
	return &cnstypes.CnsVolumeCreateResult{CnsVolumeOperationResult: cnstypes.CnsVolumeOperationResult{Fault: f}}
}

// undoCreate deletes a volume just created, with its disk and bytes.
func (m *volumeManager) undoCreate(ctx *simulator.Context, id cnstypes.CnsVolumeId) {
	if del, ok := m.base.(volumeDeleter); ok {
		_, _ = runTask(ctx, del.CnsDeleteVolume(ctx, &cnstypes.CnsDeleteVolume{
			This: m.Reference(), VolumeIds: []cnstypes.CnsVolumeId{id}, DeleteDisk: true,
		}))
	}
	deleteBytes(ctx, id.Id)
}

// taskEntity is what an extension's task locks when it cannot lock the
// object it serves.
type taskEntity types.ManagedObjectReference

func (e taskEntity) Reference() types.ManagedObjectReference { return types.ManagedObjectReference(e) }

// extendedCreates serializes the creates this file extends (encrypted, or
// from a snapshot) with each other.
var extendedCreates = taskEntity{Type: "CnsVolumeManager", Value: "vcext-extended-create"}

// isBlockCreate: only new block volumes get a disk of their own; a volume
// over an existing disk (BackingDiskId) keeps that disk as it is.
func isBlockCreate(spec cnstypes.CnsVolumeCreateSpec) bool {
	d, ok := spec.BackingObjectDetails.(*cnstypes.CnsBlockBackingDetails)
	return ok && d.BackingDiskId == "" && d.BackingDiskUrlPath == ""
}

// profileEncrypts reports whether a policy in profiles has the VM encryption
// data service among its rules (vSphere Storage Policy API,
// PbmProfileProfileManager.PbmRetrieveContent: the profile's constraints).
func profileEncrypts(ctx *simulator.Context, profiles []types.BaseVirtualMachineProfileSpec) bool {
	for _, p := range profiles {
		spec, ok := p.(*types.VirtualMachineDefinedProfileSpec)
		if !ok || spec.ProfileId == "" {
			continue
		}
		if prof, ok := retrieveProfile(ctx, spec.ProfileId); ok && hasEncryptionRule(prof) {
			return true
		}
	}
	return false
}

// pbmProfileManager is PBM's profile manager moref.
func pbmProfileManager(r *simulator.Registry) *types.ManagedObjectReference {
	ref := types.ManagedObjectReference{Type: "PbmProfileProfileManager", Value: "ProfileManager"}
	if si, ok := r.Get(pbm.ServiceInstance).(*pbmsim.ServiceInstance); ok {
		ref = si.Content.ProfileManager
	}
	return &ref
}

func hasEncryptionRule(p pbmtypes.BasePbmProfile) bool {
	cp, ok := p.(*pbmtypes.PbmCapabilityProfile)
	if !ok {
		return false
	}
	sub, ok := cp.Constraints.(*pbmtypes.PbmCapabilitySubProfileConstraints)
	if !ok {
		return false
	}
	for _, s := range sub.SubProfiles {
		for _, c := range s.Capability {
			if c.Id.Namespace == dataServiceNamespace && c.Id.Id == encryptionDataService {
				return true
			}
		}
	}
	return false
}

// generateKey asks the default key provider for a new key (vSphere Web
// Services API, CryptoManagerKmip.GenerateKey with no keyProvider: the
// default one).
func generateKey(ctx *simulator.Context) (types.CryptoKeyId, types.BaseMethodFault) {
	cm := ctx.Map.CryptoManager()
	var body soap.HasFault
	ctx.WithLock(cm, func() {
		body = cm.GenerateKey(ctx, &types.GenerateKey{This: cm.Self})
	})
	res, ok := body.(*methods.GenerateKeyBody)
	if !ok || res.Res == nil || !res.Res.Returnval.Success {
		reason := "no default key provider"
		if f := body.Fault(); f != nil && f.String != "" {
			reason = f.String
		}
		return types.CryptoKeyId{}, &types.InvalidState{
			VimFault: types.VimFault{MethodFault: types.MethodFault{
				FaultMessage: []types.LocalizableMessage{{Key: "vcext.crypto", Message: reason}},
			}},
		}
	}
	return res.Res.Returnval.KeyId, nil
}

// setFCDKey records the key the disk is encrypted with in the FCD's backing.
func setFCDKey(ctx *simulator.Context, d *fcd, key types.CryptoKeyId) {
	vsom := ctx.Map.VStorageObjectManager()
	ctx.WithLock(vsom, func() {
		obj, ok := vsom.Catalog()[d.datastore][d.id]
		if !ok {
			return
		}
		if b, ok := obj.Config.Backing.(*types.BaseConfigInfoDiskFileBackingInfo); ok {
			k := key
			b.KeyId = &k
		}
	})
	d.key = &key
}

// lastVMs remembers, per vim25 registry, the VM each encrypted disk was
// last attached to: detach clears the FCD's consumer, but a re-key is due
// only when the disk then moves to another VM.
var lastVMs sync.Map // *simulator.Registry -> *diskVMs

type diskVMs struct {
	mu sync.Mutex
	vm map[string]types.ManagedObjectReference // disk ID -> VM
}

func lastVM(r *simulator.Registry) *diskVMs {
	v, _ := lastVMs.LoadOrStore(r, &diskVMs{vm: map[string]types.ManagedObjectReference{}})
	return v.(*diskVMs)
}

// keyForAttach returns the key an encrypted disk has once attached to vm:
// attaching it to a VM other than the last one it was attached to re-keys
// it with a new key of the default provider (a shallow re-key, vSphere Web
// Services API CryptoSpecShallowRecrypt: new key, same disk file), so a
// disk moved to another VM no longer opens with its previous key. The
// volume ID and the vmdk stay the same. nil for a disk in the clear.
func keyForAttach(ctx *simulator.Context, d *fcd, vm types.ManagedObjectReference) (*types.CryptoKeyId, *types.LocalizedMethodFault) {
	if d.key == nil {
		return nil, nil
	}
	last := lastVM(ctx.Map)
	last.mu.Lock()
	prev, seen := last.vm[d.id.Id]
	last.mu.Unlock()
	if seen && prev != vm {
		key, fault := generateKey(ctx)
		if fault != nil {
			return nil, opFault(fault, "re-key of disk %s: no key from the default key provider", d.id.Id)
		}
		setFCDKey(ctx, d, key)
	}
	return d.key, nil
}

// attachedTo records the VM an encrypted disk is now attached to.
func attachedTo(ctx *simulator.Context, d *fcd, vm types.ManagedObjectReference) {
	if d.key == nil {
		return
	}
	last := lastVM(ctx.Map)
	last.mu.Lock()
	last.vm[d.id.Id] = vm
	last.mu.Unlock()
}
