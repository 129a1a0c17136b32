package loopback

import "testing"

func TestListenAddr(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "127.0.0.1:0"},
		{"127.0.0.1:8443", "127.0.0.1:8443"},
		{"localhost:80", "127.0.0.1:80"},
		{"127.1.2.3:0", "127.1.2.3:0"},
		{"0.0.0.0:80", ""},
		{"192.0.2.1:80", ""},
		{"[::1]:80", ""},
		{"127.0.0.1", ""},
	} {
		got, err := ListenAddr(tc.in)
		if (err != nil) != (tc.want == "") || got != tc.want {
			t.Errorf("ListenAddr(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
