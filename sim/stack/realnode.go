package stack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vsphere-conformance/vsphere-conformance/sim/images"
	"github.com/vsphere-conformance/vsphere-conformance/sim/loopdisk"
	"github.com/vsphere-conformance/vsphere-conformance/sim/node"
)

// RealNode is what the state records of one real kubelet node, so `sim
// down` (any later process) can remove exactly what was made for it.
type RealNode struct {
	Name       string `json:"name"`
	Dir        string `json:"dir"`
	HolderPID  int    `json:"holderPID"`
	MountNS    string `json:"mountNS"`    // the holder's mount namespace, e.g. "mnt:[4026532301]"
	HostLink   string `json:"hostLink"`   // the host end of the node's veth pair
	CgroupRoot string `json:"cgroupRoot"` // the kubelet's cgroupRoot, one directory per hierarchy
}

// Addresses of the link between the host and a node's network namespace:
// the node's InternalIP (its VM's guest IP, which the CPI reports) sits on
// the node end, a link-local address on the host end, and the host routes
// the node IP to the link, so the API server reaches the kubelet and
// nothing leaves the machine.
const (
	hostLinkIP  = "169.254.77.1"
	kubeletPort = 10250
)

// What pods on a real node reach, with no kube-proxy or route off the
// machine: the node's holder owns both addresses in the node's network
// namespace and relays them to the API server and the vCenter simulator on
// the host's loopback. Both servers' certificates name them.
const (
	// ServiceCIDR is the cluster's Service range; KubernetesServiceIP, its
	// first address, is the "kubernetes" Service that in-cluster clients
	// dial (KUBERNETES_SERVICE_HOST, port 443).
	ServiceCIDR         = "10.96.0.0/16"
	KubernetesServiceIP = "10.96.0.1"
	// PodVCenterIP is vCenter as pods see it: https://PodVCenterIP/sdk.
	PodVCenterIP = "169.254.77.10"
)

// PodVCenterURL is the vCenter URL for pods on a real node.
const PodVCenterURL = "https://" + PodVCenterIP + "/sdk"

// realNodeBinaries are what a real node runs besides the pinned binaries.
var realNodeBinaries = []string{"containerd", "containerd-shim-runc-v2", "runc", "ctr", "mkfs.ext4", "mkfs.xfs", "xfs_growfs", "busybox", "ip", "losetup", "blkid", "blockdev"}

func realNodes(nodes []NodeVM) []NodeVM {
	var out []NodeVM
	for _, n := range nodes {
		if n.Real() {
			out = append(out, n)
		}
	}
	return out
}

// preflightRealNodes checks what a real node needs on the machine before
// anything starts, naming the Debian package that brings a missing piece.
func preflightRealNodes() error {
	for _, b := range realNodeBinaries {
		if _, err := exec.LookPath(b); err != nil {
			return fmt.Errorf("sim up: real node: %s not found; run `make tools` (it installs containerd, runc, containernetworking-plugins, busybox-static, xfsprogs)", b)
		}
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		return fmt.Errorf("sim up: real node: /usr/lib/cni/bridge not found (Debian containernetworking-plugins); run `make tools`")
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		return fmt.Errorf("sim up: real node: no kernel loop device support (/dev/loop-control): attached disks are loop devices")
	}
	return nil
}

// startRealNodes brings up each real node: its namespaces, containerd with
// the images, the kubelet, the vSphere CSI node plugin and the registrar.
// It ends when the node is Ready, initialised by the CPI and the kubelet has
// registered the CSI driver on its CSINode.
func (b *bringUp) startRealNodes(ctx context.Context) error {
	nodes := realNodes(b.s.VCenter.Nodes)
	if len(nodes) == 0 {
		return nil
	}
	created, err := node.EnsureMountpoints()
	b.s.CreatedDirs = append(b.s.CreatedDirs, created...)
	if err != nil {
		return err
	}
	if b.s.Sysctls == nil {
		b.s.Sysctls = readSysctls()
	}
	archives, err := b.writeImageArchives()
	if err != nil {
		return err
	}
	for i, n := range nodes {
		if err := b.startRealNode(ctx, i, n, archives); err != nil {
			return err
		}
	}
	return nil
}

func (b *bringUp) startRealNode(ctx context.Context, idx int, n NodeVM, archives []string) error {
	l := node.Layout{Dir: b.s.path("nodes", n.Name)}
	for _, d := range []string{"containerd", "cni/net.d", "cni/ipam", "stash"} {
		if err := os.MkdirAll(filepath.Join(l.Dir, d), 0o700); err != nil {
			return err
		}
	}
	rn := &RealNode{Name: n.Name, Dir: l.Dir, CgroupRoot: "/vsconform-" + b.o.ClusterName + "-" + n.Name}
	b.s.RealNodes = append(b.s.RealNodes, rn)
	if err := makeCgroupRoot(rn.CgroupRoot); err != nil {
		return fmt.Errorf("cgroup %s: %w", rn.CgroupRoot, err)
	}
	kubeletConf, err := node.KubeletConfig(l, node.Kubelet{NodeIP: n.IP, Port: kubeletPort, CgroupRoot: rn.CgroupRoot,
		ClientCA: b.s.path("kwok", "clusters", b.o.ClusterName, "pki", "ca.crt")})
	if err != nil {
		return err
	}
	// Pods reach the API server and vCenter through the node's holder.
	cniConf := node.CNIConfig(l, fmt.Sprintf("10.244.%d.0/24", idx), ServiceCIDR, PodVCenterIP+"/32")
	files := map[string]string{
		node.ContainerdConfig(l): l.ContainerdConfig(),
		cniConf:                  filepath.Join(l.CNIConfDir(), "10-vsconform.conflist"),
		kubeletConf:              l.KubeletConfig(),
		"nameserver 127.0.0.1\n": l.ResolvConf(),
	}
	for content, path := range files {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return err
		}
	}

	// The holder: a forwarder that relays the API server and vCenter into
	// the node's namespaces and keeps them alive.
	name := func(c string) string { return n.Name + "-" + c }
	api, vc := strconv.Itoa(b.s.APIServerPort), strconv.Itoa(b.s.VCenter.Port)
	ready := filepath.Join(l.Dir, "holder.ready")
	holder, err := b.launch(name("ns"), []string{"unshare", "--net", "--mount", "--propagation", "private", "--",
		b.o.Self, "sim", "forward", "--lo-up", "--ready-file", ready,
		"--node-uuid", n.BIOSUUID, "--node-stash", l.Stash(),
		"--rule", "tcp:127.0.0.1:" + api + "=unix:" + b.s.path("fwd", "api.sock"),
		"--rule", "tcp:127.0.0.1:" + vc + "=unix:" + b.s.path("fwd", "vc.sock"),
		"--local-ip", KubernetesServiceIP, "--local-ip", PodVCenterIP,
		"--rule", "tcp:" + KubernetesServiceIP + ":443=unix:" + b.s.path("fwd", "api.sock"),
		"--rule", "tcp:" + PodVCenterIP + ":443=unix:" + b.s.path("fwd", "vc.sock")}, nil, false)
	if err != nil {
		return err
	}
	if err := b.waitProcess(ctx, holder, "the node's namespaces", forwarderTimeout, fileExists(ready)); err != nil {
		return err
	}
	rn.HolderPID = holder.PID
	if rn.MountNS, err = os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", holder.PID)); err != nil {
		return err
	}
	if err := b.s.save(); err != nil {
		return err
	}
	if err := linkNode(rn, n.IP); err != nil {
		return &ComponentError{Component: name("ns"), Err: err, Log: holder.Log}
	}
	in := func(argv ...string) []string {
		return append([]string{"nsenter", "-t", strconv.Itoa(holder.PID), "-m", "-n", "--"}, argv...)
	}

	containerd, err := b.launch(name("containerd"), in("containerd", "--config", l.ContainerdConfig()), nil, false)
	if err != nil {
		return err
	}
	ctr := func(ctx context.Context, args ...string) error {
		out, err := exec.CommandContext(ctx, "ctr", append([]string{"--address", l.ContainerdSocket(), "-n", "k8s.io"}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ctr %s: %v: %s", args[0], err, lastLine(string(out)))
		}
		return nil
	}
	if err := b.waitProcess(ctx, containerd, "containerd to serve", forwarderTimeout, func(ctx context.Context) (bool, string, error) {
		if err := ctr(ctx, "version"); err != nil {
			return false, err.Error(), nil
		}
		return true, "", nil
	}); err != nil {
		return err
	}
	for _, a := range archives {
		if err := ctr(ctx, "images", "import", a); err != nil {
			return &ComponentError{Component: name("containerd"), Err: err, Log: containerd.Log}
		}
	}

	kubelet, err := b.launch(name("kubelet"), in(filepath.Join(b.o.BinDir, "kubelet"),
		"--config="+l.KubeletConfig(), "--kubeconfig="+b.s.Kubeconfig, "--root-dir="+node.KubeletRoot,
		"--hostname-override="+n.Name, "--node-ip="+n.IP, "--cloud-provider=external", "--v=2"), nil, false)
	if err != nil {
		return err
	}

	env, err := b.driverEnv()
	if err != nil {
		return err
	}
	env = append(env, "CSI_ENDPOINT=unix://"+node.CSISocket(DriverName), "X_CSI_MODE=node", "NODE_NAME="+n.Name,
		"X_CSI_SPEC_DISABLE_LEN_CHECK=true", "MAX_VOLUMES_PER_NODE="+strconv.Itoa(MaxVolumesPerNode))
	if _, err := b.launch(name("csi-node"), in(append([]string{filepath.Join(b.o.BinDir, "vsphere-csi")}, fssFlags...)...), env, false); err != nil {
		return err
	}
	// The node plugin's NodeGetInfo reads the Node: register once it exists.
	if err := b.waitProcess(ctx, kubelet, "the kubelet to register node "+n.Name, realNodeTimeout, func(ctx context.Context) (bool, string, error) {
		_, err := b.k.cs.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		return err == nil, "no Node yet", nil
	}); err != nil {
		return err
	}
	if _, err := b.launch(name("registrar"), in(b.o.Self, "sim", "registrar",
		"--socket", node.RegistrationSocket(node.KubeletRoot, DriverName), "--endpoint", node.CSISocket(DriverName)), nil, false); err != nil {
		return err
	}
	if err := b.registerDiskNode(n, holder.PID); err != nil {
		return err
	}
	return b.waitProcess(ctx, kubelet, "node "+n.Name+" to be Ready, initialised and serving the CSI driver", realNodeTimeout,
		func(ctx context.Context) (bool, string, error) { return b.k.realNodeReady(ctx, n.Name) })
}

// realNodeReady is the end of a real node's bring-up: the kubelet says
// Ready, the CPI has set the providerID and lifted the uninitialized taint,
// and the kubelet registered the CSI driver (the node plugin's NodeGetInfo
// returns only once the syncer has completed the node's CSINodeTopology).
func (k *kube) realNodeReady(ctx context.Context, name string) (bool, string, error) {
	n, err := k.cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, "no Node yet: " + err.Error(), nil
	}
	ready := false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status != corev1.ConditionTrue {
				return false, "Ready=" + string(c.Status) + ": " + c.Message, nil
			}
			ready = true
		}
	}
	switch {
	case !ready:
		return false, "no Ready condition", nil
	case n.Spec.ProviderID == "" || hasTaint(*n, "node.cloudprovider.kubernetes.io/uninitialized"):
		return false, "not initialised by the CPI", nil
	}
	cn, err := k.cs.StorageV1().CSINodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, "no CSINode: " + err.Error(), nil
	}
	for _, d := range cn.Spec.Drivers {
		if d.Name == DriverName {
			return true, "", nil
		}
	}
	return false, "CSI driver not registered on the CSINode", nil
}

// linkNode connects the host to a node's network namespace by a veth pair.
func linkNode(rn *RealNode, nodeIP string) error {
	pid := strconv.Itoa(rn.HolderPID)
	rn.HostLink = "vscn" + pid
	host := [][]string{
		{"link", "add", rn.HostLink, "type", "veth", "peer", "name", "eth0", "netns", pid},
		{"addr", "add", hostLinkIP + "/32", "dev", rn.HostLink},
		{"link", "set", rn.HostLink, "up"},
		{"route", "add", nodeIP + "/32", "dev", rn.HostLink, "src", hostLinkIP},
	}
	for _, args := range host {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	inNode := [][]string{
		{"addr", "add", nodeIP + "/32", "dev", "eth0"},
		{"link", "set", "eth0", "up"},
		{"route", "add", hostLinkIP + "/32", "dev", "eth0"},
	}
	for _, args := range inNode {
		argv := append([]string{"-t", pid, "-n", "--", "ip"}, args...)
		if out, err := exec.Command("nsenter", argv...).CombinedOutput(); err != nil {
			return fmt.Errorf("in the node: ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// writeImageArchives writes the pause and data images as OCI archives once
// per bring-up; every real node imports them (no registry exists).
func (b *bringUp) writeImageArchives() ([]string, error) {
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		return nil, err
	}
	data, err := images.Busybox(busybox)
	if err != nil {
		return nil, err
	}
	data.Name = node.DataImage
	pause := images.Pause(filepath.Join(b.o.BinDir, "pause"))
	pause.Name = node.PauseImage
	dir := b.s.path("images")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var out []string
	for file, img := range map[string]images.Image{"pause.tar": pause, "data.tar": data} {
		path := filepath.Join(dir, file)
		if err := writeArchive(path, img); err != nil {
			return nil, err
		}
		out = append(out, path)
	}
	return out, nil
}

// cleanupRealNodes undoes what real nodes changed on the machine, after
// their processes were stopped: whatever still runs in a node's mount
// namespace (containers, shims) is killed, which ends the namespace with its
// mounts and veth pair; then the kubelet's cgroups, the loop devices of
// attached disks, the host mount points made for the nodes and the kernel
// settings the kubelet changed.
func cleanupRealNodes(s *State) {
	for _, rn := range s.RealNodes {
		killMountNamespace(rn.MountNS)
	}
	for _, rn := range s.RealNodes {
		removeCgroupRoot(rn.CgroupRoot)
	}
	if s.DiskDir != "" {
		loopdisk.CleanupAll(s.DiskDir)
	}
	node.RemoveMountpoints(s.CreatedDirs)
	restoreSysctls(s.Sysctls)
}

// registerDiskNode tells the vCenter simulator where disks attached to the
// node's VM must appear: the node's /dev/disk/by-id, seen from the host
// through the holder's root.
func (b *bringUp) registerDiskNode(n NodeVM, holderPID int) error {
	store, err := loopdisk.New(b.s.DiskDir)
	if err != nil {
		return err
	}
	return store.RegisterNode(n.BIOSUUID, fmt.Sprintf("/proc/%d/root/dev/disk/by-id", holderPID))
}
