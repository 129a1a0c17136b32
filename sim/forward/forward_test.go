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
	for _, tc := range []struct {
		in      string
		wantErr bool
	}{
		{"tcp:127.0.0.1:6443=unix:/tmp/api.sock", false},
		{"unix:/tmp/api.sock=tcp:127.0.0.1:6443", false},
		{"tcp:0.0.0.0:6443=unix:/tmp/a.sock", true},
		{"tcp:10.0.0.1:6443=unix:/tmp/a.sock", true},
		{"tcp:127.0.0.1=unix:/tmp/a.sock", true},
		{"udp:127.0.0.1:1=unix:/a", true},
		{"tcp:127.0.0.1:1", true},
		{"unix:=tcp:127.0.0.1:1", true},
	} {
		_, err := ParseRule(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseRule(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
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
