// Package loopdisk gives first-class disks real bytes on the machine: one
// sparse backing file per FCD, a loop device for each FCD attached to a real
// node, and the /dev/disk/by-id link through which that node finds it.
//
// Layout under Store.Dir (every name is an ID, checked by validID):
//
//	disks/<fcd id>.img                    backing file, sparse, one per FCD
//	snapshots/<fcd id>/<snapshot id>.img  point-in-time copies, sparse
//	nodes/<vm BIOS uuid>                  written by the stack, not here: the
//	                                      absolute by-id directory of a real
//	                                      node; no file means a fake node
//	attached/<fcd id>.json                loop device of an attached FCD, so
//	                                      any process can detach it by ID
//	.lock                                 flock serializing processes
//
// A nil Store, or one with an empty Dir, does nothing and returns nil.
package loopdisk

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const (
	disksDir     = "disks"
	snapshotsDir = "snapshots"
	nodesDir     = "nodes"
	attachedDir  = "attached"
	lockFile     = ".lock"
	loopControl  = "/dev/loop-control"
)

// Store keeps the backing files and loop devices under Dir.
type Store struct {
	Dir string
}

// New returns a Store on dir (made absolute: loop devices and links record
// paths other processes resolve), creating its directories.
func New(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("loopdisk: empty directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("loopdisk: %w", err)
	}
	s := &Store{Dir: abs}
	for _, d := range []string{disksDir, snapshotsDir, nodesDir, attachedDir} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o700); err != nil {
			return nil, fmt.Errorf("loopdisk: %w", err)
		}
	}
	return s, nil
}

// Available says why loop devices cannot be made here (nil: they can): they
// need root (CAP_SYS_ADMIN) and the loop driver's control device.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("loopdisk: loop devices need root")
	}
	if _, err := os.Stat(loopControl); err != nil {
		return fmt.Errorf("loopdisk: no loop driver: %w", err)
	}
	return nil
}

// Enabled reports whether the store keeps disks at all.
func (s *Store) Enabled() bool { return s != nil && s.Dir != "" }

// DiskPath is the backing file of an FCD (it may not exist yet).
func (s *Store) DiskPath(fcdID string) string {
	return filepath.Join(s.Dir, disksDir, fcdID+".img")
}

// LinkName is the by-id name of a disk: "wwn-0x" and the disk UUID in lower
// case without dashes or spaces, as the vSphere CSI node plugin v3.3.1 looks
// it up (common.FormatDiskUUID, then /dev/disk/by-id/wwn-0x<uuid>).
func LinkName(diskUUID string) string {
	return "wwn-0x" + formatUUID(diskUUID)
}

func formatUUID(u string) string {
	return strings.ToLower(strings.NewReplacer(" ", "", "-", "").Replace(u))
}

// RegisterNode records that the VM with this BIOS UUID is a real node whose
// /dev/disk/by-id is byIDDir (absolute; e.g. /proc/<holder>/root/dev/disk/by-id).
// The stack calls it (or writes the file itself: one line, the path).
func (s *Store) RegisterNode(vmUUID, byIDDir string) error {
	if !s.Enabled() {
		return nil
	}
	name, err := nodeName(vmUUID)
	if err != nil {
		return err
	}
	if !filepath.IsAbs(byIDDir) {
		return fmt.Errorf("loopdisk: node %s: by-id directory %q is not absolute", vmUUID, byIDDir)
	}
	dir := filepath.Join(s.Dir, nodesDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("loopdisk: %w", err)
	}
	return writeAtomic(filepath.Join(dir, name), []byte(byIDDir+"\n"))
}

// UnregisterNode makes the VM a fake node again; its attached disks keep
// their loop devices until detached.
func (s *Store) UnregisterNode(vmUUID string) error {
	if !s.Enabled() {
		return nil
	}
	name, err := nodeName(vmUUID)
	if err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(s.Dir, nodesDir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("loopdisk: %w", err)
	}
	return nil
}

// Attach gives the FCD a block device on the VM's node: the backing file is
// created (sparse) or grown to capacityBytes, bound to a free loop device and
// linked as <by-id>/wwn-0x<disk uuid>. Attaching an attached FCD again only
// refreshes its link. A VM that is no registered node gets nothing.
func (s *Store) Attach(vmUUID, fcdID, diskUUID string, capacityBytes int64) error {
	if !s.Enabled() {
		return nil
	}
	if err := validID("FCD", fcdID); err != nil {
		return err
	}
	byID, err := s.nodeByID(vmUUID)
	if err != nil || byID == "" {
		return err
	}
	hex := formatUUID(diskUUID)
	if err := validHex(hex); err != nil {
		return fmt.Errorf("loopdisk: disk UUID %q of FCD %s: %w", diskUUID, fcdID, err)
	}
	link := filepath.Join(byID, LinkName(diskUUID))

	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()

	file := s.DiskPath(fcdID)
	grown, err := ensureFile(file, capacityBytes)
	if err != nil {
		return err
	}

	if rec, ok, err := s.readRecord(fcdID); err != nil {
		return err
	} else if ok {
		if err := withBoundLoop(rec, func(fd int) error {
			if grown {
				return ioctlLoop(fd, unix.LOOP_SET_CAPACITY, rec.Loop)
			}
			return nil
		}); err == nil {
			if rec.Link != link {
				removeLink(rec.Link, rec.Loop)
				rec.Link, rec.VM = link, strings.ToLower(vmUUID)
				if err := s.writeRecord(fcdID, rec); err != nil {
					return err
				}
			}
			return makeLink(link, rec.Loop)
		} else if !errors.Is(err, errNotOurs) {
			return err
		}
		// The recorded device is gone or now backs something else: forget it.
		removeLink(rec.Link, rec.Loop)
		if err := s.removeRecord(fcdID); err != nil {
			return err
		}
	}

	rec, err := bindLoop(file)
	if err != nil {
		return fmt.Errorf("loopdisk: FCD %s: %w", fcdID, err)
	}
	rec.Link, rec.VM = link, strings.ToLower(vmUUID)
	if err := s.writeRecord(fcdID, rec); err != nil {
		_ = unbind(rec)
		return err
	}
	if err := makeLink(link, rec.Loop); err != nil {
		return errors.Join(err, s.detachLocked(fcdID, rec))
	}
	return nil
}

// Detach removes the FCD's link and frees its loop device, if it is still
// bound to our file; an FCD without a device is a no-op.
func (s *Store) Detach(fcdID string) error {
	if !s.Enabled() {
		return nil
	}
	if err := validID("FCD", fcdID); err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	rec, ok, err := s.readRecord(fcdID)
	if err != nil || !ok {
		return err
	}
	return s.detachLocked(fcdID, rec)
}

// Device is the loop device the FCD is attached as, or "" when it has none.
func (s *Store) Device(fcdID string) (string, error) {
	if !s.Enabled() {
		return "", nil
	}
	if err := validID("FCD", fcdID); err != nil {
		return "", err
	}
	rec, ok, err := s.readRecord(fcdID)
	if err != nil || !ok {
		return "", err
	}
	switch err := withBoundLoop(rec, func(int) error { return nil }); {
	case err == nil:
		return rec.Loop, nil
	case errors.Is(err, errNotOurs):
		return "", nil
	default:
		return "", err
	}
}

// Extend grows the backing file to newBytes (never shrinks it) and makes an
// attached loop device see the new size, as vSphere grows an attached disk
// online. An FCD without a file yet gets its size when first attached.
func (s *Store) Extend(fcdID string, newBytes int64) error {
	if !s.Enabled() {
		return nil
	}
	if err := validID("FCD", fcdID); err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	file := s.DiskPath(fcdID)
	if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if _, err := ensureFile(file, newBytes); err != nil {
		return err
	}
	rec, ok, err := s.readRecord(fcdID)
	if err != nil || !ok {
		return err
	}
	err = withBoundLoop(rec, func(fd int) error { return ioctlLoop(fd, unix.LOOP_SET_CAPACITY, rec.Loop) })
	if errors.Is(err, errNotOurs) {
		return nil
	}
	return err
}

// Delete removes the FCD's file and its snapshots, detaching it first.
func (s *Store) Delete(fcdID string) error {
	if !s.Enabled() {
		return nil
	}
	if err := validID("FCD", fcdID); err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if rec, ok, err := s.readRecord(fcdID); err != nil {
		return err
	} else if ok {
		if err := s.detachLocked(fcdID, rec); err != nil {
			return err
		}
	}
	if err := os.Remove(s.DiskPath(fcdID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("loopdisk: %w", err)
	}
	if err := os.RemoveAll(filepath.Join(s.Dir, snapshotsDir, fcdID)); err != nil {
		return fmt.Errorf("loopdisk: %w", err)
	}
	return nil
}

// Snapshot copies the FCD's current bytes (sparse) to the snapshot's file.
// An attached device is flushed first, so writes acknowledged to the node
// are in the copy. An FCD never attached has only zeros: its snapshot is an
// empty file, which Restore turns into a disk of zeros.
func (s *Store) Snapshot(fcdID, snapID string) error {
	if !s.Enabled() {
		return nil
	}
	if err := validID("FCD", fcdID); err != nil {
		return err
	}
	if err := validID("snapshot", snapID); err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	dir := filepath.Join(s.Dir, snapshotsDir, fcdID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("loopdisk: %w", err)
	}
	dst := filepath.Join(dir, snapID+".img")

	if rec, ok, err := s.readRecord(fcdID); err != nil {
		return err
	} else if ok {
		err := withBoundLoop(rec, func(fd int) error {
			if err := unix.Fsync(fd); err != nil {
				return fmt.Errorf("loopdisk: flush %s: %w", rec.Loop, err)
			}
			return nil
		})
		if err != nil && !errors.Is(err, errNotOurs) {
			return err
		}
	}
	src := s.DiskPath(fcdID)
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		return writeAtomic(dst, nil)
	}
	return copySparse(dst, src)
}

// Restore makes the snapshot's bytes the content of a new FCD's file.
func (s *Store) Restore(snapID, newFcdID string) error {
	if !s.Enabled() {
		return nil
	}
	if err := validID("snapshot", snapID); err != nil {
		return err
	}
	if err := validID("FCD", newFcdID); err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	snaps, err := s.snapshotFiles(snapID)
	if err != nil {
		return err
	}
	if len(snaps) == 0 {
		return fmt.Errorf("loopdisk: snapshot %s: %w", snapID, fs.ErrNotExist)
	}
	if _, ok, err := s.readRecord(newFcdID); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("loopdisk: restore of snapshot %s: FCD %s is attached", snapID, newFcdID)
	}
	if err := os.MkdirAll(filepath.Join(s.Dir, disksDir), 0o700); err != nil {
		return fmt.Errorf("loopdisk: %w", err)
	}
	return copySparse(s.DiskPath(newFcdID), snaps[0])
}

// DeleteSnapshot removes a snapshot's file; an unknown snapshot is a no-op.
func (s *Store) DeleteSnapshot(snapID string) error {
	if !s.Enabled() {
		return nil
	}
	if err := validID("snapshot", snapID); err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	snaps, err := s.snapshotFiles(snapID)
	if err != nil {
		return err
	}
	for _, f := range snaps {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("loopdisk: %w", err)
		}
	}
	return nil
}

// CleanupAll detaches every loop device recorded under dir (each only if
// still bound to its backing file) and removes their links: teardown, or a
// simulator start after a crash. Files stay; dir belongs to the caller.
func CleanupAll(dir string) error {
	if dir == "" {
		return nil
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	s := &Store{Dir: dir}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	entries, err := os.ReadDir(filepath.Join(dir, attachedDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("loopdisk: %w", err)
	}
	var errs []error
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || validID("FCD", id) != nil {
			continue
		}
		rec, ok, err := s.readRecord(id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			errs = append(errs, s.detachLocked(id, rec))
		}
	}
	return errors.Join(errs...)
}

// record is what attached/<fcd id>.json holds. Dev and Ino are the backing
// file's device and inode as the loop driver reported them at bind time:
// a device is only ever detached while it still reports both.
type record struct {
	Loop string `json:"loop"` // /dev/loopN
	File string `json:"file"`
	Dev  uint64 `json:"dev"`
	Ino  uint64 `json:"ino"`
	Link string `json:"link,omitempty"`
	VM   string `json:"vm,omitempty"`
}

// errNotOurs: the recorded loop device is unbound or backs another file.
var errNotOurs = errors.New("loop device no longer bound to its recorded file")

func (s *Store) recordPath(fcdID string) string {
	return filepath.Join(s.Dir, attachedDir, fcdID+".json")
}

func (s *Store) readRecord(fcdID string) (record, bool, error) {
	var rec record
	data, err := os.ReadFile(s.recordPath(fcdID))
	if errors.Is(err, fs.ErrNotExist) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, fmt.Errorf("loopdisk: %w", err)
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, false, fmt.Errorf("loopdisk: record of FCD %s: %w", fcdID, err)
	}
	if !strings.HasPrefix(rec.Loop, "/dev/loop") {
		return rec, false, fmt.Errorf("loopdisk: record of FCD %s names %q, not a loop device", fcdID, rec.Loop)
	}
	return rec, true, nil
}

func (s *Store) writeRecord(fcdID string, rec record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("loopdisk: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(s.Dir, attachedDir), 0o700); err != nil {
		return fmt.Errorf("loopdisk: %w", err)
	}
	return writeAtomic(s.recordPath(fcdID), data)
}

func (s *Store) removeRecord(fcdID string) error {
	if err := os.Remove(s.recordPath(fcdID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("loopdisk: %w", err)
	}
	return nil
}

// detachLocked removes the link, unbinds the device if it is still ours and
// forgets it. The caller holds the lock.
func (s *Store) detachLocked(fcdID string, rec record) error {
	removeLink(rec.Link, rec.Loop)
	if err := unbind(rec); err != nil && !errors.Is(err, errNotOurs) {
		return fmt.Errorf("loopdisk: detach FCD %s: %w", fcdID, err)
	}
	return s.removeRecord(fcdID)
}

// nodeByID is the registered by-id directory of a VM, "" for a fake node.
func (s *Store) nodeByID(vmUUID string) (string, error) {
	name, err := nodeName(vmUUID)
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(filepath.Join(s.Dir, nodesDir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("loopdisk: %w", err)
	}
	dir := strings.TrimSpace(string(data))
	if !filepath.IsAbs(dir) {
		return "", fmt.Errorf("loopdisk: node %s: by-id directory %q is not absolute", name, dir)
	}
	return dir, nil
}

func (s *Store) snapshotFiles(snapID string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(s.Dir, snapshotsDir, "*", snapID+".img"))
	if err != nil {
		return nil, fmt.Errorf("loopdisk: %w", err)
	}
	return files, nil
}

// lock takes the store's flock: the simulator and `sim down` may both work
// on the same directory.
func (s *Store) lock() (func(), error) {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("loopdisk: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(s.Dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("loopdisk: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("loopdisk: lock %s: %w", s.Dir, err)
	}
	return func() { f.Close() }, nil // closing the file drops the flock
}

// nodeName is the nodes/ file name of a VM: its BIOS UUID in lower case.
func nodeName(vmUUID string) (string, error) {
	name := strings.ToLower(strings.TrimSpace(vmUUID))
	return name, validID("VM UUID", name)
}

// validID keeps IDs to plain file names: no separators, no glob characters,
// no leading dot.
func validID(what, id string) error {
	if id == "" || len(id) > 200 || id[0] == '.' {
		return fmt.Errorf("loopdisk: invalid %s %q", what, id)
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return fmt.Errorf("loopdisk: invalid %s %q", what, id)
		}
	}
	return nil
}

func validHex(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return errors.New("not hexadecimal")
		}
	}
	return nil
}

// ensureFile creates the backing file if missing and grows it to size with
// a hole (sparse); it never shrinks. grown says whether the size changed.
func ensureFile(path string, size int64) (grown bool, err error) {
	if size < 0 {
		return false, fmt.Errorf("loopdisk: negative size %d", size)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, fmt.Errorf("loopdisk: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return false, fmt.Errorf("loopdisk: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("loopdisk: %w", err)
	}
	if st.Size() >= size {
		return false, nil
	}
	if err := f.Truncate(size); err != nil {
		return false, fmt.Errorf("loopdisk: grow %s: %w", path, err)
	}
	return true, nil
}

// bindLoop binds file to a free loop device (the ioctls losetup -f uses).
func bindLoop(file string) (record, error) {
	f, err := os.OpenFile(file, os.O_RDWR, 0)
	if err != nil {
		return record{}, err
	}
	defer f.Close()
	ctl, err := os.OpenFile(loopControl, os.O_RDWR, 0)
	if err != nil {
		return record{}, err
	}
	defer ctl.Close()

	// Another process may take the free device between GET_FREE and the
	// bind (EBUSY): ask again.
	for try := 0; try < 20; try++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return record{}, fmt.Errorf("%s: LOOP_CTL_GET_FREE: %w", loopControl, err)
		}
		dev := fmt.Sprintf("/dev/loop%d", n)
		l, err := openLoop(dev)
		if err != nil {
			return record{}, err
		}
		err = configure(int(l.Fd()), int(f.Fd()), file)
		if err == unix.EBUSY {
			l.Close()
			continue
		}
		if err != nil {
			l.Close()
			return record{}, fmt.Errorf("bind %s to %s: %w", file, dev, err)
		}
		info, err := unix.IoctlLoopGetStatus64(int(l.Fd()))
		if err != nil {
			_ = ioctlLoop(int(l.Fd()), unix.LOOP_CLR_FD, dev)
			l.Close()
			return record{}, fmt.Errorf("%s: LOOP_GET_STATUS64: %w", dev, err)
		}
		l.Close()
		return record{Loop: dev, File: file, Dev: info.Device, Ino: info.Inode}, nil
	}
	return record{}, errors.New("no free loop device: every one was taken concurrently")
}

// openLoop opens a loop device node; devtmpfs creates new nodes on its own,
// which can lag the LOOP_CTL_GET_FREE that added the device.
func openLoop(dev string) (*os.File, error) {
	for wait := time.Millisecond; ; wait *= 2 {
		l, err := os.OpenFile(dev, os.O_RDWR, 0)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || wait > 500*time.Millisecond {
			return l, err
		}
		time.Sleep(wait)
	}
}

// configure binds the backing fd with LOOP_CONFIGURE (Linux 5.8+: fd and
// status at once), falling back to LOOP_SET_FD + LOOP_SET_STATUS64.
func configure(loopFD, fileFD int, name string) error {
	var cfg unix.LoopConfig
	cfg.Fd = uint32(fileFD)
	copy(cfg.Info.File_name[:len(cfg.Info.File_name)-1], name)
	err := unix.IoctlLoopConfigure(loopFD, &cfg)
	if err != unix.EINVAL && err != unix.ENOTTY {
		return err
	}
	if err := unix.IoctlSetInt(loopFD, unix.LOOP_SET_FD, fileFD); err != nil {
		return err
	}
	if err := unix.IoctlLoopSetStatus64(loopFD, &cfg.Info); err != nil {
		_ = unix.IoctlSetInt(loopFD, unix.LOOP_CLR_FD, 0)
		return err
	}
	return nil
}

// withBoundLoop opens the recorded device and runs f on it only if the
// device still reports the recorded backing file; errNotOurs otherwise.
func withBoundLoop(rec record, f func(fd int) error) error {
	l, err := os.OpenFile(rec.Loop, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENXIO) {
		return errNotOurs
	}
	if err != nil {
		return err
	}
	defer l.Close()
	info, err := unix.IoctlLoopGetStatus64(int(l.Fd()))
	if err == unix.ENXIO {
		return errNotOurs // unbound
	}
	if err != nil {
		return fmt.Errorf("%s: LOOP_GET_STATUS64: %w", rec.Loop, err)
	}
	if info.Device != rec.Dev || info.Inode != rec.Ino {
		return errNotOurs
	}
	return f(int(l.Fd()))
}

// unbind frees the device if it is still ours. The kernel defers the
// release while the device is open elsewhere (mounted on a node):
// LOOP_CLR_FD then sets autoclear and the device goes on last close.
func unbind(rec record) error {
	return withBoundLoop(rec, func(fd int) error { return ioctlLoop(fd, unix.LOOP_CLR_FD, rec.Loop) })
}

func ioctlLoop(fd int, req uint, dev string) error {
	if err := unix.IoctlSetInt(fd, req, 0); err != nil {
		return fmt.Errorf("%s: ioctl %#x: %w", dev, req, err)
	}
	return nil
}

// makeLink points link at dev, replacing an older link atomically.
func makeLink(link, dev string) error {
	if cur, err := os.Readlink(link); err == nil && cur == dev {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return fmt.Errorf("loopdisk: %w", err)
	}
	tmp := filepath.Join(filepath.Dir(link), "."+filepath.Base(link)+".tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(dev, tmp); err != nil {
		return fmt.Errorf("loopdisk: %w", err)
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("loopdisk: %w", err)
	}
	return nil
}

// removeLink removes link only while it still points at dev: a link someone
// re-pointed is not ours. A node that is gone (its /proc path with it) has
// no link left to remove.
func removeLink(link, dev string) {
	if link == "" {
		return
	}
	if cur, err := os.Readlink(link); err == nil && cur == dev {
		_ = os.Remove(link)
	}
}

// writeAtomic writes a file through a temporary and a rename, so a reader
// (or a crash) never sees half of it.
func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("loopdisk: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("loopdisk: %w", err)
	}
	return nil
}

// copySparse copies src to dst keeping holes: only the data extents that
// SEEK_DATA/SEEK_HOLE report are copied, the rest stays unallocated.
func copySparse(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("loopdisk: %w", err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return fmt.Errorf("loopdisk: %w", err)
	}
	size := st.Size()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("loopdisk: %w", err)
	}
	fail := func(err error) error {
		out.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("loopdisk: copy %s: %w", src, err)
	}
	fd := int(in.Fd())
	for off := int64(0); off < size; {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if err == unix.ENXIO {
			break // only a hole is left
		}
		end := size
		if err != nil {
			data = off // no SEEK_DATA on this file system: copy it all
		} else if hole, err := unix.Seek(fd, data, unix.SEEK_HOLE); err == nil {
			end = hole
		}
		if _, err := io.Copy(io.NewOffsetWriter(out, data), io.NewSectionReader(in, data, end-data)); err != nil {
			return fail(err)
		}
		off = end
	}
	if err := out.Truncate(size); err != nil {
		return fail(err)
	}
	if err := out.Sync(); err != nil {
		return fail(err)
	}
	if err := out.Close(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("loopdisk: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("loopdisk: %w", err)
	}
	return nil
}
