package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// What a real kubelet changes on the machine outside its own directories,
// and how teardown puts it back. Each piece is found by an id the state
// recorded (a mount namespace, a cgroup path, a sysctl's old value), never
// by a broad name.

// kubeletSysctls are the kernel settings the kubelet sets at start
// (pkg/kubelet/cm setupKernelTunables, with protectKernelDefaults off).
var kubeletSysctls = []string{"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops", "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes"}

func readSysctls() map[string]string {
	out := map[string]string{}
	for _, k := range kubeletSysctls {
		if v, err := os.ReadFile(filepath.Join("/proc/sys", k)); err == nil {
			out[k] = strings.TrimSpace(string(v))
		}
	}
	return out
}

func restoreSysctls(saved map[string]string) {
	for k, v := range saved {
		cur, err := os.ReadFile(filepath.Join("/proc/sys", k))
		if err == nil && strings.TrimSpace(string(cur)) != v {
			os.WriteFile(filepath.Join("/proc/sys", k), []byte(v), 0o644)
		}
	}
}

// cgroupHierarchies are the mounted cgroup v1 hierarchies (or the one v2
// tree) under /sys/fs/cgroup.
func cgroupHierarchies() []string {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return []string{"/sys/fs/cgroup"}
	}
	entries, _ := os.ReadDir("/sys/fs/cgroup")
	var out []string
	for _, e := range entries {
		p := filepath.Join("/sys/fs/cgroup", e.Name())
		if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
			out = append(out, p)
		}
	}
	return out
}

// makeCgroupRoot creates the kubelet's cgroupRoot in every hierarchy (the
// kubelet refuses a root that does not exist); a cpuset child starts with
// no CPUs or memory nodes, so it gets its parent's.
func makeCgroupRoot(root string) error {
	for _, h := range cgroupHierarchies() {
		dir := filepath.Join(h, root)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if v, err := os.ReadFile(filepath.Join(h, f)); err == nil {
				if err := os.WriteFile(filepath.Join(dir, f), v, 0o644); err != nil {
					return fmt.Errorf("%s: %w", filepath.Join(dir, f), err)
				}
			}
		}
	}
	return nil
}

// removeCgroupRoot removes the cgroupRoot and everything the kubelet and runc
// made under it, deepest first; a cgroup with live tasks cannot be removed,
// so processes are stopped first.
func removeCgroupRoot(root string) {
	if root == "" || root == "/" {
		return
	}
	for _, h := range cgroupHierarchies() {
		top := filepath.Join(h, root)
		var dirs []string
		filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			for try := 0; try < 20; try++ {
				if err := syscall.Rmdir(dirs[i]); err == nil || os.IsNotExist(err) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
}

// killMountNamespace kills every process in the mount namespace mntNS (what
// the node's containerd started: shims, pod sandboxes, containers), which
// ends the namespace and every mount in it.
func killMountNamespace(mntNS string) {
	if mntNS == "" {
		return
	}
	for round := 0; round < 50; round++ {
		pids := processesIn(mntNS)
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func processesIn(mntNS string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid)); err == nil && ns == mntNS {
			out = append(out, pid)
		}
	}
	return out
}
