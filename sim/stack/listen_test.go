package stack

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// nonLoopbackListeners returns the listening TCP sockets of the given PIDs
// (in each process's own network namespace) bound to anything but loopback.
// A wildcard bind inside a namespace whose only interface is lo (the CSI
// controller's and syncer's fixed metrics ports) reaches loopback only.
func nonLoopbackListeners(pids []int) ([]string, error) {
	var bad []string
	for _, pid := range pids {
		if onlyLoopback(pid) {
			continue
		}
		inodes := map[string]bool{}
		fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
		for _, fd := range fds {
			if link, err := os.Readlink(fd); err == nil && strings.HasPrefix(link, "socket:[") {
				inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
			}
		}
		for _, table := range []string{"tcp", "tcp6"} {
			f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, table))
			if err != nil {
				continue
			}
			sc := bufio.NewScanner(f)
			sc.Scan() // header
			for sc.Scan() {
				fields := strings.Fields(sc.Text())
				// local_address st ... inode: fields 1, 3 and 9; 0A is LISTEN.
				if len(fields) < 10 || fields[3] != "0A" || !inodes[fields[9]] {
					continue
				}
				addr := fields[1]
				host := addr[:strings.IndexByte(addr, ':')]
				if !loopbackHex(host) {
					port, _ := strconv.ParseUint(addr[strings.IndexByte(addr, ':')+1:], 16, 16)
					bad = append(bad, fmt.Sprintf("pid %d listens on %s (hex %s) port %d", pid, table, host, port))
				}
			}
			f.Close()
		}
	}
	return bad, nil
}

// loopbackHex tells whether a /proc/net/tcp address is 127.0.0.0/8 or ::1.
func loopbackHex(h string) bool {
	switch len(h) {
	case 8: // little-endian IPv4: the first octet is the last byte
		return strings.HasSuffix(h, "7F")
	case 32:
		return h == "00000000000000000000000001000000"
	}
	return false
}

// stackPIDs lists the PIDs of the stack's processes and of the cluster's.
func stackPIDs(s *State) []int {
	var pids []int
	for _, p := range s.Processes {
		pids = append(pids, p.PID)
	}
	files, _ := filepath.Glob(filepath.Join(s.Dir, "kwok", "clusters", s.ClusterName, "pids", "*.pid"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// onlyLoopback tells whether the process's network namespace has no
// interface but lo.
func onlyLoopback(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", pid))
	if err != nil {
		return false
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) < 3 {
		return false
	}
	for _, l := range lines[2:] {
		if name, _, _ := strings.Cut(strings.TrimSpace(l), ":"); name != "lo" {
			return false
		}
	}
	return true
}
