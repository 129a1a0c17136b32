// Package forward relays byte streams between a listener and a dialled
// address. The hermetic target runs the vSphere CSI controller and syncer in a
// network namespace that has only loopback (their metrics ports bind every
// interface, fixed in their code); unix sockets cross namespaces, so a pair of
// relays (TCP in the namespace -> unix socket -> TCP on the host loopback)
// lets them reach the API server and vCenter at the same 127.0.0.1 addresses
// the rest of the stack uses, and TLS names still match.
package forward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"time"
)

// Endpoint is "tcp:127.0.0.1:PORT" or "unix:/path/to.sock".
type Endpoint struct{ Network, Address string }

// ParseEndpoint parses the "network:address" form and refuses TCP addresses
// that are not on loopback: nothing of the harness listens elsewhere.
func ParseEndpoint(s string) (Endpoint, error) { return parseEndpoint(s, nil) }

// parseEndpoint also allows the TCP addresses in local: those a holder owns
// in a network namespace of its own.
func parseEndpoint(s string, local []net.IP) (Endpoint, error) {
	network, addr, ok := strings.Cut(s, ":")
	if !ok || addr == "" {
		return Endpoint{}, fmt.Errorf("endpoint %q: want tcp:HOST:PORT or unix:PATH", s)
	}
	switch network {
	case "unix":
	case "tcp":
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return Endpoint{}, fmt.Errorf("endpoint %q: %v", s, err)
		}
		ip := net.ParseIP(host)
		if ip == nil || !(ip.IsLoopback() || slices.ContainsFunc(local, ip.Equal)) {
			return Endpoint{}, fmt.Errorf("endpoint %q: only loopback addresses are allowed", s)
		}
	default:
		return Endpoint{}, fmt.Errorf("endpoint %q: unknown network %q", s, network)
	}
	return Endpoint{network, addr}, nil
}

func (e Endpoint) String() string { return e.Network + ":" + e.Address }

// Rule relays connections accepted on From to To.
type Rule struct{ From, To Endpoint }

// ParseRule parses "FROM=TO".
func ParseRule(s string) (Rule, error) { return ParseRuleOn(s, nil) }

// ParseRuleOn parses "FROM=TO" for a forwarder in a network namespace of
// its own that holds the addresses in local: FROM may listen on them too.
func ParseRuleOn(s string, local []net.IP) (Rule, error) {
	from, to, ok := strings.Cut(s, "=")
	if !ok {
		return Rule{}, fmt.Errorf("forward rule %q: want FROM=TO", s)
	}
	f, err := parseEndpoint(from, local)
	if err != nil {
		return Rule{}, err
	}
	t, err := ParseEndpoint(to)
	if err != nil {
		return Rule{}, err
	}
	return Rule{f, t}, nil
}

// Serve listens on every rule's From and relays until ctx ends. It returns
// once all listeners are open through ready (may be nil), so callers can
// signal readiness.
func Serve(ctx context.Context, rules []Rule, ready func()) error {
	var listeners []net.Listener
	for _, r := range rules {
		l, err := (&net.ListenConfig{}).Listen(ctx, r.From.Network, r.From.Address)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return fmt.Errorf("forward: listen %s: %w", r.From, err)
		}
		listeners = append(listeners, l)
	}
	if ready != nil {
		ready()
	}
	var wg sync.WaitGroup
	for i, l := range listeners {
		wg.Add(1)
		go func(l net.Listener, to Endpoint) {
			defer wg.Done()
			accept(ctx, l, to)
		}(l, rules[i].To)
	}
	<-ctx.Done()
	for _, l := range listeners {
		l.Close()
	}
	wg.Wait()
	return nil
}

func accept(ctx context.Context, l net.Listener, to Endpoint) {
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			time.Sleep(50 * time.Millisecond) // transient accept error: do not spin
			continue
		}
		go relay(ctx, c, to)
	}
}

func relay(ctx context.Context, in net.Conn, to Endpoint) {
	defer in.Close()
	d := net.Dialer{Timeout: 10 * time.Second}
	out, err := d.DialContext(ctx, to.Network, to.Address)
	if err != nil {
		return // the client sees the connection close, as with a refused port
	}
	defer out.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		closeWrite(dst)
		done <- struct{}{}
	}
	go pipe(out, in)
	go pipe(in, out)
	select {
	case <-done:
		<-done
	case <-ctx.Done():
	}
}

// closeWrite half-closes so the peer sees EOF while replies still flow.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}
