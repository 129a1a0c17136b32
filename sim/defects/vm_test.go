package defects_test

import (
	"fmt"
	"strings"
	"testing"

	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vsphere-conformance/vsphere-conformance/sim/defects"
)

func (e *ncEnv) nodeVM() *object.VirtualMachine {
	e.t.Helper()
	vm, err := e.finder.VirtualMachine(e.ctx, e.s.Nodes()[0].Name)
	if err != nil {
		e.t.Fatal(err)
	}
	return vm
}

func (e *ncEnv) wait(task *object.Task, err error) {
	e.t.Helper()
	if err == nil {
		err = task.Wait(e.ctx)
	}
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *ncEnv) powerState(vm *object.VirtualMachine) types.VirtualMachinePowerState {
	e.t.Helper()
	state, err := vm.PowerState(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return state
}

func TestRegisterCopiesVMDK(t *testing.T) {
	for _, tc := range []struct {
		defect string
		copied bool
	}{{"", false}, {"register-copies-vmdk", true}} {
		t.Run("defect="+tc.defect, func(t *testing.T) {
			e := ncStart(t, tc.defect)
			dir := "[ds-zone-a] kubevols"
			path := dir + "/legacy.vmdk"
			if err := object.NewFileManager(e.vim).MakeDirectory(e.ctx, dir, e.dc, true); err != nil {
				t.Fatal(err)
			}
			vdm := object.NewVirtualDiskManager(e.vim)
			e.wait(vdm.CreateVirtualDisk(e.ctx, path, e.dc, &types.FileBackedVirtualDiskSpec{
				VirtualDiskSpec: types.VirtualDiskSpec{AdapterType: "lsiLogic", DiskType: "thin"}, CapacityKb: 1024 * 1024,
			}))
			spec := e.blockSpec("legacy", 0)
			spec.Datastores = nil
			spec.BackingObjectDetails = &cnstypes.CnsBlockBackingDetails{
				BackingDiskUrlPath: "https://vc.example/folder/kubevols/legacy.vmdk?dcPath=DC0&dsName=ds-zone-a",
			}
			id := e.createVolume(spec)
			obj, err := e.vslm.Retrieve(e.ctx, e.ds, id)
			if err != nil {
				t.Fatal(err)
			}
			got := obj.Config.Backing.(*types.BaseConfigInfoDiskFileBackingInfo).FilePath
			if moved := got != path; moved != tc.copied {
				t.Errorf("registered volume %s is backed by %s (the vmdk: %s); copied %t, want %t", id, got, path, moved, tc.copied)
			}
			if tc.copied && !strings.HasPrefix(got, "[ds-zone-a] fcd/") {
				t.Errorf("copy at %s, want it in the fcd folder", got)
			}
			if obj.Config.CapacityInMB != 1024 {
				t.Errorf("registered disk is %d MB, want the vmdk's 1024", obj.Config.CapacityInMB)
			}
		})
	}
}

func TestPowerOffDoesNothing(t *testing.T) {
	e := ncStart(t, "poweroff-does-nothing")
	vm := e.nodeVM()
	e.wait(vm.PowerOff(e.ctx))
	if s := e.powerState(vm); s != types.VirtualMachinePowerStatePoweredOn {
		t.Errorf("VM %s is %s after a successful power-off; the defect keeps it poweredOn", vm.Name(), s)
	}
}

func TestDestroyDoesNothing(t *testing.T) {
	e := ncStart(t, "destroy-does-nothing")
	vm := e.nodeVM()
	uuid := e.s.Nodes()[0].BIOSUUID
	e.wait(vm.PowerOff(e.ctx))
	e.wait(vm.Destroy(e.ctx))
	found, err := object.NewSearchIndex(e.vim).FindByUuid(e.ctx, e.dc, uuid, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if found == nil {
		t.Errorf("VM %s is gone; the defect keeps it", uuid)
	}
	// Other entities are still destroyed.
	f, err := e.finder.Folder(e.ctx, "vm")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := f.CreateFolder(e.ctx, "defects-gone")
	if err != nil {
		t.Fatal(err)
	}
	e.wait(sub.Destroy(e.ctx))
	if _, err := e.finder.Folder(e.ctx, "vm/defects-gone"); err == nil {
		t.Error("a destroyed folder is still there")
	}
}

func TestDestroyDeletesAttachedFCD(t *testing.T) {
	for _, tc := range []struct {
		defect string
		kept   bool
	}{{"", true}, {"destroy-deletes-attached-fcd", false}} {
		t.Run("defect="+tc.defect, func(t *testing.T) {
			e := ncStart(t, tc.defect)
			vm := e.nodeVM()
			id := e.createVolume(e.blockSpec("pvc-destroyed-vm", 64))
			e.ok(e.result(e.cns.AttachVolume(e.ctx, []cnstypes.CnsVolumeAttachDetachSpec{
				{VolumeId: cnstypes.CnsVolumeId{Id: id}, Vm: vm.Reference()},
			})))
			e.wait(vm.PowerOff(e.ctx))
			e.wait(vm.Destroy(e.ctx))
			_, err := e.vslm.Retrieve(e.ctx, e.ds, id)
			if kept := err == nil; kept != tc.kept {
				t.Errorf("FCD %s kept after its VM was destroyed: %t, want %t (retrieve: %v)", id, kept, tc.kept, err)
			}
			// A VM without FCDs is destroyed all the same.
			other, err := e.finder.VirtualMachine(e.ctx, e.s.Nodes()[1].Name)
			if err != nil {
				t.Fatal(err)
			}
			e.wait(other.PowerOff(e.ctx))
			e.wait(other.Destroy(e.ctx))
			if _, err := e.finder.VirtualMachine(e.ctx, e.s.Nodes()[1].Name); err == nil {
				t.Errorf("VM %s is still there after its destroy", e.s.Nodes()[1].Name)
			}
		})
	}
}

// TestSymptomsNameCatcherFailures: each profile's Symptom matches the
// failure message its catcher spec gives (formatted as the spec does, with
// Gomega's layout), and not a plain timeout.
func TestSymptomsNameCatcherFailures(t *testing.T) {
	for name, msg := range map[string]string{
		"snapshot-delete-does-nothing": "CNS snapshot 5f1c is still on volume 9a2b\nExpected\n    <[]string | len:1>: [\"5f1c\"]\nnot to contain element matching\n    <string>: 5f1c",
		"snapshot-delete-cns-only":     "FCD 9a2b still lists snapshot 5f1c in its VSLM snapshot list after the CNS snapshot was deleted\nExpected ...",
		"restore-ignores-snapshot": "reading the payload in the volume restored from the snapshot snap\nUnexpected error:\n    <*errors.errorString>: data pod ns/reader on node node-a1 exited 1: " +
			"sha256sum: can't open '/data/restored/payload': No such file or directory",
		"file-share-read-only":       "net permissions of share pvc-1 are [*:READ_ONLY:root], want every client read-write, root included\nExpected ...",
		"file-share-no-access-point": "file share pvc-1 of volume file:1 has no NFSv4.1 access point: [{Key:NFSv3 Value:10.0.1.10:/pvc-1}]\nExpected\n    <string>: \nnot to be empty",
		"file-delete-leaves-share":   "file share pvc-1 still exists after its claim was deleted\nExpected\n    <*types.VsanFileShare | 0xc0>: {...}\nto be nil",
		"register-copies-vmdk":       "the volume's disk file moved: FCD 9a2b is backed by [ds] fcd/x-copy.vmdk, not the registered vmdk [ds] kubevols/x.vmdk\nExpected ...",
		"poweroff-does-nothing":      "vCenter still reports VM vsconform-fake-1 powered on\nExpected\n    <bool>: true\nto be false",
		"destroy-does-nothing":       "vCenter still finds VM vsconform-ab12c (vm-61, BIOS UUID 4211-ab) after its Destroy task succeeded",
		"destroy-deletes-attached-fcd": "FCD 9a2b of claim ns/data is gone after its node VM vsconform-fake-1 was destroyed\n" +
			"Unexpected error:\n    <*errors.errorString>: FCD 9a2b: not found",
	} {
		p, ok := defects.Lookup(name)
		if !ok {
			t.Errorf("no profile %s", name)
			continue
		}
		if !p.Matches(msg) {
			t.Errorf("%s: symptom %q does not match its catcher's failure %q", name, p.Symptom, msg)
		}
		if p.Matches(fmt.Sprintf("timed out after 2m0s waiting for %s", name)) {
			t.Errorf("%s: symptom %q matches a plain timeout", name, p.Symptom)
		}
		if p.Breaks == "" {
			t.Errorf("%s: no Breaks", name)
		}
	}
}
