package target

import "testing"

func TestVMRun(t *testing.T) {
	for _, tc := range []struct{ annotation, want string }{
		{"", ""},
		{"vsconform.io/run=20261203-091101", "20261203-091101"},
		{"made by hand\nvsconform.io/run=r1\n", "r1"},
		{"  vsconform.io/run=r2  ", "r2"},
		{"vsconform.io/runner=x", ""},
		{"notes: vsconform.io/run=r3", ""},
	} {
		if got := vmRun(tc.annotation); got != tc.want {
			t.Errorf("vmRun(%q) = %q, want %q", tc.annotation, got, tc.want)
		}
	}
}
