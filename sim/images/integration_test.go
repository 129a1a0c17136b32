package images

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	containerdBin = "/usr/bin/containerd"
	ctrBin        = "/usr/bin/ctr"
	busyboxBin    = "/usr/bin/busybox"
)

// A private containerd imports and unpacks both node images: proof that
// containerd accepts the layout, the names and the diff_ids.
func TestImportIntoContainerd(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (starts containerd); skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: containerd mounts overlay snapshots to unpack")
	}
	for _, p := range []string{containerdBin, ctrBin, busyboxBin} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("needs %s (Debian packages containerd and busybox-static): %v", p, err)
		}
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("needs the go command to build the pause binary: %v", err)
	}

	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	pauseBin := filepath.Join(dir, "pause")
	build := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags", "-s -w", "-o", pauseBin, "../node/pause")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building pause: %v\n%s", err, out)
	}
	busybox, err := Busybox(busyboxBin)
	if err != nil {
		t.Fatal(err)
	}

	sock := startContainerd(t, dir)

	const ns = "k8s.io"
	wantSnapshots := map[string]string{}
	for _, img := range []Image{Pause(pauseBin), busybox} {
		archive := write(t, img)
		wantSnapshots[img.Name] = parseArchive(t, archive).config.RootFS.DiffIDs[0]
		p := filepath.Join(dir, strings.NewReplacer("/", "_", ":", "_").Replace(img.Name)+".tar")
		if err := os.WriteFile(p, archive, 0o644); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := Import(ctx, ctrBin, sock, ns, p); err != nil {
			t.Fatal(err)
		}
		t.Logf("imported %s (%d bytes) in %v", img.Name, len(archive), time.Since(start).Round(time.Millisecond))
		// A second import of the same bytes must be harmless.
		if err := Import(ctx, ctrBin, sock, ns, p); err != nil {
			t.Fatalf("re-import: %v", err)
		}
	}

	names := ctrLines(ctx, t, sock, ns, "images", "ls", "-q")
	// A one-layer image's chain ID is its diff_id: the unpacked snapshot
	// exists under that key only if containerd accepted the layer.
	snapshots := strings.Join(ctrLines(ctx, t, sock, ns, "snapshots", "ls"), "\n")
	for name, diffID := range wantSnapshots {
		if !slices.Contains(names, name) {
			t.Errorf("ctr images ls: %q missing from %q", name, names)
		}
		if !strings.Contains(snapshots, diffID) {
			t.Errorf("%s not unpacked: no snapshot %s in\n%s", name, diffID, snapshots)
		}
	}
	if len(names) != len(wantSnapshots) {
		t.Errorf("ctr images ls = %q, want exactly the %d imported names", names, len(wantSnapshots))
	}
}

// startContainerd runs containerd with its root, state, socket and opt
// directory under dir, and stops it (by the PID started here) at cleanup.
func startContainerd(t *testing.T, dir string) (sock string) {
	t.Helper()
	sock = filepath.Join(dir, "containerd.sock")
	cfg := fmt.Sprintf(`version = 2
root = %q
state = %q
# The CRI plugin would reach for CNI and the host's cgroups; importing needs none of it.
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %q

[ttrpc]
  address = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc", filepath.Join(dir, "opt"))
	cfgPath := filepath.Join(dir, "containerd.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(containerdBin, "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Should the test binary die, containerd must not outlive it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("starting containerd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			t.Errorf("containerd (pid %d) ignored SIGTERM; killing it", cmd.Process.Pid)
			_ = cmd.Process.Kill()
			<-exited
		}
		logf.Close()
		unmountUnder(t, dir)
		if t.Failed() {
			if log, err := os.ReadFile(logf.Name()); err == nil {
				t.Logf("containerd log:\n%s", log)
			}
		}
	})

	deadline := time.Now().Add(20 * time.Second)
	for {
		err := exec.Command(ctrBin, "--address", sock, "--timeout", "2s", "version").Run()
		if err == nil {
			return sock
		}
		select {
		case <-exited:
			t.Fatalf("containerd exited before serving: %v", cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd not serving on %s after 20s: %v", sock, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// unmountUnder removes mounts a containerd killed mid-unpack would leave
// under dir, so that the temporary directory can be deleted.
func unmountUnder(t *testing.T, dir string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			points = append(points, f[4])
		}
	}
	// Deepest first.
	for i := len(points) - 1; i >= 0; i-- {
		if err := syscall.Unmount(points[i], syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", points[i], err)
		}
	}
}

func ctrLines(ctx context.Context, t *testing.T, sock, ns string, args ...string) []string {
	t.Helper()
	out, err := exec.CommandContext(ctx, ctrBin, append([]string{"--address", sock, "-n", ns}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ctr %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}
