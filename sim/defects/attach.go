package defects

import (
	"sort"

	cnsmethods "github.com/vmware/govmomi/cns/methods"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// attachProfiles: defects of attaching block volumes to VMs and of their
// encryption.
var attachProfiles = []Profile{
	{
		Name: "attach-adds-no-disk",
		Breaks: "vSphere CNS API reference, CnsVolumeManager.CnsAttachVolume: the volume's disk is attached to " +
			"the VM (a VirtualDisk whose vDiskId is the FCD ID); here the task succeeds with a disk UUID and the VM gets no disk.",
		Symptom: `VM \S+ has no disk backed by FCD`,
		install: onCNS("CnsAttachVolume", func(ctx *simulator.Context, req any, _ func() soap.HasFault) soap.HasFault {
			var results []cnstypes.BaseCnsVolumeOperationResult
			for _, spec := range req.(*cnstypes.CnsAttachVolume).AttachSpecs {
				results = append(results, &cnstypes.CnsVolumeAttachResult{
					CnsVolumeOperationResult: cnstypes.CnsVolumeOperationResult{VolumeId: spec.VolumeId},
					DiskUUID:                 phantomDiskUUID,
				})
			}
			return &cnsmethods.CnsAttachVolumeBody{Res: &cnstypes.CnsAttachVolumeResponse{
				Returnval: succeed(ctx, "CnsAttachVolume", results),
			}}
		}),
	},
	{
		Name: "detach-leaves-disk",
		Breaks: "vSphere CNS API reference, CnsVolumeManager.CnsDetachVolume: the volume's disk is removed from " +
			"the VM (the FCD is kept); here the task succeeds and the disk stays on the VM.",
		Symptom: `VM \S+ still has FCD \S+ after (the )?detach|FCD \S+ of the scaled-down replica is still on a VM`,
		install: onCNS("CnsDetachVolume", func(ctx *simulator.Context, req any, _ func() soap.HasFault) soap.HasFault {
			var ids []cnstypes.CnsVolumeId
			for _, spec := range req.(*cnstypes.CnsDetachVolume).DetachSpecs {
				ids = append(ids, spec.VolumeId)
			}
			return &cnsmethods.CnsDetachVolumeBody{Res: &cnstypes.CnsDetachVolumeResponse{
				Returnval: succeed(ctx, "CnsDetachVolume", plainResults(ids)),
			}}
		}),
	},
	{
		Name: "attach-wrong-vm",
		Breaks: "vSphere CNS API reference, CnsVolumeAttachDetachSpec.vm: the VM the volume is attached to; " +
			"here the disk is added to another VM that can reach the datastore.",
		Symptom: `VM \S+ has no disk backed by FCD`,
		install: onCNS("CnsAttachVolume", func(ctx *simulator.Context, req any, next func() soap.HasFault) soap.HasFault {
			vctx := ctx.For(vim25.Path)
			specs := req.(*cnstypes.CnsAttachVolume).AttachSpecs
			for i := range specs {
				if vm, ok := otherVM(vctx, specs[i].Vm, fcdDatastore(vctx, specs[i].VolumeId.Id)); ok {
					specs[i].Vm = vm
				}
			}
			return next()
		}),
	},
	{
		Name: "encryption-ignored",
		Breaks: "vSphere Web Services API reference, VslmCreateSpec.crypto: with a profile that contains an " +
			"encryption IO filter the disk is encrypted with a generated key (BaseConfigInfoFileBackingInfo.keyId); " +
			"here a volume of the encryption policy gets a disk in the clear.",
		Symptom: `FCD \S+ (of a volume with policy|of policy) "[^"]*" is not encrypted`,
		install: onCNS("CnsCreateVolume", func(ctx *simulator.Context, req any, next func() soap.HasFault) soap.HasFault {
			body := next()
			batch := awaitBatch(ctx, body)
			if batch == nil {
				return body
			}
			vctx := ctx.For(vim25.Path)
			for _, r := range batch.VolumeResults {
				if op := r.GetCnsVolumeOperationResult(); op.Fault == nil && op.VolumeId.Id != "" {
					setFCDKey(vctx, op.VolumeId.Id, nil)
				}
			}
			return body
		}),
	},
	{
		Name: "no-rekey-on-move",
		Breaks: "vSphere Web Services API reference, CryptoSpecShallowRecrypt: an encrypted disk that moves to " +
			"another VM is re-keyed with a new key of the default key provider; here it keeps its previous key.",
		Symptom: `FCD \S+ kept key \S+ after moving .*not re-keyed`,
		install: onCNS("CnsAttachVolume", func(ctx *simulator.Context, req any, next func() soap.HasFault) soap.HasFault {
			vctx := ctx.For(vim25.Path)
			specs := req.(*cnstypes.CnsAttachVolume).AttachSpecs
			before := map[string]*types.CryptoKeyId{}
			for _, s := range specs {
				before[s.VolumeId.Id] = fcdKey(vctx, s.VolumeId.Id)
			}
			body := next()
			if awaitBatch(ctx, body) == nil {
				return body
			}
			for _, s := range specs {
				old, now := before[s.VolumeId.Id], fcdKey(vctx, s.VolumeId.Id)
				if old == nil || now == nil || *old == *now {
					continue
				}
				// Undo the re-key: the FCD and the VM's disk keep the old key.
				setFCDKey(vctx, s.VolumeId.Id, old)
				setVMDiskKey(vctx, s.Vm, s.VolumeId.Id, old)
			}
			return body
		}),
	},
}

// phantomDiskUUID is what attach-adds-no-disk reports: vcsim's own
// constant attach UUID, the UUID of no disk.
const phantomDiskUUID = "6000c298595bf4575739e9105b2c0c2d"

// fcdObject runs f on the first class disk with this ID in vcsim's
// catalog, under the VStorageObjectManager's lock (its tasks change the
// catalog holding it); false when there is none.
func fcdObject(ctx *simulator.Context, id string, f func(ds types.ManagedObjectReference, obj *types.VStorageObject)) bool {
	vsom := ctx.Map.VStorageObjectManager()
	found := false
	ctx.WithLock(vsom, func() {
		for ds, objs := range vsom.Catalog() {
			if obj, ok := objs[types.ID{Id: id}]; ok {
				f(ds, &obj.VStorageObject)
				found = true
				return
			}
		}
	})
	return found
}

// fcdDatastore is the datastore of a first class disk, zero if none.
func fcdDatastore(ctx *simulator.Context, id string) types.ManagedObjectReference {
	var out types.ManagedObjectReference
	fcdObject(ctx, id, func(ds types.ManagedObjectReference, _ *types.VStorageObject) { out = ds })
	return out
}

// fcdKey is the key of the FCD's backing (nil: in the clear or no FCD).
func fcdKey(ctx *simulator.Context, id string) *types.CryptoKeyId {
	var out *types.CryptoKeyId
	fcdObject(ctx, id, func(_ types.ManagedObjectReference, obj *types.VStorageObject) {
		if b, ok := obj.Config.Backing.(*types.BaseConfigInfoDiskFileBackingInfo); ok && b.KeyId != nil {
			k := *b.KeyId
			out = &k
		}
	})
	return out
}

// setFCDKey sets (nil: clears) the key of the FCD's backing.
func setFCDKey(ctx *simulator.Context, id string, key *types.CryptoKeyId) {
	fcdObject(ctx, id, func(_ types.ManagedObjectReference, obj *types.VStorageObject) {
		if b, ok := obj.Config.Backing.(*types.BaseConfigInfoDiskFileBackingInfo); ok {
			if key == nil {
				b.KeyId = nil
			} else {
				k := *key
				b.KeyId = &k
			}
		}
	})
}

// setVMDiskKey sets the key of the VM's disk backed by FCD id.
func setVMDiskKey(ctx *simulator.Context, ref types.ManagedObjectReference, id string, key *types.CryptoKeyId) {
	vm, ok := ctx.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return
	}
	ctx.WithLock(vm, func() {
		if vm.Config == nil {
			return
		}
		for _, dev := range vm.Config.Hardware.Device {
			d, ok := dev.(*types.VirtualDisk)
			if !ok || d.VDiskId == nil || d.VDiskId.Id != id {
				continue
			}
			if b, ok := d.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
				k := *key
				b.KeyId = &k
			}
		}
	})
}

// otherVM picks, by name, a VM other than vm whose host mounts ds (any
// datastore when ds is zero), so the misdirected attach itself succeeds.
func otherVM(ctx *simulator.Context, vm, ds types.ManagedObjectReference) (types.ManagedObjectReference, bool) {
	type candidate struct {
		ref  types.ManagedObjectReference
		name string
	}
	var cs []candidate
	for _, e := range ctx.Map.All("VirtualMachine") {
		v, ok := e.(*simulator.VirtualMachine)
		if !ok || v.Self.Value == vm.Value { // by value: a client's moref may carry a serverGuid
			continue
		}
		var name string
		var host *types.ManagedObjectReference
		ctx.WithLock(v, func() { name, host = v.Name, v.Runtime.Host })
		if ds.Value != "" && (host == nil || !mounts(ctx, *host, ds)) {
			continue
		}
		cs = append(cs, candidate{v.Self, name})
	}
	if len(cs) == 0 {
		return types.ManagedObjectReference{}, false
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	return cs[0].ref, true
}

// mounts says whether the host mounts the datastore.
func mounts(ctx *simulator.Context, host, ds types.ManagedObjectReference) bool {
	h, ok := ctx.Map.Get(host).(*simulator.HostSystem)
	if !ok {
		return false
	}
	seen := false
	ctx.WithLock(h, func() {
		for _, ref := range h.Datastore {
			if ref == ds {
				seen = true
			}
		}
	})
	return seen
}
