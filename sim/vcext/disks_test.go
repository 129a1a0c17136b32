package vcext

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vsphere-conformance/vsphere-conformance/sim/loopdisk"
)

// diskEnv is a CNS environment whose first VM is a real node: its by-id
// directory is a temporary one.
type diskEnv struct {
	*cnsEnv
	model *simulator.Model
	store *loopdisk.Store
	byID  string
	node  types.ManagedObjectReference
}

func newDiskEnv(t *testing.T) *diskEnv {
	t.Helper()
	if err := loopdisk.Available(); err != nil {
		t.Skipf("needs real loop devices: %v", err)
	}
	e, model := newCNSEnvModel(t)
	store, err := loopdisk.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := SetDiskStore(model, store); err != nil {
		t.Fatal(err)
	}
	// Registered after the simulator's cleanup, so it runs first: every
	// loop device the test bound is freed by its record.
	t.Cleanup(func() {
		if err := loopdisk.CleanupAll(store.Dir); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	d := &diskEnv{cnsEnv: e, model: model, store: store, byID: filepath.Join(t.TempDir(), "by-id"), node: e.vms[0]}
	if err := store.RegisterNode(vmBIOSUUID(t, model, d.node), d.byID); err != nil {
		t.Fatal(err)
	}
	return d
}

func vmBIOSUUID(t *testing.T, model *simulator.Model, ref types.ManagedObjectReference) string {
	t.Helper()
	vm, ok := model.Map().Get(ref).(*simulator.VirtualMachine)
	if !ok {
		t.Fatalf("VM %s not found", ref.Value)
	}
	return vm.Config.Uuid
}

// attachDevice attaches a volume to the node and checks that the disk UUID
// is the same in the result, the VM's disk and the by-id link, and that the
// link is a block device of the volume's size. It returns the link.
func (d *diskEnv) attachDevice(id string, mb int64) (link, uuid string) {
	d.t.Helper()
	res := d.attach(id, d.node)
	d.ok(res)
	disks := d.volumeDisks(d.node, id)
	if len(disks) != 1 {
		d.t.Fatalf("VM has %d disks of volume %s", len(disks), id)
	}
	backing := disks[0].Backing.(*types.VirtualDiskFlatVer2BackingInfo).Uuid
	if res.DiskUUID == "" || res.DiskUUID != backing {
		d.t.Fatalf("attach DiskUUID %q, VM disk UUID %q", res.DiskUUID, backing)
	}
	want := "wwn-0x" + strings.ToLower(strings.ReplaceAll(backing, "-", ""))
	link = filepath.Join(d.byID, want)
	if got := loopdisk.LinkName(res.DiskUUID); got != want {
		d.t.Fatalf("link name %q, want %q", got, want)
	}
	if size := blockSize(d.t, link); size != mb*mib {
		d.t.Fatalf("%s is %d bytes, want %d", link, size, mb*mib)
	}
	return link, res.DiskUUID
}

func (d *diskEnv) snapshot(id string) string {
	d.t.Helper()
	res := d.ok(d.result(d.cns.CreateSnapshots(d.ctx, []cnstypes.CnsSnapshotCreateSpec{
		{VolumeId: cnstypes.CnsVolumeId{Id: id}, Description: "vcext"},
	})))
	snap, ok := res.(*cnstypes.CnsSnapshotCreateResult)
	if !ok {
		d.t.Fatalf("snapshot result %T", res)
	}
	return snap.Snapshot.SnapshotId.Id
}

func (d *diskEnv) createFromSnapshot(name, volume, snap string, mb int64) cnstypes.BaseCnsVolumeOperationResult {
	d.t.Helper()
	return d.result(d.cns.CreateVolume(d.ctx, []cnstypes.CnsVolumeCreateSpec{{
		Name:       name,
		VolumeType: string(cnstypes.CnsVolumeTypeBlock),
		Datastores: []types.ManagedObjectReference{d.ds},
		BackingObjectDetails: &cnstypes.CnsBlockBackingDetails{
			CnsBackingObjectDetails: cnstypes.CnsBackingObjectDetails{CapacityInMb: mb},
		},
		VolumeSource: &cnstypes.CnsSnapshotVolumeSource{
			VolumeId:   cnstypes.CnsVolumeId{Id: volume},
			SnapshotId: cnstypes.CnsSnapshotId{Id: snap},
		},
	}}))
}

func (d *diskEnv) wantNoFile(what, path string) {
	d.t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		d.t.Errorf("%s: %s still there (%v)", what, path, err)
	}
}

// TestCNSDiskBytes: a volume attached to a real node is a block device that
// keeps its bytes across detach and attach, grows with extend, and whose
// snapshot restores the snapshot's bytes.
func TestCNSDiskBytes(t *testing.T) {
	d := newDiskEnv(t)
	v1, v2 := d.createVolume("pvc-bytes-1", 8), d.createVolume("pvc-bytes-2", 8)

	link1, uuid1 := d.attachDevice(v1, 8)
	link2, uuid2 := d.attachDevice(v2, 8)
	if uuid1 == uuid2 || link1 == link2 {
		t.Fatalf("two volumes share disk UUID %s", uuid1)
	}
	dev1, _ := os.Readlink(link1)
	if dev2, _ := os.Readlink(link2); dev1 == dev2 {
		t.Fatalf("two volumes share %s", dev1)
	}

	first := bytes.Repeat([]byte("first write "), 512)
	writeDevice(t, link1, mib, first)
	d.ok(d.detach(v1, d.node))
	d.wantNoFile("detach", link1)
	if dev, err := d.store.Device(v1); dev != "" || err != nil {
		t.Errorf("detached volume still has device %q (%v)", dev, err)
	}
	again, uuid := d.attachDevice(v1, 8)
	if again != link1 || uuid != uuid1 {
		t.Errorf("re-attach: disk UUID %s, was %s", uuid, uuid1)
	}
	if got := readDevice(t, link1, mib, len(first)); !bytes.Equal(got, first) {
		t.Error("bytes written before detach are gone after re-attach")
	}

	// Online growth: the device has the new size when the task completes.
	d.ok(d.extend(v1, 16))
	if size := blockSize(t, link1); size != 16*mib {
		t.Errorf("device is %d bytes after extend to 16 MB", size)
	}

	snap := d.snapshot(v1)
	writeDevice(t, link1, mib, bytes.Repeat([]byte("after snap "), 512))

	wantFault[*cnstypes.CnsSnapshotNotFoundFault](t, "restore of an unknown snapshot",
		d.createFromSnapshot("pvc-none", v1, "no-such-snapshot", 16))
	wantFault[*types.InvalidArgument](t, "restore into a smaller volume",
		d.createFromSnapshot("pvc-small", v1, snap, 8))

	// Capacity 0 takes the snapshot's size (16 MB, the size at snapshot time).
	restored := d.ok(d.createFromSnapshot("pvc-restored", v1, snap, 0)).GetCnsVolumeOperationResult().VolumeId.Id
	if got := d.fcdObject(restored).Config.CapacityInMB; got != 16 {
		t.Errorf("restored FCD is %d MB, want the snapshot's 16", got)
	}
	link3, uuid3 := d.attachDevice(restored, 16)
	if uuid3 == uuid1 || uuid3 == uuid2 {
		t.Errorf("restored volume reuses disk UUID %s", uuid3)
	}
	if got := readDevice(t, link3, mib, len(first)); !bytes.Equal(got, first) {
		t.Error("restored volume does not hold the snapshot's bytes")
	}

	// Deleting the snapshot removes its bytes; deleting the volume its disk.
	snapFiles, _ := filepath.Glob(filepath.Join(d.store.Dir, "snapshots", "*", snap+".img"))
	if len(snapFiles) != 1 {
		t.Fatalf("snapshot files %v", snapFiles)
	}
	res := d.ok(d.result(d.cns.DeleteSnapshots(d.ctx, []cnstypes.CnsSnapshotDeleteSpec{
		{VolumeId: cnstypes.CnsVolumeId{Id: v1}, SnapshotId: cnstypes.CnsSnapshotId{Id: snap}},
	})))
	if _, ok := res.(*cnstypes.CnsSnapshotDeleteResult); !ok {
		t.Fatalf("delete snapshot result %T", res)
	}
	d.wantNoFile("snapshot delete", snapFiles[0])

	for _, id := range []string{v1, v2, restored} {
		d.ok(d.detach(id, d.node))
		d.ok(d.result(d.cns.DeleteVolume(d.ctx, []cnstypes.CnsVolumeId{{Id: id}}, true)))
		d.wantNoFile("volume delete", d.store.DiskPath(id))
	}
	if entries, _ := os.ReadDir(d.byID); len(entries) != 0 {
		t.Errorf("links left after detaching everything: %v", entries)
	}
}

// TestFCDDeleteRemovesBytes: deleting the FCD itself through the
// VStorageObjectManager removes its bytes too.
func TestFCDDeleteRemovesBytes(t *testing.T) {
	d := newDiskEnv(t)
	id := d.createVolume("pvc-fcd-delete", 4)
	d.attachDevice(id, 4)
	d.ok(d.detach(id, d.node))
	if _, err := os.Stat(d.store.DiskPath(id)); err != nil {
		t.Fatalf("backing file after detach: %v", err)
	}
	task, err := d.fcd.Delete(d.ctx, d.ds, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(d.ctx); err != nil {
		t.Fatal(err)
	}
	d.wantNoFile("FCD delete", d.store.DiskPath(id))
}

// TestCNSDiskNodes: a fake node gets no device; a device that cannot be
// made fails the attach, naming the cause, and leaves the VM without the
// disk.
func TestCNSDiskNodes(t *testing.T) {
	d := newDiskEnv(t)
	fake, broken := d.vms[1], d.vms[2]

	id := d.createVolume("pvc-fake-node", 4)
	d.ok(d.attach(id, fake))
	d.wantNoFile("attach to a fake node", d.store.DiskPath(id))
	d.ok(d.detach(id, fake))

	// A by-id "directory" below a regular file cannot be made.
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.store.RegisterNode(vmBIOSUUID(t, d.model, broken), filepath.Join(notDir, "by-id")); err != nil {
		t.Fatal(err)
	}
	res := d.attach(id, broken)
	wantFault[*cnstypes.CnsFault](t, "attach without a device", res)
	if msg := res.Fault.LocalizedMessage; !strings.Contains(msg, "no block device") {
		t.Errorf("fault %q does not name the cause", msg)
	}
	if n := len(d.volumeDisks(broken, id)); n != 0 {
		t.Errorf("failed attach left %d disks on the VM", n)
	}
	if got := d.fcdObject(id).Config.ConsumerId; len(got) != 0 {
		t.Errorf("failed attach left FCD consumers %v", got)
	}
	if dev, err := d.store.Device(id); dev != "" || err != nil {
		t.Errorf("failed attach left device %q (%v)", dev, err)
	}
}

func blockSize(t *testing.T, link string) int64 {
	t.Helper()
	st, err := os.Stat(link)
	if err != nil {
		t.Fatalf("by-id link: %v", err)
	}
	if st.Mode()&fs.ModeDevice == 0 || st.Mode()&fs.ModeCharDevice != 0 {
		t.Fatalf("%s is not a block device (%s)", link, st.Mode())
	}
	f, err := os.Open(link)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd) // a block device's end is its size
	if err != nil {
		t.Fatal(err)
	}
	return size
}

func writeDevice(t *testing.T, dev string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

func readDevice(t *testing.T, dev string, off int64, n int) []byte {
	t.Helper()
	f, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCNSRestoreSize: without a disk store too, a volume created from a
// snapshot has the snapshot's size, and the snapshot must exist.
func TestCNSRestoreSize(t *testing.T) {
	e := newCNSEnv(t)
	d := &diskEnv{cnsEnv: e, node: e.vms[0]}
	id := d.createVolume("pvc-restore-size", 8)
	d.ok(d.extend(id, 12))
	snap := d.snapshot(id)
	d.ok(d.extend(id, 16)) // later growth is not the snapshot's

	for _, tc := range []struct {
		name   string
		volume string
		snap   string
		mb     int64
		wantMB int64 // 0: a fault is expected
	}{
		{"snapshot size", id, snap, 0, 12},
		{"larger than the snapshot", id, snap, 20, 20},
		{"smaller than the snapshot", id, snap, 8, 0},
		{"unknown snapshot", id, "no-such-snapshot", 12, 0},
		{"snapshot of another volume", "other-volume", snap, 12, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := d.createFromSnapshot("pvc-"+strings.ReplaceAll(tc.name, " ", "-"), tc.volume, tc.snap, tc.mb)
			if tc.wantMB == 0 {
				if res.GetCnsVolumeOperationResult().Fault == nil {
					t.Fatal("created")
				}
				return
			}
			created := d.ok(res).GetCnsVolumeOperationResult().VolumeId.Id
			if got := d.fcdObject(created).Config.CapacityInMB; got != tc.wantMB {
				t.Errorf("FCD is %d MB, want %d", got, tc.wantMB)
			}
		})
	}

	d.ok(d.result(d.cns.DeleteSnapshots(d.ctx, []cnstypes.CnsSnapshotDeleteSpec{
		{VolumeId: cnstypes.CnsVolumeId{Id: id}, SnapshotId: cnstypes.CnsSnapshotId{Id: snap}},
	})))
	wantFault[*cnstypes.CnsSnapshotNotFoundFault](t, "restore of a deleted snapshot",
		d.createFromSnapshot("pvc-deleted-snap", id, snap, 12))
}

// TestVMDestroyFreesDevice: destroying a node VM detaches its volumes, and
// their devices go with them.
func TestVMDestroyFreesDevice(t *testing.T) {
	d := newDiskEnv(t)
	id := d.createVolume("pvc-vm-destroy-bytes", 4)
	link, _ := d.attachDevice(id, 4)
	vm := object.NewVirtualMachine(d.c.Client, d.node)
	for _, op := range []func(context.Context) (*object.Task, error){vm.PowerOff, vm.Destroy} {
		task, err := op(d.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := task.WaitEx(d.ctx); err != nil {
			t.Fatal(err)
		}
	}
	d.wantNoFile("VM destroy", link)
	if dev, err := d.store.Device(id); dev != "" || err != nil {
		t.Errorf("device %q (%v) after its VM was destroyed", dev, err)
	}
	if _, err := os.Stat(d.store.DiskPath(id)); err != nil {
		t.Errorf("the volume's bytes went with the VM: %v", err)
	}
}
