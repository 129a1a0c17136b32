package vcext

import (
	"testing"

	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/crypto"
	pbmsim "github.com/vmware/govmomi/pbm/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// createWithPolicy creates a 1 GiB block volume with a storage policy.
func (e *cnsEnv) createWithPolicy(name, policyID string) cnstypes.BaseCnsVolumeOperationResult {
	e.t.Helper()
	return e.result(e.cns.CreateVolume(e.ctx, []cnstypes.CnsVolumeCreateSpec{{
		Name:       name,
		VolumeType: string(cnstypes.CnsVolumeTypeBlock),
		Datastores: []types.ManagedObjectReference{e.ds},
		Metadata: cnstypes.CnsVolumeMetadata{ContainerCluster: cnstypes.CnsContainerCluster{
			ClusterType: string(cnstypes.CnsClusterTypeKubernetes), ClusterId: "vcext", VSphereUser: "user",
		}},
		BackingObjectDetails: &cnstypes.CnsBlockBackingDetails{
			CnsBackingObjectDetails: cnstypes.CnsBackingObjectDetails{CapacityInMb: 1024},
		},
		Profile: []types.BaseVirtualMachineProfileSpec{&types.VirtualMachineDefinedProfileSpec{ProfileId: policyID}},
	}}))
}

func (e *cnsEnv) fcdKey(id string) *types.CryptoKeyId {
	e.t.Helper()
	return e.fcdObject(id).Config.Backing.(*types.BaseConfigInfoDiskFileBackingInfo).KeyId
}

// registerKMS makes a default KMIP key provider.
func (e *cnsEnv) registerKMS(id string) {
	e.t.Helper()
	km, err := crypto.GetManagerKmip(e.c.Client)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := km.RegisterKmipServer(e.ctx, types.KmipServerSpec{
		ClusterId: types.KeyProviderId{Id: id},
		Info:      types.KmipServerInfo{Name: id + "-0", Address: "kms.invalid", Port: 5696},
	}); err != nil {
		e.t.Fatal(err)
	}
	if err := km.MarkDefault(e.ctx, id); err != nil {
		e.t.Fatal(err)
	}
}

const vsanDefaultPolicy = "aa6d5a82-1c88-45da-85d3-3d74b91a5bad"

func TestCNSEncryptionPolicy(t *testing.T) {
	e := newCNSEnv(t)

	t.Run("no key provider: an encryption policy fails the create", func(t *testing.T) {
		res, err := e.cns.CreateVolume(e.ctx, []cnstypes.CnsVolumeCreateSpec{{
			Name: "no-kms", VolumeType: string(cnstypes.CnsVolumeTypeBlock),
			Datastores: []types.ManagedObjectReference{e.ds},
			BackingObjectDetails: &cnstypes.CnsBlockBackingDetails{
				CnsBackingObjectDetails: cnstypes.CnsBackingObjectDetails{CapacityInMb: 1},
			},
			Profile: []types.BaseVirtualMachineProfileSpec{&types.VirtualMachineDefinedProfileSpec{ProfileId: pbmsim.DefaultEncryptionProfileID}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if err := res.Wait(e.ctx); err == nil {
			t.Fatal("encrypted create without a key provider succeeded")
		}
	})

	e.registerKMS("kms-1")
	vm, other := e.vms[0], e.vms[1]

	plain := e.ok(e.createWithPolicy("plain", vsanDefaultPolicy)).GetCnsVolumeOperationResult().VolumeId.Id
	if k := e.fcdKey(plain); k != nil {
		t.Errorf("volume with a non-encryption policy has key %+v", k)
	}
	e.ok(e.attach(plain, vm))
	e.ok(e.detach(plain, vm))
	e.ok(e.attach(plain, other))
	if k := e.fcdKey(plain); k != nil {
		t.Errorf("plain volume got key %+v after moving", k)
	}

	id := e.ok(e.createWithPolicy("secret", pbmsim.DefaultEncryptionProfileID)).GetCnsVolumeOperationResult().VolumeId.Id
	key := e.fcdKey(id)
	if key == nil || key.KeyId == "" || key.ProviderId == nil || key.ProviderId.Id != "kms-1" {
		t.Fatalf("encrypted volume key %+v, want a key of provider kms-1", key)
	}
	path := e.fcdObject(id).Config.Backing.(*types.BaseConfigInfoDiskFileBackingInfo).FilePath

	// First attach and re-attach to the same VM keep the key; the VM's
	// disk carries it.
	e.ok(e.attach(id, vm))
	if k := e.fcdKey(id); k == nil || k.KeyId != key.KeyId {
		t.Errorf("first attach changed key %+v -> %+v", key, k)
	}
	d := e.volumeDisks(vm, id)[0].Backing.(*types.VirtualDiskFlatVer2BackingInfo)
	if d.KeyId == nil || d.KeyId.KeyId != key.KeyId {
		t.Errorf("VM disk key %+v, want %s", d.KeyId, key.KeyId)
	}
	e.ok(e.detach(id, vm))
	e.ok(e.attach(id, vm))
	if k := e.fcdKey(id); k.KeyId != key.KeyId {
		t.Errorf("re-attach to the same VM changed key %s -> %s", key.KeyId, k.KeyId)
	}
	e.ok(e.detach(id, vm))

	// Moving to another VM re-keys: new key, same provider, same file.
	e.ok(e.attach(id, other))
	moved := e.fcdKey(id)
	if moved == nil || moved.KeyId == key.KeyId || moved.ProviderId == nil || moved.ProviderId.Id != "kms-1" {
		t.Errorf("after moving: key %+v, want a new key of kms-1 (was %s)", moved, key.KeyId)
	}
	if got := e.fcdObject(id).Config.Backing.(*types.BaseConfigInfoDiskFileBackingInfo).FilePath; got != path {
		t.Errorf("backing file %q -> %q", path, got)
	}
	od := e.volumeDisks(other, id)[0].Backing.(*types.VirtualDiskFlatVer2BackingInfo)
	if od.KeyId == nil || moved == nil || od.KeyId.KeyId != moved.KeyId {
		t.Errorf("other VM disk key %+v, want %+v", od.KeyId, moved)
	}
}
