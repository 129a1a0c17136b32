package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Identity is what the node's "hardware" reports in /sys/class/dmi/id: a
// VMware VM's BIOS UUID as product_uuid and, in VMware's serial form, as
// product_serial, which the vSphere CSI node plugin reads to find its VM.
type Identity struct {
	BIOSUUID string
}

// Serial renders a BIOS UUID as VMware writes it to the SMBIOS serial:
// "VMware-42 11 f2 a4 5b 6c 7d 8e-9f a0 b1 c2 d3 e4 f5 06".
func (id Identity) Serial() (string, error) {
	hex := strings.ToLower(strings.ReplaceAll(id.BIOSUUID, "-", ""))
	if len(hex) != 32 || strings.Trim(hex, "0123456789abcdef") != "" {
		return "", fmt.Errorf("BIOS UUID %q is not 32 hex digits", id.BIOSUUID)
	}
	pairs := func(s string) string {
		var p []string
		for i := 0; i < len(s); i += 2 {
			p = append(p, s[i:i+2])
		}
		return strings.Join(p, " ")
	}
	return "VMware-" + pairs(hex[:16]) + "-" + pairs(hex[16:]), nil
}

// PrivateDirs are host paths that the node's components write to at fixed
// places (containerd 1.6's shim sockets, the CRI's pod network namespaces,
// the kubelet's pod logs, the devices the simulator links): each gets a tmpfs
// inside the node's mount namespace, so all of it dies with the namespace.
//
// The kubelet's root is one of them too: its unix sockets (plugin
// registration, the CSI endpoint, pod resources) must stay under the 108
// bytes of a socket path, which a root under a deep state directory (a
// test's temp dir) exceeds; in the namespace it has the standard short path.
var PrivateDirs = []string{"/run/containerd", "/run/netns", "/var/log/pods", "/var/log/containers", "/dev/disk", KubeletRoot}

// KubeletRoot is the kubelet's --root-dir inside a node's mount namespace.
const KubeletRoot = "/var/lib/kubelet"

// CSIDriver is the CSI driver whose node plugin runs on real nodes.
const CSIDriver = "csi.vsphere.vmware.com"

// SetupMounts shapes the mount namespace of a node holder. It must run inside
// a new mount namespace with private propagation (unshare --mount
// --propagation private) and a new network namespace: a fresh sysfs then
// shows the node's own network devices. stash is an empty directory for the
// host's views that are bound back.
func SetupMounts(id Identity, stash string) error {
	serial, err := id.Serial()
	if err != nil {
		return err
	}
	cgroups, classes := filepath.Join(stash, "cgroup"), filepath.Join(stash, "class")
	for _, d := range []string{cgroups, classes} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	steps := []struct {
		what string
		fn   func() error
	}{
		{"keep the host cgroup tree", func() error { return bind("/sys/fs/cgroup", cgroups, true) }},
		{"mount a sysfs of the node's network namespace", func() error { return unix.Mount("sysfs", "/sys", "sysfs", 0, "") }},
		{"bind the cgroup tree back", func() error { return bind(cgroups, "/sys/fs/cgroup", true) }},
		{"keep /sys/class", func() error { return bind("/sys/class", classes, false) }},
		{"a writable /sys/class", func() error { return unix.Mount("tmpfs", "/sys/class", "tmpfs", 0, "mode=0755") }},
		{"bind the device classes back", func() error { return bindEntries(classes, "/sys/class") }},
		{"write the DMI identity", func() error { return writeDMI(id, serial) }},
	}
	for _, d := range PrivateDirs {
		d := d
		steps = append(steps, struct {
			what string
			fn   func() error
		}{"a private " + d, func() error { return unix.Mount("tmpfs", d, "tmpfs", 0, "mode=0755") }})
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			return fmt.Errorf("node namespace: %s: %w", s.what, err)
		}
	}
	// Where the node plugin listens (it does not create the directory).
	for _, d := range []string{"/dev/disk/by-id", filepath.Dir(CSISocket(CSIDriver))} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	return nil
}

func bind(from, to string, recursive bool) error {
	flags := uintptr(unix.MS_BIND)
	if recursive {
		flags |= unix.MS_REC
	}
	return unix.Mount(from, to, "", flags, "")
}

// bindEntries recreates each directory of from under to as a bind mount.
func bindEntries(from, to string) error {
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dst := filepath.Join(to, e.Name())
		if err := os.Mkdir(dst, 0o755); err != nil {
			return err
		}
		if err := bind(filepath.Join(from, e.Name()), dst, false); err != nil {
			return fmt.Errorf("%s: %w", e.Name(), err)
		}
	}
	return nil
}

func writeDMI(id Identity, serial string) error {
	dir := "/sys/class/dmi/id"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"product_serial": serial,
		"product_uuid":   strings.ToUpper(id.BIOSUUID),
		"sys_vendor":     "VMware, Inc.",
		"product_name":   "VMware Virtual Platform",
	}
	for name, v := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o444); err != nil {
			return err
		}
	}
	return nil
}

// EnsureMountpoints creates the host directories PrivateDirs needs as mount
// points, returning those it created (for removal at teardown).
func EnsureMountpoints() ([]string, error) {
	var created []string
	for _, d := range PrivateDirs {
		if _, err := os.Stat(d); err == nil {
			continue
		} else if !errors.Is(err, os.ErrNotExist) {
			return created, err
		}
		// Create missing parents one by one, so each is recorded.
		var missing []string
		for p := d; ; p = filepath.Dir(p) {
			if _, err := os.Stat(p); err == nil {
				break
			}
			missing = append([]string{p}, missing...)
		}
		for _, p := range missing {
			if err := os.Mkdir(p, 0o755); err != nil {
				return created, err
			}
			created = append(created, p)
		}
	}
	return created, nil
}

// RemoveMountpoints removes directories EnsureMountpoints created, deepest
// first, only when empty (os.Remove refuses otherwise).
func RemoveMountpoints(created []string) {
	for i := len(created) - 1; i >= 0; i-- {
		os.Remove(created[i])
	}
}
