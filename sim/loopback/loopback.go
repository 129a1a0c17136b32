// Package loopback checks the listen address of a hermetic target's server:
// they bind to loopback IPv4 only, never to an address another machine reaches.
package loopback

import (
	"fmt"
	"net"
)

// ListenAddr returns addr with "localhost" spelled 127.0.0.1, "" as
// 127.0.0.1:0 (any free port), or an error for anything not on 127.0.0.0/8.
func ListenAddr(addr string) (string, error) {
	if addr == "" {
		return "127.0.0.1:0", nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.To4() == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("listen address %q: only loopback IPv4 addresses (127.0.0.0/8) are allowed", addr)
	}
	return net.JoinHostPort(ip.String(), port), nil
}
