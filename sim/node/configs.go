package node

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// Layout is where one real node keeps its state, all under Dir (the state
// directory of the hermetic target), so `sim down` removes it in one go.
type Layout struct {
	Dir string
}

func (l Layout) path(elem ...string) string {
	return filepath.Join(append([]string{l.Dir}, elem...)...)
}

// Paths of the node's components.
func (l Layout) ContainerdConfig() string { return l.path("containerd", "config.toml") }
func (l Layout) ContainerdSocket() string { return l.path("containerd", "containerd.sock") }
func (l Layout) CNIConfDir() string       { return l.path("cni", "net.d") }
func (l Layout) KubeletConfig() string    { return l.path("kubelet-config.yaml") }
func (l Layout) ResolvConf() string       { return l.path("resolv.conf") }
func (l Layout) Stash() string            { return l.path("stash") }
func (l Layout) ImagesDir() string        { return l.path("images") }

// CSISocket is the node plugin's endpoint inside the node's mount namespace,
// where the kubelet's CSI client dials it (the upstream manifests'
// /var/lib/kubelet/plugins/<driver>/csi.sock).
func CSISocket(driver string) string {
	return filepath.Join(KubeletRoot, "plugins", driver, "csi.sock")
}

// The images every real node has, imported from archives our code writes (no
// registry): the pod sandbox and the busybox image data-checking pods run.
const (
	// The pause image carries the upstream name, which specs' pods also run
	// (target.PodImage): present locally, the kubelet never pulls it.
	PauseImage = "registry.k8s.io/pause:3.10"
	DataImage  = "registry.vsconform.local/busybox:data"
)

// ContainerdConfig renders containerd 1.6's config (version 2) for one node:
// root, state and socket under the layout; no TCP or metrics listeners; the
// CRI's stream server on the node's loopback; cgroupfs (no systemd here);
// restrict_oom_score_adj because this machine kind lacks CAP_SYS_RESOURCE and
// runc cannot lower a sandbox's oom_score_adj (see NODE.md).
func ContainerdConfig(l Layout) string {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	return strings.Join([]string{
		`version = 2`,
		`root = ` + q(l.path("containerd", "root")),
		`state = ` + q(l.path("containerd", "state")),
		`disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]`,
		`[grpc]`,
		`  address = ` + q(l.ContainerdSocket()),
		`[ttrpc]`,
		`  address = ` + q(l.path("containerd", "containerd.sock.ttrpc")),
		`[metrics]`,
		`  address = ""`,
		`[plugins."io.containerd.grpc.v1.cri"]`,
		`  sandbox_image = ` + q(PauseImage),
		`  disable_tcp_service = true`,
		`  stream_server_address = "127.0.0.1"`,
		`  stream_server_port = "0"`,
		`  restrict_oom_score_adj = true`,
		`  enable_selinux = false`,
		`  [plugins."io.containerd.grpc.v1.cri".containerd]`,
		`    snapshotter = "overlayfs"`,
		`    default_runtime_name = "runc"`,
		`    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]`,
		`      runtime_type = "io.containerd.runc.v2"`,
		`      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]`,
		`        SystemdCgroup = false`,
		`  [plugins."io.containerd.grpc.v1.cri".cni]`,
		`    bin_dir = "/usr/lib/cni"`,
		`    conf_dir = ` + q(l.CNIConfDir()),
		``,
	}, "\n")
}

// CNIConfig is the pod network of one node: a bridge inside the node's own
// network namespace with a /24 of its own; no masquerading, since nothing
// leaves the namespace. routes (CIDRs) are sent to the bridge's gateway,
// the node's namespace, where they are served locally (the API server's
// service address, vCenter as pods see it); pods get no default route.
func CNIConfig(l Layout, podSubnet string, routes ...string) string {
	var rs []any
	for _, r := range routes {
		rs = append(rs, map[string]any{"dst": r})
	}
	ipam := map[string]any{
		"type":    "host-local",
		"ranges":  []any{[]any{map[string]any{"subnet": podSubnet}}},
		"dataDir": l.path("cni", "ipam"),
	}
	if len(rs) > 0 {
		ipam["routes"] = rs
	}
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "vsconform",
		"plugins": []any{map[string]any{
			"type":        "bridge",
			"bridge":      "cni0",
			"isGateway":   true,
			"ipMasq":      false,
			"hairpinMode": true,
			"ipam":        ipam,
		}},
	}
	data, _ := json.MarshalIndent(conf, "", "  ")
	return string(data)
}

// Kubelet is what differs between real nodes.
type Kubelet struct {
	NodeIP     string
	Port       int
	ClientCA   string // the cluster CA: the API server's client certificate is accepted
	CgroupRoot string // the node's own cgroup, so teardown removes exactly it
}

// KubeletConfig renders the KubeletConfiguration (kubelet.config.k8s.io/v1beta1).
// Choices for this machine kind: cgroupfs on cgroup v1 (failCgroupV1 false);
// no iptables chains; eviction thresholds low enough that a busy build disk
// does not evict the test pods; no cluster DNS (pods reach nothing by name).
func KubeletConfig(l Layout, k Kubelet) (string, error) {
	if k.NodeIP == "" || k.Port == 0 || k.CgroupRoot == "" {
		return "", fmt.Errorf("kubelet config: node IP, port and cgroup root are required")
	}
	cfg := map[string]any{
		"apiVersion":               "kubelet.config.k8s.io/v1beta1",
		"kind":                     "KubeletConfiguration",
		"address":                  k.NodeIP,
		"port":                     k.Port,
		"readOnlyPort":             0,
		"healthzBindAddress":       "127.0.0.1",
		"healthzPort":              10248,
		"containerRuntimeEndpoint": "unix://" + l.ContainerdSocket(),
		"cgroupDriver":             "cgroupfs",
		"cgroupRoot":               k.CgroupRoot,
		"failCgroupV1":             false,
		"failSwapOn":               false,
		"makeIPTablesUtilChains":   false,
		"resolvConf":               l.ResolvConf(),
		"serializeImagePulls":      false,
		"registerNode":             true,
		"authentication": map[string]any{
			"anonymous": map[string]any{"enabled": false},
			"webhook":   map[string]any{"enabled": false},
			"x509":      map[string]any{"clientCAFile": k.ClientCA},
		},
		"authorization": map[string]any{"mode": "AlwaysAllow"},
		"evictionHard": map[string]any{
			"memory.available":  "100Mi",
			"nodefs.available":  "1%",
			"nodefs.inodesFree": "1%",
			"imagefs.available": "1%",
		},
		"imageGCHighThresholdPercent": 100,
		"imageGCLowThresholdPercent":  99,
		"nodeStatusUpdateFrequency":   "10s",
		"syncFrequency":               "10s",
		"fileCheckFrequency":          "20s",
		"volumeStatsAggPeriod":        "0s",
	}
	data, err := yaml.Marshal(cfg)
	return string(data), err
}
