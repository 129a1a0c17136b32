package main

import (
	"os"
	"regexp"
	"testing"
)

// The hermetic target's components are named by their binaries' own build
// info: the pinned upstream versions, each with its checksum.
func TestBinaryComponents(t *testing.T) {
	dir := os.Getenv("VSCONFORM_BIN_DIR")
	if dir == "" {
		t.Skip("VSCONFORM_BIN_DIR not set (run through `make test`)")
	}
	cs, errs := binaryComponents(dir)
	if len(errs) > 0 {
		t.Errorf("errors: %v", errs)
	}
	got := map[string]string{}
	for _, c := range cs {
		got[c.Name] = c.Version
		if !regexp.MustCompile(`sha256 [0-9a-f]{64}$`).MatchString(c.Source) {
			t.Errorf("%s: source %q has no checksum", c.Name, c.Source)
		}
	}
	for name, want := range map[string]string{"kube-apiserver": "v1.34.2", "vsphere-csi": "v3.3.1", "sonobuoy": "v0.57.5"} {
		if got[name] != want {
			t.Errorf("%s: version %q, want %q (all: %v)", name, got[name], want, got)
		}
	}
	t.Logf("components: %v", got)
	if _, ok := got["vsconform"]; ok {
		t.Error("vsconform itself is listed as a component under test")
	}
}
