package stack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/vsphere-conformance/vsphere-conformance/sim/images"
	"github.com/vsphere-conformance/vsphere-conformance/sim/node"
)

// SonobuoyImages are the images a `sonobuoy run` on the hermetic target
// uses, present in every real node's containerd (there is no registry).
type SonobuoyImages struct {
	Vsconform string // the plugin: this vsconform, /vsconform, user 65532
	Sonobuoy  string // aggregator and worker: the pinned sonobuoy, /sonobuoy
}

// imageUser is the plugin's numeric user, so runAsNonRoot can be checked
// (distroless's nonroot, as in the Dockerfile).
const imageUser = "65532:65532"

var notTagChar = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// LoadSonobuoyImages builds both images as OCI archives, from self (a
// static vsconform) and the pinned sonobuoy in the target's bin dir, and
// imports them into the containerd of each real node of the running target.
func LoadSonobuoyImages(ctx context.Context, stateDir, self, version string) (SonobuoyImages, error) {
	s, err := Load(stateDir)
	if err != nil {
		return SonobuoyImages{}, err
	}
	if len(s.RealNodes) == 0 {
		return SonobuoyImages{}, fmt.Errorf("the hermetic target at %s has no real node: pods cannot run (model field kubelet: real)", stateDir)
	}
	sonobuoyBin := filepath.Join(s.BinDir, "sonobuoy")
	out, err := exec.CommandContext(ctx, sonobuoyBin, "version", "--short").Output()
	if err != nil {
		return SonobuoyImages{}, fmt.Errorf("%s version: %w", sonobuoyBin, err)
	}
	tag := func(v string) string {
		if v = notTagChar.ReplaceAllString(strings.TrimSpace(v), "-"); v == "" {
			return "dev"
		}
		return v
	}
	refs := SonobuoyImages{
		Vsconform: "registry.vsconform.local/vsconform:" + tag(version),
		Sonobuoy:  "registry.vsconform.local/sonobuoy:" + tag(string(out)),
	}
	plugin, err := images.StaticBinary(refs.Vsconform, self, imageUser, "sonobuoy", "run")
	if err != nil {
		return refs, err
	}
	aggregator, err := images.StaticBinary(refs.Sonobuoy, sonobuoyBin, "")
	if err != nil {
		return refs, err
	}
	dir := s.path("images")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return refs, err
	}
	var archives []string
	for file, img := range map[string]images.Image{"vsconform.tar": plugin, "sonobuoy.tar": aggregator} {
		path := filepath.Join(dir, file)
		if err := writeArchive(path, img); err != nil {
			return refs, err
		}
		archives = append(archives, path)
	}
	for _, rn := range s.RealNodes {
		sock := node.Layout{Dir: rn.Dir}.ContainerdSocket()
		for _, a := range archives {
			if err := images.Import(ctx, "ctr", sock, "k8s.io", a); err != nil {
				return refs, fmt.Errorf("node %s: %w", rn.Name, err)
			}
		}
	}
	return refs, nil
}

// writeArchive writes one image as an OCI archive file.
func writeArchive(path string, img images.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = images.WriteArchive(f, img)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("image %s: %w", img.Name, err)
	}
	return nil
}
