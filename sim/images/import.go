package images

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Import loads an archive written by WriteArchive into containerd's
// namespace (the kubelet's CRI uses "k8s.io") and unpacks it for the default
// snapshotter, which the CRI needs before it can create containers from it.
// The image is registered under the name in its index annotation.
func Import(ctx context.Context, ctrPath, containerdSocket, namespace, archivePath string) error {
	base := []string{"--address", containerdSocket, "-n", namespace, "images", "import"}
	out, err := runCtr(ctx, ctrPath, append(base, "--all-platforms", archivePath)...)
	// Only a ctr that does not know the flag gets a second try without it.
	if err != nil && ctx.Err() == nil && strings.Contains(out, "flag provided but not defined") {
		out, err = runCtr(ctx, ctrPath, append(base, archivePath)...)
	}
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fmt.Errorf("ctr images import %s into %s (namespace %s): %w: %s",
			archivePath, containerdSocket, namespace, err, strings.TrimSpace(out))
	}
	return nil
}

func runCtr(ctx context.Context, ctrPath string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, ctrPath, args...).CombinedOutput()
	return string(out), err
}
