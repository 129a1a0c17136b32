package stack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// binDir returns the directory of the pinned binaries and vsconform, or
// skips: `make test` sets VSCONFORM_BIN_DIR after building them.
func binDir(t *testing.T) string {
	dir := os.Getenv("VSCONFORM_BIN_DIR")
	if dir == "" || testing.Short() {
		t.Skip("VSCONFORM_BIN_DIR not set (run through `make test`)")
	}
	return dir
}

// TestHermeticTarget brings the whole stack up and proves, through the real
// components, that the default StorageClass provisions a CNS volume and that
// the CPI initialises nodes from their VMs and tags; then that the legacy
// INI form of the CPI config gives the same nodes (cpiforms_test.go).
func TestHermeticTarget(t *testing.T) {
	bin := binDir(t)
	dir := filepath.Join(t.TempDir(), "sim")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	before := machineState(dir)
	start := time.Now()
	s, err := Up(ctx, Options{Dir: dir, BinDir: bin, Self: filepath.Join(bin, "vsconform"), Out: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sim up took %s", time.Since(start).Round(time.Millisecond))
	downDone := false
	defer func() {
		if !downDone {
			Down(dir)
		}
	}()

	t.Run("a second bring-up is refused", func(t *testing.T) {
		_, err := Up(ctx, Options{Dir: dir, BinDir: bin, Self: filepath.Join(bin, "vsconform")})
		if err == nil || !strings.Contains(err.Error(), "already running") {
			t.Fatalf("second sim up: %v, want an 'already running' error", err)
		}
	})

	cfg, err := target.LoadConfig(s.TargetConfig, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	tgt, err := target.Connect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()

	t.Run("the CPI sets providerID and the zone label from the VM's tags", func(t *testing.T) {
		want := map[string]string{}
		for _, n := range s.VCenter.Nodes {
			want[n.Name] = n.BIOSUUID
		}
		nodes, err := tgt.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes.Items) != len(want) {
			t.Fatalf("%d nodes, want %d", len(nodes.Items), len(want))
		}
		for _, n := range nodes.Items {
			if got := n.Spec.ProviderID; got != "vsphere://"+want[n.Name] {
				t.Errorf("node %s providerID %q, want vsphere://%s", n.Name, got, want[n.Name])
			}
		}
		// The hermetic model tags cluster-a with zone-a and the datacenter with region-1.
		node, err := tgt.Kube.CoreV1().Nodes().Get(ctx, "node-a1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if z := node.Labels["topology.kubernetes.io/zone"]; z != "zone-a" {
			t.Errorf("node-a1 zone label %q, want zone-a (labels %v)", z, node.Labels)
		}
		if r := node.Labels["topology.kubernetes.io/region"]; r != "region-1" {
			t.Errorf("node-a1 region label %q, want region-1", r)
		}
	})

	// What the CCM did to the nodes under the YAML config, for the INI form below.
	yamlNodes := nodeViews(ctx, t, tgt.Kube, s)

	t.Run("a PVC of the default StorageClass binds to a CNS volume", func(t *testing.T) {
		pvc := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: "smoke"},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			},
		}
		if _, err := tgt.Kube.CoreV1().PersistentVolumeClaims("default").Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		bound, err := tgt.WaitForPVCBound(ctx, "default", "smoke")
		if err != nil {
			t.Fatal(err)
		}
		if sc := *bound.Spec.StorageClassName; sc != DefaultStorageClass {
			t.Errorf("claim got StorageClass %q, want the default %q", sc, DefaultStorageClass)
		}
		id, err := tgt.VolumeHandle(ctx, bound)
		if err != nil || id == "" {
			t.Fatalf("volume handle: %q, %v", id, err)
		}
		vol, err := tgt.CNSVolume(ctx, id)
		if err != nil || vol == nil {
			t.Fatalf("CNS volume %s: %v, %v", id, vol, err)
		}
		if err := tgt.Kube.CoreV1().PersistentVolumeClaims("default").Delete(ctx, "smoke", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := tgt.WaitForCNSVolume(ctx, id, false); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("nothing listens on a non-loopback address", func(t *testing.T) {
		pids := stackPIDs(s)
		if len(pids) < len(s.Processes)+4 {
			t.Fatalf("found only %d PIDs", len(pids))
		}
		// A real node's kubelet listens on the node IP inside the node's
		// own network namespace, which only the host's veth route reaches.
		nodeNS := map[string]bool{}
		for _, rn := range s.RealNodes {
			if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", rn.HolderPID)); err == nil {
				nodeNS[ns] = true
			}
		}
		var hostPIDs []int
		for _, pid := range pids {
			if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid)); err != nil || !nodeNS[ns] {
				hostPIDs = append(hostPIDs, pid)
			}
		}
		pids = hostPIDs
		bad, err := nonLoopbackListeners(pids)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bad {
			t.Error(b)
		}
	})

	t.Run("status reports every component healthy", func(t *testing.T) {
		_, health, err := Status(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range health {
			if !h.Healthy {
				t.Errorf("%s unhealthy: %s (log %s)", h.Component, h.Detail, h.Log)
			}
		}
	})

	tgt.Close()
	start = time.Now()
	if err := Down(dir); err != nil {
		t.Fatal(err)
	}
	downDone = true
	t.Logf("sim down took %s", time.Since(start).Round(time.Millisecond))
	for _, p := range s.Processes {
		if p.Alive() {
			t.Errorf("%s (pid %d) still runs after sim down", p.Name, p.PID)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("sim down left %d entries in %s", len(entries), dir)
	}
	// The real node's kubelet, containerd, pods and disks changed the
	// machine; sim down puts it back as it was.
	if diff := diffMachineState(before, machineState(dir)); len(diff) > 0 {
		t.Errorf("the machine after sim down differs from before sim up:\n%s", strings.Join(diff, "\n"))
	}

	t.Run("the legacy INI CPI config gives the same nodes as the YAML config", func(t *testing.T) {
		testCPIConfigINI(ctx, t, bin, yamlNodes)
	})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
