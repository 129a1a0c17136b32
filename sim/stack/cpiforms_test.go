package stack

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// nodeView is what the CCM made of a node: the projection both forms of the
// CPI config must agree on.
type nodeView struct {
	ProviderID string
	Addresses  string // "Type=Address" in the node's order
	Labels     string // every label, sorted: zone, region, instance type and the rest
	Taints     string // every taint but the node lifecycle controller's node.kubernetes.io/*
}

// nodeViews projects every node. A providerID naming the BIOS UUID of the
// node's VM in this stack's vCenter reads as a placeholder, so two stacks
// compare equal even if their vCenters made other UUIDs.
func nodeViews(ctx context.Context, t *testing.T, cs kubernetes.Interface, s *State) map[string]nodeView {
	t.Helper()
	uuid := map[string]string{}
	for _, n := range s.VCenter.Nodes {
		uuid[n.Name] = n.BIOSUUID
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]nodeView{}
	for _, n := range nodes.Items {
		var v nodeView
		v.ProviderID = n.Spec.ProviderID
		if u := uuid[n.Name]; u != "" && v.ProviderID == "vsphere://"+u {
			v.ProviderID = "vsphere://<BIOS UUID of VM " + n.Name + ">"
		}
		var addrs, labels, taints []string
		for _, a := range n.Status.Addresses {
			addrs = append(addrs, string(a.Type)+"="+a.Address)
		}
		for k, val := range n.Labels {
			labels = append(labels, k+"="+val)
		}
		for _, tn := range n.Spec.Taints {
			if !strings.HasPrefix(tn.Key, "node.kubernetes.io/") {
				taints = append(taints, fmt.Sprintf("%s=%s:%s", tn.Key, tn.Value, tn.Effect))
			}
		}
		sort.Strings(labels)
		sort.Strings(taints)
		v.Addresses, v.Labels, v.Taints = strings.Join(addrs, " "), strings.Join(labels, " "), strings.Join(taints, " ")
		out[n.Name] = v
	}
	return out
}

// testCPIConfigINI brings the stack up with the legacy INI form of the CPI
// config and checks that the real CCM read that form, took its credentials
// from the Secret, and did to every node exactly what it did under the YAML
// form (want, from TestHermeticTarget's stack). The cpi specs that need no
// node lifecycle then run against it: among them the multi-homed VM of the
// [Nodes] subnets, which the model's single-NIC nodes cannot show.
func testCPIConfigINI(ctx context.Context, t *testing.T, bin string, want map[string]nodeView) {
	// Not t.TempDir(): a subtest's long name would push the stack's unix
	// sockets past the 108-byte path limit.
	work, err := os.MkdirTemp("", "vsc-ini")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(work)
	dir := filepath.Join(work, "sim")
	s, err := Up(ctx, Options{Dir: dir, BinDir: bin, Self: filepath.Join(bin, "vsconform"), CPIConfigForm: CPIConfigINI, Out: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := Down(dir); err != nil {
			t.Error(err)
		}
	}()

	conf, err := os.ReadFile(filepath.Join(dir, "config", "vsphere-cloud.conf"))
	if err != nil {
		t.Fatal(err)
	}
	pw, err := os.ReadFile(s.VCenter.PasswordFile)
	if err != nil || len(pw) == 0 {
		t.Fatalf("password file: %v", err)
	}
	if bytes.Contains(conf, pw) || bytes.Contains(conf, []byte(s.VCenter.Username)) {
		t.Errorf("the INI config holds the credentials; they belong in the Secret:\n%s", conf)
	}
	if log, _ := os.ReadFile(s.Process("cloud-controller").Log); !bytes.Contains(log, []byte("ReadConfig INI succeeded")) {
		t.Errorf("the CCM log does not say it read the INI config (%s)", s.Process("cloud-controller").Log)
	}
	cfg, err := target.LoadConfig(s.TargetConfig, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CPI.ConfigForm != CPIConfigINI {
		t.Errorf("target config cpi.configForm = %q, want %q", cfg.CPI.ConfigForm, CPIConfigINI)
	}
	k, err := newKube(s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	got := nodeViews(ctx, t, k.cs, s)
	if len(got) != len(want) || len(want) == 0 {
		t.Errorf("INI form: %d nodes, YAML form: %d", len(got), len(want))
	}
	for name, w := range want {
		if g := got[name]; g != w {
			t.Errorf("node %s differs between the CPI config forms:\n  yaml: %+v\n  ini:  %+v", name, w, g)
		}
	}

	// Lifecycle specs ("when a VM stops or goes") take a minute and test the
	// lifecycle controller, not the config; the rest take seconds.
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "vsconform"), "run", "--state-dir", dir,
		"--results-dir", filepath.Join(work, "results"), "--label-filter", "cpi && !scale", "--skip", "when a VM stops or goes")
	out, err := cmd.CombinedOutput()
	// The runner's summary line, which may follow Ginkgo's progress on one line.
	var m [][]byte
	if all := regexp.MustCompile(`(\d+) passed, (\d+) failed, \d+ skipped`).FindAllSubmatch(out, -1); len(all) > 0 {
		m = all[len(all)-1]
	}
	if err != nil || m == nil || string(m[2]) != "0" || string(m[1]) == "0" {
		t.Errorf("cpi specs against the INI form: %v\n%s", err, lastLines(string(out), 40))
	} else {
		t.Logf("cpi specs against the INI form: %s", m[0])
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
