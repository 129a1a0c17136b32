package target

import "testing"

func TestImageNameTag(t *testing.T) {
	for _, c := range []struct{ image, name, tag string }{
		{"registry.k8s.io/csi-vsphere/driver:v3.3.1", "driver", "v3.3.1"},
		{"registry.k8s.io/sig-storage/csi-provisioner:v5.2.0", "csi-provisioner", "v5.2.0"},
		{"localhost:5000/syncer@sha256:abc", "syncer", "sha256:abc"},
		{"quay.io/metallb/controller", "controller", ""},
		{"busybox", "busybox", ""},
	} {
		if name, tag := imageNameTag(c.image); name != c.name || tag != c.tag {
			t.Errorf("%s: got %q %q, want %q %q", c.image, name, tag, c.name, c.tag)
		}
	}
}
