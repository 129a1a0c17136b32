package loopdisk

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

const (
	mib     = int64(1 << 20)
	vmUUID  = "4211F2A4-5B6C-7D8E-9FA0-B1C2D3E4F506" // upper case on purpose: stored lower
	vmOther = "4211f2a4-5b6c-7d8e-9fa0-b1c2d3e4f507"
)

func TestDisabledStoreIsNoOp(t *testing.T) {
	for name, s := range map[string]*Store{"nil": nil, "empty dir": {}} {
		t.Run(name, func(t *testing.T) {
			calls := map[string]error{
				"RegisterNode":   s.RegisterNode(vmUUID, "/x"),
				"UnregisterNode": s.UnregisterNode(vmUUID),
				"Attach":         s.Attach(vmUUID, "fcd", "6000C298-595B", mib),
				"Detach":         s.Detach("fcd"),
				"Extend":         s.Extend("fcd", 2*mib),
				"Snapshot":       s.Snapshot("fcd", "snap"),
				"Restore":        s.Restore("snap", "fcd2"),
				"DeleteSnapshot": s.DeleteSnapshot("snap"),
				"Delete":         s.Delete("fcd"),
			}
			for call, err := range calls {
				if err != nil {
					t.Errorf("%s: %v", call, err)
				}
			}
			if dev, err := s.Device("fcd"); dev != "" || err != nil {
				t.Errorf("Device: %q, %v", dev, err)
			}
		})
	}
	if err := CleanupAll(""); err != nil {
		t.Errorf("CleanupAll(\"\"): %v", err)
	}
	if err := CleanupAll(filepath.Join(t.TempDir(), "missing")); err != nil {
		t.Errorf("CleanupAll(missing dir): %v", err)
	}
}

// TestRejectsUnsafeNames: IDs become file names under Dir; none may escape
// it or act as a glob.
func TestRejectsUnsafeNames(t *testing.T) {
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterNode(vmUUID, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"empty FCD", func() error { return s.Attach(vmUUID, "", "6000c298", mib) }},
		{"FCD with slash", func() error { return s.Detach("a/b") }},
		{"FCD parent", func() error { return s.Delete("..") }},
		{"dot FCD", func() error { return s.Extend(".hidden", mib) }},
		{"glob snapshot", func() error { return s.Restore("*", "fcd") }},
		{"snapshot with slash", func() error { return s.Snapshot("fcd", "../x") }},
		{"VM UUID with slash", func() error { return s.RegisterNode("../vm", "/x") }},
		{"relative by-id dir", func() error { return s.RegisterNode(vmOther, "dev/disk/by-id") }},
		{"disk UUID not hex", func() error { return s.Attach(vmUUID, "fcd", "not-a-uuid", mib) }},
		{"empty disk UUID", func() error { return s.Attach(vmUUID, "fcd", " - ", mib) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestLinkName(t *testing.T) {
	for in, want := range map[string]string{
		"6000C298-595B-F457-5739-E9105B2C0C2D":      "wwn-0x6000c298595bf4575739e9105b2c0c2d",
		"60 00 C2 98 59 5b f4 57-57 39 e9 10 5b 2c": "wwn-0x6000c298595bf4575739e9105b2c",
		"6000c298595bf4575739e9105b2c0c2d":          "wwn-0x6000c298595bf4575739e9105b2c0c2d",
	} {
		if got := LinkName(in); got != want {
			t.Errorf("LinkName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFakeNodeGetsNothing: a VM without a nodes/ file is a kwok node.
func TestFakeNodeGetsNothing(t *testing.T) {
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Attach(vmOther, "fcd-fake", "6000c298595bf457", 4*mib); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.DiskPath("fcd-fake")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("backing file for a fake node: %v", err)
	}
	if dev, err := s.Device("fcd-fake"); dev != "" || err != nil {
		t.Errorf("device for a fake node: %q, %v", dev, err)
	}
}

// TestDiskLifecycle drives one FCD through attach, write, detach, re-attach,
// extend, snapshot, restore and delete on real loop devices.
func TestDiskLifecycle(t *testing.T) {
	s, byID := loopStore(t)
	const fcd, uuid = "fcd-life", "6000C298-595B-F457-5739-E9105B2C0C2D"
	link := filepath.Join(byID, "wwn-0x6000c298595bf4575739e9105b2c0c2d")

	if err := s.Attach(vmUUID, fcd, uuid, 8*mib); err != nil {
		t.Fatal(err)
	}
	dev := checkLink(t, link, 8*mib)
	if got, _ := s.Device(fcd); got != dev {
		t.Errorf("Device = %q, link points at %q", got, dev)
	}
	if st, err := os.Stat(s.DiskPath(fcd)); err != nil || st.Sys().(*syscall.Stat_t).Blocks*512 >= 8*mib {
		t.Errorf("backing file not sparse: %v", err)
	}
	if err := s.Attach(vmUUID, fcd, uuid, 8*mib); err != nil { // idempotent
		t.Fatal(err)
	}
	if again := checkLink(t, link, 8*mib); again != dev {
		t.Errorf("re-attach moved the device from %s to %s", dev, again)
	}

	first := pattern("first", 4096)
	writeAt(t, link, mib, first)

	if err := s.Detach(fcd); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(link); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("link after detach: %v", err)
	}
	if boundTo(t, dev, s.DiskPath(fcd)) {
		t.Errorf("%s still bound to the backing file after detach", dev)
	}

	if err := s.Attach(vmUUID, fcd, uuid, 8*mib); err != nil {
		t.Fatal(err)
	}
	checkLink(t, link, 8*mib)
	if got := readAt(t, link, mib, len(first)); !bytes.Equal(got, first) {
		t.Error("bytes written before detach are gone after re-attach")
	}

	if err := s.Extend(fcd, 16*mib); err != nil {
		t.Fatal(err)
	}
	checkLink(t, link, 16*mib)
	if err := s.Extend(fcd, 4*mib); err != nil { // never shrinks
		t.Fatal(err)
	}
	checkLink(t, link, 16*mib)

	if err := s.Snapshot(fcd, "snap-1"); err != nil {
		t.Fatal(err)
	}
	writeAt(t, link, mib, pattern("later", 4096))

	const restored, uuid2 = "fcd-restored", "6000c2990000000000000000000000aa"
	if err := s.Restore("snap-1", restored); err != nil {
		t.Fatal(err)
	}
	if err := s.Attach(vmUUID, restored, uuid2, 16*mib); err != nil {
		t.Fatal(err)
	}
	link2 := filepath.Join(byID, LinkName(uuid2))
	if dev2 := checkLink(t, link2, 16*mib); dev2 == dev {
		t.Errorf("two disks share %s", dev)
	}
	if got := readAt(t, link2, mib, len(first)); !bytes.Equal(got, first) {
		t.Error("restored disk does not hold the snapshot's bytes")
	}
	if err := s.Restore("no-such-snap", "fcd-x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("restore of an unknown snapshot: %v", err)
	}
	if err := s.Restore("snap-1", restored); err == nil {
		t.Error("restore over an attached disk accepted")
	}

	snap := filepath.Join(s.Dir, snapshotsDir, fcd, "snap-1.img")
	if st, err := os.Stat(snap); err != nil || st.Size() != 16*mib || st.Sys().(*syscall.Stat_t).Blocks*512 >= 16*mib {
		t.Errorf("snapshot file missing or not sparse: %v", err)
	}
	if err := s.Delete(fcd); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{s.DiskPath(fcd), snap, link} {
		if _, err := os.Lstat(gone); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after delete: %v", gone, err)
		}
	}
	if err := s.DeleteSnapshot("snap-1"); err != nil {
		t.Errorf("delete of a snapshot already gone: %v", err)
	}
}

// TestNeverDetachesForeignDevice: a recorded device now bound to another
// file (the record's inode no longer matches) is left bound.
func TestNeverDetachesForeignDevice(t *testing.T) {
	s, byID := loopStore(t)
	const fcd, uuid = "fcd-foreign", "6000c29811112222"
	if err := s.Attach(vmUUID, fcd, uuid, 4*mib); err != nil {
		t.Fatal(err)
	}
	rec, ok, err := s.readRecord(fcd)
	if err != nil || !ok {
		t.Fatalf("record: %v %v", ok, err)
	}
	real := rec
	rec.Ino++
	if err := s.writeRecord(fcd, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.Detach(fcd); err != nil {
		t.Fatal(err)
	}
	if !boundTo(t, rec.Loop, s.DiskPath(fcd)) {
		t.Fatalf("%s was detached although its record no longer matched", rec.Loop)
	}
	// The link goes all the same: it would show the node another disk.
	if _, err := os.Lstat(filepath.Join(byID, LinkName(uuid))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("link to a device that is not the disk: %v", err)
	}
	// Clean up what this test made, by its record.
	if err := s.writeRecord(fcd, real); err != nil {
		t.Fatal(err)
	}
	if err := s.Detach(fcd); err != nil {
		t.Fatal(err)
	}
	if boundTo(t, real.Loop, s.DiskPath(fcd)) {
		t.Errorf("%s still bound after the real detach", real.Loop)
	}
}

func TestCleanupAll(t *testing.T) {
	s, byID := loopStore(t)
	devs := map[string]string{}
	for _, fcd := range []string{"fcd-a", "fcd-b"} {
		uuid := "6000c298" + strings.Repeat(fcd[len(fcd)-1:], 8)
		if err := s.Attach(vmUUID, fcd, uuid, 2*mib); err != nil {
			t.Fatal(err)
		}
		devs[fcd] = checkLink(t, filepath.Join(byID, LinkName(uuid)), 2*mib)
	}
	if err := CleanupAll(s.Dir); err != nil {
		t.Fatal(err)
	}
	for fcd, dev := range devs {
		if boundTo(t, dev, s.DiskPath(fcd)) {
			t.Errorf("%s (%s) still bound after CleanupAll", dev, fcd)
		}
		if _, err := os.Stat(s.DiskPath(fcd)); err != nil {
			t.Errorf("CleanupAll removed the backing file of %s: %v", fcd, err)
		}
	}
	if entries, _ := os.ReadDir(byID); len(entries) != 0 {
		t.Errorf("links left: %v", entries)
	}
}

// loopStore is a Store with one registered real node whose by-id directory
// is a temporary one. It needs root and the loop driver; the cleanup frees
// every device the test bound, by its record.
func loopStore(t *testing.T) (*Store, string) {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("needs real loop devices: %v", err)
	}
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	byID := filepath.Join(t.TempDir(), "by-id")
	if err := s.RegisterNode(vmUUID, byID); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := CleanupAll(s.Dir); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return s, byID
}

// checkLink asserts that link points at a loop block device of size bytes
// and returns the device.
func checkLink(t *testing.T, link string, size int64) string {
	t.Helper()
	dev, err := os.Readlink(link)
	if err != nil {
		t.Fatalf("by-id link: %v", err)
	}
	if !strings.HasPrefix(dev, "/dev/loop") {
		t.Fatalf("link points at %q, not a loop device", dev)
	}
	st, err := os.Stat(link)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&fs.ModeDevice == 0 || st.Mode()&fs.ModeCharDevice != 0 {
		t.Fatalf("%s is not a block device (%s)", dev, st.Mode())
	}
	f, err := os.Open(link)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := f.Seek(0, io.SeekEnd) // a block device's end is its size
	if err != nil {
		t.Fatal(err)
	}
	if got != size {
		t.Fatalf("%s is %d bytes, want %d", dev, got, size)
	}
	return dev
}

// boundTo reports whether dev is bound to file (same inode).
func boundTo(t *testing.T, dev, file string) bool {
	t.Helper()
	st, err := os.Stat(file)
	if err != nil {
		return false
	}
	l, err := os.Open(dev)
	if err != nil {
		return false
	}
	defer l.Close()
	info, err := unix.IoctlLoopGetStatus64(int(l.Fd()))
	if err != nil {
		return false // ENXIO: unbound
	}
	return info.Inode == st.Sys().(*syscall.Stat_t).Ino
}

func pattern(s string, n int) []byte {
	return bytes.Repeat([]byte(s), n/len(s)+1)[:n]
}

// writeAt writes through the block device and flushes it, as a node's
// filesystem would on sync.
func writeAt(t *testing.T, dev string, off int64, b []byte) {
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

func readAt(t *testing.T, dev string, off int64, n int) []byte {
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
