package stack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseWith(t *testing.T) {
	dir := t.TempDir()
	self, err := os.Executable() // an ELF executable
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "script")
	os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755)
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("x"), 0o644)
	for _, c := range []struct {
		name string
		args []string
		want string // error substring; "" = accepted
	}{
		{"one replacement", []string{"vsphere-csi=" + self}, ""},
		{"two", []string{"vsphere-csi=" + self, "csi-provisioner=" + self}, ""},
		{"no equals", []string{"vsphere-csi"}, "want NAME=PATH"},
		{"empty path", []string{"vsphere-csi="}, "want NAME=PATH"},
		{"unknown name", []string{"kube-apiserver=" + self}, "not a replaceable binary"},
		{"twice", []string{"vsphere-csi=" + self, "vsphere-csi=" + self}, "given twice"},
		{"missing file", []string{"vsphere-csi=" + filepath.Join(dir, "nope")}, "no such file"},
		{"a folder", []string{"vsphere-csi=" + dir}, "not a regular file"},
		{"not executable", []string{"vsphere-csi=" + plain}, "not executable"},
		{"a script", []string{"vsphere-csi=" + script}, "not a Linux executable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseWith(c.args)
			if c.want == "" {
				if err != nil || len(got) != len(c.args) {
					t.Fatalf("got %v, %v", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line with %q", err, c.want)
			}
		})
	}
}

// The overlay runs the user's copy and links every other pinned binary and
// the CRDs where the stack looks for them.
func TestOverlayBinDir(t *testing.T) {
	root := t.TempDir()
	bin := filepath.Join(root, "build", "bin")
	os.MkdirAll(filepath.Join(root, "build", "crds"), 0o755)
	os.WriteFile(filepath.Join(root, "build", "crds", "a.yaml"), []byte("kind: CustomResourceDefinition\n"), 0o644)
	os.MkdirAll(filepath.Join(bin, ".stamps"), 0o755)
	for _, n := range []string{"vsphere-csi", "vsphere-syncer"} {
		os.WriteFile(filepath.Join(bin, n), []byte("pinned "+n), 0o755)
	}
	mine := filepath.Join(root, "my-csi")
	os.WriteFile(mine, []byte("my build"), 0o755)
	overlay := filepath.Join(root, "state", "with", "bin")
	if err := overlayBinDir(overlay, bin, map[string]string{"vsphere-csi": mine}); err != nil {
		t.Fatal(err)
	}
	read := func(p string) string { b, _ := os.ReadFile(p); return string(b) }
	if got := read(filepath.Join(overlay, "vsphere-csi")); got != "my build" {
		t.Errorf("vsphere-csi is %q", got)
	}
	if fi, err := os.Lstat(filepath.Join(overlay, "vsphere-csi")); err != nil || fi.Mode()&os.ModeSymlink != 0 {
		t.Errorf("the replacement is not a copy: %v", err)
	}
	if got := read(filepath.Join(overlay, "vsphere-syncer")); got != "pinned vsphere-syncer" {
		t.Errorf("vsphere-syncer is %q", got)
	}
	if files, err := crdFiles(overlay); err != nil || len(files) != 1 || filepath.Dir(files[0]) != filepath.Join(root, "state", "with", "crds") {
		t.Errorf("crdFiles of the overlay: %v %v", files, err)
	}
}
