package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/vsphere-conformance/vsphere-conformance/sim/defects"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vsphere-conformance/vsphere-conformance/sim/vcenter"
)

// Options configure a bring-up.
type Options struct {
	Dir           string // state directory (logs, configs, kubeconfig)
	BinDir        string // the pinned upstream binaries (make tools)
	Self          string // the vsconform binary, run for the vcenter and forward components
	Model         string // vcsim model YAML; "" means the embedded hermetic model
	ClusterName   string // kwokctl cluster name
	ClusterID     string // the CSI driver's cluster-id
	VCenterPort   int    // 0 picks a free port
	APIServerPort int    // 0 picks a free port
	CPIConfigForm string // the CPI's cloud config: CPIConfigYAML (default) or CPIConfigINI
	// With replaces pinned binaries by name with the user's builds
	// (ParseWith); the target runs them and the report names them.
	With map[string]string
	// Defect starts the simulated vCenter with a defect profile
	// (sim/defects): a negative control for `vsconform selftest`. The state
	// and the target config name it, so no run mistakes it for a clean target.
	Defect string
	Out    io.Writer // progress lines
}

func (o *Options) defaults() {
	if o.ClusterName == "" {
		o.ClusterName = "vsconform"
	}
	if o.ClusterID == "" {
		o.ClusterID = "vsconform-hermetic"
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.CPIConfigForm == "" {
		o.CPIConfigForm = CPIConfigYAML
	}
}

// Binaries the stack runs, all built by `make tools` into BinDir.
var requiredBinaries = []string{
	"kwokctl", "kwok", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd",
	"vsphere-cloud-controller-manager", "vsphere-csi", "vsphere-syncer",
	"csi-provisioner", "csi-attacher", "csi-resizer", "csi-snapshotter", "snapshot-controller",
	"metallb-controller", "kubelet", "pause",
}

// ComponentError names the component that failed, why, and its log.
type ComponentError struct {
	Component string
	Err       error
	Log       string
}

func (e *ComponentError) Error() string {
	msg := fmt.Sprintf("sim up: %s: %v", e.Component, e.Err)
	if e.Log != "" {
		msg += " (log: " + e.Log + ")"
	}
	return msg
}

func (e *ComponentError) Unwrap() error { return e.Err }

// Up brings the whole hermetic target up and returns its state. On failure
// it stops whatever it started, keeps the logs in Dir, and returns a
// *ComponentError.
func Up(ctx context.Context, o Options) (*State, error) {
	o.defaults()
	if err := preflight(o); err != nil {
		return nil, err
	}
	lock, err := lockDir(o.Dir)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if old, err := Load(o.Dir); err == nil && old.AnyAlive() {
		return nil, fmt.Errorf("sim up: a hermetic target is already running from %s (started %s); run `vsconform sim down` first",
			o.Dir, old.StartedAt.Format(time.RFC3339))
	}
	// A stale directory (a failed bring-up, a reboot) is cleared first.
	if err := clearDir(o.Dir); err != nil {
		return nil, err
	}
	if len(o.With) > 0 {
		overlay := filepath.Join(o.Dir, "with", "bin")
		if err := overlayBinDir(overlay, o.BinDir, o.With); err != nil {
			return nil, fmt.Errorf("sim up: %v", err)
		}
		o.BinDir = overlay
	}
	s := &State{Dir: o.Dir, ClusterName: o.ClusterName, StartedAt: time.Now(), BinDir: o.BinDir, Replaced: o.With, Defect: o.Defect,
		Kubeconfig: filepath.Join(o.Dir, "kubeconfig"), CSISocket: filepath.Join(o.Dir, "csi", "csi.sock")}
	for _, d := range []string{"logs", "csi", "fwd", "kwok", "config"} {
		if err := os.MkdirAll(s.path(d), 0o700); err != nil {
			return nil, err
		}
	}
	b := &bringUp{o: o, s: s}
	if err := b.run(ctx); err != nil {
		b.stopAll()
		os.Remove(s.path(stateFile))
		return nil, err
	}
	s.Ready = true
	if err := s.save(); err != nil {
		return nil, err
	}
	return s, nil
}

func preflight(o Options) error {
	if o.Dir == "" || o.BinDir == "" || o.Self == "" {
		return errors.New("sim up: state dir, binary dir and self path are required")
	}
	if o.Defect != "" {
		if err := defects.Check(o.Defect); err != nil {
			return fmt.Errorf("sim up: --defect: %v", err)
		}
	}
	if _, _, err := cpiConfigFile(o.CPIConfigForm, VCenter{}); err != nil {
		return fmt.Errorf("sim up: %v", err)
	}
	var missing []string
	for _, b := range requiredBinaries {
		if _, err := os.Stat(filepath.Join(o.BinDir, b)); err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("sim up: missing binaries in %s: %s; run `make tools`", o.BinDir, strings.Join(missing, ", "))
	}
	for _, tool := range []string{"unshare", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("sim up: %s not found (util-linux): the CSI controller runs in a loopback-only network namespace", tool)
		}
	}
	if os.Geteuid() != 0 {
		return errors.New("sim up: must run as root: the CSI controller and syncer run in a loopback-only network namespace (unshare -n)")
	}
	// A bad model is the user's input: report it before anything starts.
	m, err := LoadModel(o.Model)
	if err != nil {
		return fmt.Errorf("sim up: %v", err)
	}
	for _, n := range m.Nodes {
		if n.Kubelet == vcenter.KubeletReal {
			if err := preflightRealNodes(); err != nil {
				return err
			}
			break
		}
	}
	for name, port := range map[string]int{"vcenter": o.VCenterPort, "kube-apiserver": o.APIServerPort} {
		if port != 0 && !portFree(port) {
			return fmt.Errorf("sim up: %s: port 127.0.0.1:%d is already in use", name, port)
		}
	}
	return nil
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// randomHex is n random bytes in hex: the secrets `sim up` makes.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lockDir serialises bring-ups of one state directory.
func lockDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("sim up: another `sim up` or `sim down` is working on %s", dir)
	}
	return f, nil
}

func clearDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

type bringUp struct {
	o        Options
	s        *State
	k        *kube
	password string
	holder   *Process // the namespace holder (the in-namespace forwarder)
}

func (b *bringUp) step(name string, fn func(context.Context) error, ctx context.Context) error {
	start := time.Now()
	if err := fn(ctx); err != nil {
		var ce *ComponentError
		if errors.As(err, &ce) {
			return err
		}
		return &ComponentError{Component: name, Err: err, Log: b.logOf(name)}
	}
	fmt.Fprintf(b.o.Out, "  %-22s ready in %s\n", name, time.Since(start).Round(10*time.Millisecond))
	return b.s.save()
}

func (b *bringUp) logOf(name string) string {
	if p := b.s.Process(name); p != nil {
		return p.Log
	}
	return ""
}

func (b *bringUp) run(ctx context.Context) error {
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"vcenter", b.startVCenter},
		{"kubernetes", b.startCluster},
		{"cluster-objects", b.createObjects},
		{"cloud-controller", b.startCPI},
		{"netns", b.startNetNS},
		{"csi-controller", b.startCSI},
		{"csi-syncer", b.startSyncer},
		{"csi-node-plugins", b.registerNodePlugins},
		{"real-nodes", b.startRealNodes},
		{"csi-sidecars", b.startSidecars},
		{"metallb", b.startMetalLB},
		{"storage-classes", b.createStorage},
		{"target-config", b.writeTargetConfig},
	}
	for _, st := range steps {
		if err := b.step(st.name, st.fn, ctx); err != nil {
			return err
		}
	}
	return nil
}

// launch starts a component and records it in the state.
func (b *bringUp) launch(name string, argv, env []string, netns bool) (*Process, error) {
	if netns {
		argv = append([]string{"nsenter", "--net=/proc/" + strconv.Itoa(b.holder.PID) + "/ns/net", "--"}, argv...)
	}
	p, err := startProcess(name, argv, env, b.s.path("logs", name+".log"))
	if err != nil {
		return nil, &ComponentError{Component: name, Err: err}
	}
	p.NetNS, p.Env = netns, env
	b.s.Processes = append(b.s.Processes, p)
	return p, b.s.save()
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	if s == "" {
		return "no output"
	}
	return s
}

// waitProcess wraps waitFor so that a component that dies stops the wait at
// once with its last log line.
func (b *bringUp) waitProcess(ctx context.Context, p *Process, what string, timeout time.Duration, cond func(context.Context) (bool, string, error)) error {
	err := waitFor(ctx, what, timeout, func(ctx context.Context) (bool, string, error) {
		if !p.Alive() {
			return false, "", fmt.Errorf("%s %s; last output: %s", p.Name, p.ExitStatus(), lastLine(p.LogTail(5)))
		}
		return cond(ctx)
	})
	if err != nil {
		return &ComponentError{Component: p.Name, Err: err, Log: p.Log}
	}
	return nil
}

func (b *bringUp) startVCenter(ctx context.Context) error {
	port := b.o.VCenterPort
	if port == 0 {
		var err error
		if port, err = freePort(); err != nil {
			return err
		}
	}
	b.password = "vsc-" + randomHex(12)
	pwFile := b.s.path("config", "vcenter-password")
	if err := os.WriteFile(pwFile, []byte(b.password), 0o600); err != nil {
		return err
	}
	// The fault-injection admin endpoint (sim/faults): a loopback port and
	// a random bearer token in a file only this user reads.
	faultsPort, err := freePort()
	for err == nil && faultsPort == port {
		faultsPort, err = freePort()
	}
	if err != nil {
		return err
	}
	tokenFile := b.s.path("config", "faults-token")
	if err := os.WriteFile(tokenFile, []byte(randomHex(32)), 0o600); err != nil {
		return err
	}
	info := b.s.path("vcenter.json")
	b.s.DiskDir = b.s.path("disks")
	argv := []string{b.o.Self, "sim", "vcenter", "--addr", "127.0.0.1:" + strconv.Itoa(port), "--disk-dir", b.s.DiskDir,
		"--password-file", pwFile, "--info-file", info, "--ca-file", b.s.path("config", "vcenter-ca.pem"),
		"--cert-ip", PodVCenterIP,
		"--faults-addr", "127.0.0.1:" + strconv.Itoa(faultsPort), "--faults-token-file", tokenFile,
		"--state-dir", b.s.Dir}
	if b.o.Model != "" {
		argv = append(argv, "--model", b.o.Model)
	}
	if b.o.Defect != "" {
		argv = append(argv, "--defect", b.o.Defect)
	}
	p, err := b.launch("vcenter", argv, nil, false)
	if err != nil {
		return err
	}
	return b.waitProcess(ctx, p, "vCenter simulator to serve", vcenterTimeout, func(context.Context) (bool, string, error) {
		data, err := os.ReadFile(info)
		if err != nil {
			return false, "no info file yet", nil
		}
		var vc VCenter
		if err := json.Unmarshal(data, &vc); err != nil {
			return false, "info file incomplete", nil
		}
		vc.PasswordFile = pwFile
		vc.FaultsTokenFile = tokenFile
		b.s.VCenter = vc
		return true, "", nil
	})
}

func (b *bringUp) startCluster(ctx context.Context) error {
	port := b.o.APIServerPort
	if port == 0 {
		var err error
		if port, err = freePort(); err != nil {
			return err
		}
	}
	b.s.APIServerPort = port
	bin := func(n string) string { return filepath.Join(b.o.BinDir, n) }
	conf := kwokctlConfig(port, bin, b.s.path("kwok", "clusters", b.o.ClusterName, "pki"))
	confFile := b.s.path("config", "kwokctl.yaml")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		return err
	}
	logPath := b.s.path("logs", "kwokctl.log")
	cctx, cancel := context.WithTimeout(ctx, clusterTimeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, bin("kwokctl"), "create", "cluster", "--name", b.o.ClusterName,
		"--config", confFile, "--kubeconfig", b.s.Kubeconfig, "--wait", "60s")
	cmd.Env = append(os.Environ(), "KWOK_WORKDIR="+b.s.path("kwok"))
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Run(); err != nil {
		data, _ := os.ReadFile(logPath)
		return &ComponentError{Component: "kubernetes", Err: fmt.Errorf("kwokctl create cluster: %v: %s", err, lastLine(string(data))), Log: logPath}
	}
	k, err := newKube(b.s.Kubeconfig)
	if err != nil {
		return err
	}
	b.k = k
	// Pods wait for the default ServiceAccount; specs create pods at once.
	return waitFor(ctx, "the default ServiceAccount", clusterTimeout, func(ctx context.Context) (bool, string, error) {
		_, err := k.cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		return true, "", nil
	})
}

func (b *bringUp) createObjects(ctx context.Context) error {
	files, err := crdFiles(b.o.BinDir)
	if err != nil {
		return err
	}
	if err := b.k.applyCRDFiles(ctx, files); err != nil {
		return err
	}
	if err := b.k.createDriverObjects(ctx); err != nil {
		return err
	}
	return b.k.createNodes(ctx, b.s.VCenter.Nodes)
}

func (b *bringUp) writeSecretFile(name, content string) (string, error) {
	path := b.s.path("config", name)
	return path, os.WriteFile(path, []byte(content), 0o600)
}

func (b *bringUp) startCPI(ctx context.Context) error {
	if err := b.k.createCPISecret(ctx, b.s.VCenter, b.password); err != nil {
		return err
	}
	name, content, err := cpiConfigFile(b.o.CPIConfigForm, b.s.VCenter)
	if err != nil {
		return err
	}
	b.s.CPIConfigForm = b.o.CPIConfigForm
	conf, err := b.writeSecretFile(name, content)
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	p, err := b.launch("cloud-controller", []string{filepath.Join(b.o.BinDir, "vsphere-cloud-controller-manager"),
		"--cloud-provider=vsphere", "--cloud-config=" + conf, "--kubeconfig=" + b.s.Kubeconfig,
		"--authentication-kubeconfig=" + b.s.Kubeconfig, "--authorization-kubeconfig=" + b.s.Kubeconfig,
		"--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(port),
		"--controllers=cloud-node,cloud-node-lifecycle", "--v=2"}, nil, false)
	if err != nil {
		return err
	}
	return b.waitProcess(ctx, p, "the CPI to initialise every node", cpiTimeout, func(ctx context.Context) (bool, string, error) {
		nodes, err := b.k.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		for _, n := range nodes.Items {
			if n.Spec.ProviderID == "" || hasTaint(n, "node.cloudprovider.kubernetes.io/uninitialized") {
				return false, "node " + n.Name + " not initialised", nil
			}
		}
		return len(nodes.Items) > 0, "no nodes", nil
	})
}

func hasTaint(n corev1.Node, key string) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key {
			return true
		}
	}
	return false
}

// startNetNS starts the loopback-only namespace for the CSI controller and
// syncer: its holder is the in-namespace forwarder, which brings lo up and
// relays the API server and vCenter ports in, and the driver's metrics ports
// out (as unix sockets), and a host-side forwarder that answers the sockets.
func (b *bringUp) startNetNS(ctx context.Context) error {
	fwd := func(n string) string { return b.s.path("fwd", n) }
	api, vc := strconv.Itoa(b.s.APIServerPort), strconv.Itoa(b.s.VCenter.Port)
	hostReady, nsReady := fwd("host.ready"), fwd("ns.ready")
	host, err := b.launch("forward-host", []string{b.o.Self, "sim", "forward", "--ready-file", hostReady,
		"--rule", "unix:" + fwd("api.sock") + "=tcp:127.0.0.1:" + api,
		"--rule", "unix:" + fwd("vc.sock") + "=tcp:127.0.0.1:" + vc}, nil, false)
	if err != nil {
		return err
	}
	if err := b.waitProcess(ctx, host, "the host-side forwarder", forwarderTimeout, fileExists(hostReady)); err != nil {
		return err
	}
	holder, err := b.launch("forward-netns", []string{"unshare", "--net", "--", b.o.Self, "sim", "forward", "--lo-up",
		"--ready-file", nsReady,
		"--rule", "tcp:127.0.0.1:" + api + "=unix:" + fwd("api.sock"),
		"--rule", "tcp:127.0.0.1:" + vc + "=unix:" + fwd("vc.sock"),
		"--rule", "unix:" + fwd("csi-metrics.sock") + "=tcp:127.0.0.1:2112",
		"--rule", "unix:" + fwd("syncer-metrics.sock") + "=tcp:127.0.0.1:2113"}, nil, false)
	if err != nil {
		return err
	}
	if err := b.waitProcess(ctx, holder, "the namespace forwarder", forwarderTimeout, fileExists(nsReady)); err != nil {
		return err
	}
	// unshare execs the forwarder, so the holder's PID is the namespace's.
	b.holder = holder
	return nil
}

func fileExists(path string) func(context.Context) (bool, string, error) {
	return func(context.Context) (bool, string, error) {
		_, err := os.Stat(path)
		return err == nil, "not ready", nil
	}
}

func (b *bringUp) driverEnv() ([]string, error) {
	conf, err := b.writeSecretFile("csi-vsphere.conf", csiConfig(b.s.VCenter, b.password, b.o.ClusterID))
	if err != nil {
		return nil, err
	}
	return []string{
		"VSPHERE_CSI_CONFIG=" + conf,
		"KUBECONFIG=" + b.s.Kubeconfig,
		"CSI_NAMESPACE=" + CSINamespace,
		"POD_NAMESPACE=" + CSINamespace,
		"LOGGER_LEVEL=PRODUCTION",
		"INCLUSTER_CLIENT_QPS=100",
		"INCLUSTER_CLIENT_BURST=100",
	}, nil
}

var fssFlags = []string{"--fss-name=" + FeatureStatesConfigMap, "--fss-namespace=" + CSINamespace}

func (b *bringUp) startCSI(ctx context.Context) error {
	env, err := b.driverEnv()
	if err != nil {
		return err
	}
	env = append(env, "CSI_ENDPOINT=unix://"+b.s.CSISocket, "X_CSI_MODE=controller",
		"X_CSI_SPEC_DISABLE_LEN_CHECK=true", "X_CSI_SERIAL_VOL_ACCESS_TIMEOUT=3m")
	p, err := b.launch("csi-controller", append([]string{filepath.Join(b.o.BinDir, "vsphere-csi")}, fssFlags...), env, true)
	if err != nil {
		return err
	}
	return b.waitProcess(ctx, p, "the CSI controller to answer Probe", csiTimeout, func(ctx context.Context) (bool, string, error) {
		if err := probeCSI(ctx, b.s.CSISocket); err != nil {
			return false, err.Error(), nil
		}
		return true, "", nil
	})
}

func (b *bringUp) startSyncer(ctx context.Context) error {
	env, err := b.driverEnv()
	if err != nil {
		return err
	}
	env = append(env, "FULL_SYNC_INTERVAL_MINUTES=30")
	p, err := b.launch("csi-syncer", append([]string{filepath.Join(b.o.BinDir, "vsphere-syncer"), "--leader-election=false"}, fssFlags...), env, true)
	if err != nil {
		return err
	}
	return b.waitProcess(ctx, p, "the syncer to serve metrics", csiTimeout, func(ctx context.Context) (bool, string, error) {
		if err := httpOverUnix(ctx, b.s.path("fwd", "syncer-metrics.sock"), "/metrics"); err != nil {
			return false, err.Error(), nil
		}
		return true, "", nil
	})
}

func (b *bringUp) startSidecars(ctx context.Context) error {
	bin := func(n string) string { return filepath.Join(b.o.BinDir, n) }
	common := []string{"--csi-address=" + b.s.CSISocket, "--kubeconfig=" + b.s.Kubeconfig, "--leader-election=false"}
	sidecars := []struct {
		name string
		argv []string
	}{
		{"csi-provisioner", append(append([]string{bin("csi-provisioner"), "--timeout=300s", "--default-fstype=ext4"}, topologyFlags(b.s.VCenter)...), common...)},
		{"csi-attacher", append([]string{bin("csi-attacher"), "--timeout=300s"}, common...)},
		{"csi-resizer", append([]string{bin("csi-resizer"), "--timeout=300s", "--handle-volume-inuse-error=false"}, common...)},
		{"csi-snapshotter", append([]string{bin("csi-snapshotter"), "--timeout=300s"}, common...)},
		{"snapshot-controller", []string{bin("snapshot-controller"), "--kubeconfig=" + b.s.Kubeconfig, "--leader-election=false"}},
	}
	var started []*Process
	for _, sc := range sidecars {
		p, err := b.launch(sc.name, sc.argv, nil, false)
		if err != nil {
			return err
		}
		started = append(started, p)
	}
	// One settle period for all of them: each has no probe of its own.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(processSettle):
	}
	for _, p := range started {
		if !p.Alive() {
			return &ComponentError{Component: p.Name, Err: fmt.Errorf("%s at start; last output: %s", p.ExitStatus(), lastLine(p.LogTail(5))), Log: p.Log}
		}
	}
	return nil
}

func (b *bringUp) createStorage(ctx context.Context) error {
	return b.k.createStorageClasses(ctx, b.s.VCenter.Policies)
}

func (b *bringUp) stopAll() { stopAll(b.s) }
