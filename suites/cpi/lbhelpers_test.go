package cpi

import "testing"

func TestParseAddressRange(t *testing.T) {
	tests := []struct {
		in   string
		ok   bool
		in1  string // an address inside
		out1 string // an address outside
	}{
		{"192.168.99.105-192.168.99.120", true, "192.168.99.120", "192.168.99.121"},
		{" 192.0.2.10 - 192.0.2.11 ", true, "192.0.2.10", "192.0.2.9"},
		{"10.1.0.0/30", true, "10.1.0.3", "10.1.0.4"},
		{"10.1.0.5/30", true, "10.1.0.4", "10.1.0.8"}, // masked like MetalLB does
		{"192.0.2.11-192.0.2.10", false, "", ""},
		{"192.0.2.1-nope", false, "", ""},
		{"not-an-ip", false, "", ""},
		{"10.0.0.0/33", false, "", ""},
	}
	for _, tc := range tests {
		r, err := parseAddressRange(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("parseAddressRange(%q) error = %v, want ok=%t", tc.in, err, tc.ok)
			continue
		}
		if !tc.ok {
			continue
		}
		if !r.contains(tc.in1) || r.contains(tc.out1) || r.contains("garbage") {
			t.Errorf("%q: contains(%s)=%t contains(%s)=%t", tc.in, tc.in1, r.contains(tc.in1), tc.out1, r.contains(tc.out1))
		}
	}
}
