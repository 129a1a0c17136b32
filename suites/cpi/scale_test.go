package cpi

import "testing"

func TestInitialisedState(t *testing.T) {
	names := []string{"n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7"}
	cases := []struct {
		done map[string]bool
		want string
	}{
		{map[string]bool{"n0": true, "n1": true, "n2": true, "n3": true, "n4": true, "n5": true, "n6": true, "n7": true}, "8 of 8 initialised"},
		{map[string]bool{"n0": true, "n2": true, "n3": true, "n4": true, "n5": true, "n6": true, "n7": true}, "7 of 8 initialised; not yet: n1"},
		{map[string]bool{"n7": true}, "1 of 8 initialised; not yet: n0, n1, n2, n3, n4 and 2 more"},
	}
	for _, c := range cases {
		if got := initialisedState(names, c.done); got != c.want {
			t.Errorf("initialisedState(%v) = %q, want %q", c.done, got, c.want)
		}
	}
}
