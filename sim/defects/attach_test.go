package defects_test

import (
	"fmt"

	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

func (e *env) attach(id, vm string) {
	e.t.Helper()
	task, err := e.cns.AttachVolume(e.ctx, []cnstypes.CnsVolumeAttachDetachSpec{{VolumeId: cnstypes.CnsVolumeId{Id: id}, Vm: e.vm[vm]}})
	e.done("attach "+id+" to "+vm, task, err)
}

func (e *env) detach(id, vm string) {
	e.t.Helper()
	task, err := e.cns.DetachVolume(e.ctx, []cnstypes.CnsVolumeAttachDetachSpec{{VolumeId: cnstypes.CnsVolumeId{Id: id}, Vm: e.vm[vm]}})
	e.done("detach "+id+" from "+vm, task, err)
}

// disk is the VM's VirtualDisk backed by FCD id, read from
// config.hardware.device; nil if none.
func (e *env) disk(vm, id string) *types.VirtualDisk {
	e.t.Helper()
	devices, err := object.NewVirtualMachine(e.vc, e.vm[vm]).Device(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, dev := range devices.SelectByType((*types.VirtualDisk)(nil)) {
		if d := dev.(*types.VirtualDisk); d.VDiskId != nil && d.VDiskId.Id == id {
			return d
		}
	}
	return nil
}

// holders are the VMs with a disk backed by FCD id.
func (e *env) holders(id string) []string {
	e.t.Helper()
	var out []string
	for name := range e.vm {
		if e.disk(name, id) != nil {
			out = append(out, name)
		}
	}
	return out
}

func (e *env) key(id string) string {
	e.t.Helper()
	obj, _ := e.fcdOn(id)
	if obj == nil {
		e.t.Fatalf("no FCD %s", id)
	}
	if k := obj.Config.Backing.(*types.BaseConfigInfoDiskFileBackingInfo).KeyId; k != nil {
		return k.KeyId
	}
	return ""
}

var attachCases = []defectCase{
	{
		profile: "attach-adds-no-disk",
		check: func(e *env, name string) (bool, string) {
			id := e.create(name, createOpts{})
			e.attach(id, "node-a1")
			return e.disk("node-a1", id) == nil, fmt.Sprint("disk on VMs ", e.holders(id))
		},
		sample: "VM node-b1 has no disk backed by FCD 0b7d8b34\nExpected\n    <[]string | len:0>: nil\nto contain element matching\n    <string>: 0b7d8b34",
	},
	{
		profile: "detach-leaves-disk",
		check: func(e *env, name string) (bool, string) {
			id := e.create(name, createOpts{})
			e.attach(id, "node-a1")
			if e.disk("node-a1", id) == nil {
				e.t.Fatalf("attach added no disk")
			}
			e.detach(id, "node-a1")
			return e.disk("node-a1", id) != nil, fmt.Sprint("disk on VMs ", e.holders(id), " after detach")
		},
		sample: "VM node-a3 still has FCD 0b7d8b34 after detach\nExpected\n    <[]string | len:1>: [\"0b7d8b34\"]\nnot to contain element matching\n    <string>: 0b7d8b34",
	},
	{
		profile: "attach-wrong-vm",
		check: func(e *env, name string) (bool, string) {
			id := e.create(name, createOpts{})
			e.attach(id, "node-a3")
			h := e.holders(id)
			return e.disk("node-a3", id) == nil && len(h) == 1, fmt.Sprint("disk on VMs ", h, ", asked node-a3")
		},
		sample: "VM node-b1 has no disk backed by FCD 0b7d8b34\nExpected\n    <[]string | len:0>: nil\nto contain element matching\n    <string>: 0b7d8b34",
	},
	{
		profile: "encryption-ignored",
		check: func(e *env, name string) (bool, string) {
			id := e.create(name, createOpts{policy: encryption})
			v := e.volume(id)
			return v.StoragePolicyId == encryption && e.key(id) == "", fmt.Sprintf("policy %q, FCD key %q", v.StoragePolicyId, e.key(id))
		},
		sample: `FCD 0b7d8b34 of a volume with policy "VM Encryption Policy" is not encrypted (no backing keyId)` + "\nExpected\n    <*types.CryptoKeyId | 0x0>: nil\nnot to be nil",
	},
	{
		profile: "no-rekey-on-move",
		check: func(e *env, name string) (bool, string) {
			id := e.create(name, createOpts{policy: encryption})
			e.attach(id, "node-a1")
			first := e.key(id)
			e.detach(id, "node-a1")
			e.attach(id, "node-a2")
			second := e.key(id)
			d := e.disk("node-a2", id)
			if first == "" || d == nil {
				e.t.Fatalf("not encrypted (%q) or not attached to node-a2 (%v)", first, e.holders(id))
			}
			diskKey := ""
			if b, ok := d.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok && b.KeyId != nil {
				diskKey = b.KeyId.KeyId
			}
			return second == first && diskKey == first, fmt.Sprintf("key %q on node-a1, %q on node-a2 (VM disk %q)", first, second, diskKey)
		},
		sample: "FCD 0b7d8b34 kept key 5a3e after moving from node-a1 to node-a2: not re-keyed\nExpected\n    <string>: 5a3e\nnot to equal\n    <string>: 5a3e",
	},
}
