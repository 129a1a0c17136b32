package forward

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"
)

func TestParseRule(t *testing.T) {
	local := []net.IP{net.ParseIP("10.96.0.1")}
	for _, tc := range []struct {
		in      string
		wantErr bool
		// onLocal is the result of ParseRuleOn with local, when it differs.
		onLocalOK bool
	}{
		{in: "tcp:10.96.0.1:443=unix:/tmp/api.sock", wantErr: true, onLocalOK: true},
		{in: "unix:/tmp/a.sock=tcp:10.96.0.2:443", wantErr: true},
		{"tcp:127.0.0.1:6443=unix:/tmp/api.sock", false, true},
		{"unix:/tmp/api.sock=tcp:127.0.0.1:6443", false, true},
		{"tcp:0.0.0.0:6443=unix:/tmp/a.sock", true, false},
		{"tcp:10.0.0.1:6443=unix:/tmp/a.sock", true, false},
		{"tcp:127.0.0.1=unix:/tmp/a.sock", true, false},
		{"udp:127.0.0.1:1=unix:/a", true, false},
		{"tcp:127.0.0.1:1", true, false},
		{"unix:=tcp:127.0.0.1:1", true, false},
	} {
		_, err := ParseRule(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseRule(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
		}
		if _, err := ParseRuleOn(tc.in, local); (err == nil) != tc.onLocalOK {
			t.Errorf("ParseRuleOn(%q, %v) error = %v, want ok %v", tc.in, local, err, tc.onLocalOK)
		}
	}
}

// A TCP echo server reached through tcp -> unix -> tcp relays, as the
// namespace pair does.
func TestRelayChain(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	sock := filepath.Join(t.TempDir(), "relay.sock")
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	frontAddr := front.Addr().String()
	front.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := func(rule string) {
		r, err := ParseRule(rule)
		if err != nil {
			t.Fatal(err)
		}
		ready := make(chan struct{})
		go Serve(ctx, []Rule{r}, func() { close(ready) })
		select {
		case <-ready:
		case <-time.After(5 * time.Second):
			t.Fatalf("relay %s not ready", rule)
		}
	}
	start("unix:" + sock + "=tcp:" + echo.Addr().String())
	start("tcp:" + frontAddr + "=unix:" + sock)

	c, err := net.DialTimeout("tcp", frontAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo through relays = %q, %v", buf, err)
	}
}
