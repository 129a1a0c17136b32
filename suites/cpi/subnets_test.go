package cpi

import "testing"

func TestAddressIn(t *testing.T) {
	cases := []struct {
		cidrs string
		n     int
		want  string // "" for an error
	}{
		{"192.0.2.0/24", 7, "192.0.2.7/24"},
		{"192.0.2.9/24", 7, "192.0.2.7/24"}, // host bits ignored, as the CPI's net.ParseCIDR does
		{"2001:db8::/64, 203.0.113.0/24", 10, "203.0.113.10/24"},
		{"10.0.0.0/16", 300, "10.0.1.44/16"},
		{"192.0.2.0/24", 255, ""}, // broadcast
		{"192.0.2.0/24", 0, ""},   // network
		{"192.0.2.0/31", 1, ""},
		{"2001:db8::/64", 1, ""},
		{"nope", 1, ""},
	}
	for _, c := range cases {
		got, err := addressIn(c.cidrs, c.n)
		if c.want == "" {
			if err == nil {
				t.Errorf("addressIn(%q, %d) = %q, want an error", c.cidrs, c.n, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("addressIn(%q, %d) = %q, %v; want %q", c.cidrs, c.n, got, err, c.want)
		}
	}
}
