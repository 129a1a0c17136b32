package node

import "testing"

func TestIdentitySerial(t *testing.T) {
	for _, tc := range []struct {
		uuid, want string
		bad        bool
	}{
		{uuid: "4211f2a4-5b6c-7d8e-9fa0-b1c2d3e4f506", want: "VMware-42 11 f2 a4 5b 6c 7d 8e-9f a0 b1 c2 d3 e4 f5 06"},
		{uuid: "4211F2A4-5B6C-7D8E-9FA0-B1C2D3E4F506", want: "VMware-42 11 f2 a4 5b 6c 7d 8e-9f a0 b1 c2 d3 e4 f5 06"},
		{uuid: "4211f2a4", bad: true},
		{uuid: "zz11f2a4-5b6c-7d8e-9fa0-b1c2d3e4f506", bad: true},
	} {
		got, err := Identity{BIOSUUID: tc.uuid}.Serial()
		if tc.bad {
			if err == nil {
				t.Errorf("%s: no error", tc.uuid)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.uuid, got, err, tc.want)
		}
	}
}
