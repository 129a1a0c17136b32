package stack

import (
	"context"
	"errors"
	"fmt"
	"github.com/vsphere-conformance/vsphere-conformance/sim/node"
	"net"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vsphere-conformance/vsphere-conformance/sim/forward"
)

// ServeForward runs the forwarder component until ctx ends: with loUp it
// first brings up the loopback interface of the (new) network namespace it
// was started in, then writes readyFile once every listener is open.
//
// With nodeUUID set it is the holder of a real node's namespaces: it first
// shapes the mount namespace (node.SetupMounts) with that BIOS UUID as the
// node's DMI identity.
func ServeForward(ctx context.Context, rules []string, readyFile string, loUp bool, localIPs []string, nodeUUID, nodeStash string) error {
	if nodeUUID != "" {
		if err := node.SetupMounts(node.Identity{BIOSUUID: nodeUUID}, nodeStash); err != nil {
			return err
		}
	}
	if loUp {
		if err := bringLoopbackUp(); err != nil {
			return fmt.Errorf("forward: bring lo up: %w", err)
		}
	}
	var local []net.IP
	if len(localIPs) > 0 && !loUp {
		return errors.New("forward: --local-ip needs --lo-up (a network namespace of the forwarder's own)")
	}
	for _, s := range localIPs {
		ip := net.ParseIP(s)
		if ip == nil || ip.To4() == nil {
			return fmt.Errorf("forward: --local-ip %q: not an IPv4 address", s)
		}
		// Only this namespace has the address, so only its pods reach it.
		if out, err := exec.Command("ip", "addr", "add", ip.String()+"/32", "dev", "lo").CombinedOutput(); err != nil {
			return fmt.Errorf("forward: ip addr add %s/32 dev lo: %v: %s", ip, err, strings.TrimSpace(string(out)))
		}
		local = append(local, ip)
	}
	var parsed []forward.Rule
	for _, r := range rules {
		rule, err := forward.ParseRuleOn(r, local)
		if err != nil {
			return err
		}
		parsed = append(parsed, rule)
	}
	return forward.Serve(ctx, parsed, func() {
		if readyFile != "" {
			os.WriteFile(readyFile, []byte("ready\n"), 0o600)
		}
	})
}

// bringLoopbackUp sets IFF_UP on lo, as `ip link set lo up` does.
func bringLoopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}
