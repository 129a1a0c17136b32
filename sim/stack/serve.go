package stack

import (
	"context"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/vsphere-conformance/vsphere-conformance/sim/forward"
)

// ServeForward runs the forwarder component until ctx ends: with loUp it
// first brings up the loopback interface of the (new) network namespace it
// was started in, then writes readyFile once every listener is open.
func ServeForward(ctx context.Context, rules []string, readyFile string, loUp bool) error {
	if loUp {
		if err := bringLoopbackUp(); err != nil {
			return fmt.Errorf("forward: bring lo up: %w", err)
		}
	}
	var parsed []forward.Rule
	for _, r := range rules {
		rule, err := forward.ParseRule(r)
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
