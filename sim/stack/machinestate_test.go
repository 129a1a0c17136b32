package stack

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// machineState is what a bring-up may change on the host and teardown must
// restore, as sorted lines per aspect: mounts, loop devices, network links
// and routes, top-level cgroups, the kubelet's sysctls, the directories the
// real nodes mount over, and processes started from the state directory.
func machineState(stateDir string) map[string][]string {
	st := map[string][]string{}
	if data, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			// Fields 5 (mount point) and the fstype after " - ": ids vary.
			f := strings.Fields(line)
			if len(f) > 4 {
				_, post, _ := strings.Cut(line, " - ")
				st["mounts"] = append(st["mounts"], f[4]+" "+strings.Fields(post + " ?")[0])
			}
		}
	}
	loops, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, l := range loops {
		b, _ := os.ReadFile(l)
		st["loop devices"] = append(st["loop devices"], filepath.Base(filepath.Dir(filepath.Dir(l)))+" "+strings.TrimSpace(string(b)))
	}
	for _, args := range [][]string{{"-o", "link"}, {"route"}, {"-o", "addr"}} {
		out, _ := exec.Command("ip", args...).Output()
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			// Link lines carry counters that change; keep index and name.
			if strings.Join(args, " ") == "-o link" {
				f := strings.Fields(line)
				if len(f) > 1 {
					line = f[0] + " " + f[1]
				}
			}
			st["ip "+args[len(args)-1]] = append(st["ip "+args[len(args)-1]], line)
		}
	}
	for _, h := range cgroupHierarchies() {
		entries, _ := os.ReadDir(h)
		for _, e := range entries {
			if e.IsDir() {
				st["cgroups"] = append(st["cgroups"], filepath.Join(h, e.Name()))
			}
		}
	}
	for k, v := range readSysctls() {
		st["sysctls"] = append(st["sysctls"], k+"="+v)
	}
	for _, d := range []string{"/dev/disk", "/run/containerd", "/run/netns", "/var/log/pods", "/var/log/containers", "/var/lib/kubelet"} {
		_, err := os.Stat(d)
		st["dirs"] = append(st["dirs"], fmt.Sprintf("%s exists=%v", d, err == nil))
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), stateDir) {
			st["processes"] = append(st["processes"], strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	for k := range st {
		slices.Sort(st[k])
	}
	return st
}

// diffMachineState lists what is in after and not in before, and the reverse.
func diffMachineState(before, after map[string][]string) []string {
	var out []string
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	}) {
		for _, l := range after[k] {
			if !slices.Contains(before[k], l) {
				out = append(out, k+": + "+l)
			}
		}
		for _, l := range before[k] {
			if !slices.Contains(after[k], l) {
				out = append(out, k+": - "+l)
			}
		}
	}
	return out
}
