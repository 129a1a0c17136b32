package target

import (
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// validConfig returns a config that passes Validate, with its files in dir.
func validConfig(t *testing.T, dir string) *Config {
	t.Helper()
	return &Config{
		APIVersion: APIVersion,
		Kind:       Kind,
		Name:       "test",
		Kubeconfig: writeFile(t, dir, "kubeconfig", usableKubeconfig),
		VCenter: VCenter{
			URL:          "https://vc.example.com/sdk",
			CAFile:       writeCAFile(t, dir),
			Username:     "administrator@vsphere.local",
			PasswordFile: writeFile(t, dir, "password", "hunter2\n"),
		},
		CSI:          CSI{Namespace: DefaultCSINamespace},
		Capabilities: Capabilities{BlockVolumes: true, MaxVolumesPerNode: 59},
	}
}

// usableKubeconfig is a kubeconfig Validate accepts: a current context
// whose cluster has a server (never contacted).
const usableKubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: abc}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`

// writeCAFile writes a real PEM certificate (httptest's) to dir.
func writeCAFile(t *testing.T, dir string) string {
	t.Helper()
	s := httptest.NewTLSServer(nil)
	defer s.Close()
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	return writeFile(t, dir, "ca.pem", string(block))
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(c *Config, dir string)
		want   string // "" for valid; else the whole one-line error
	}{
		{"valid", func(c *Config, dir string) {}, ""},
		{"valid with inline password and insecure", func(c *Config, dir string) {
			c.VCenter.PasswordFile, c.VCenter.Password, c.VCenter.Insecure, c.VCenter.CAFile = "", "pw", true, ""
		}, ""},
		{"remote vCenter", func(c *Config, dir string) { c.VCenter.URL = "https://vcenter.corp.example:8443/sdk" }, ""},
		{"URL port out of range", func(c *Config, dir string) { c.VCenter.URL = "https://vc:99999/sdk" },
			`target config: vcenter.url: "https://vc:99999/sdk": port 99999 is not 1-65535`},
		{"URL without host", func(c *Config, dir string) { c.VCenter.URL = "https://:443/sdk" },
			`target config: vcenter.url: "https://:443/sdk" has no host`},
		{"not https", func(c *Config, dir string) { c.VCenter.URL = "ftp://x" },
			`target config: vcenter.url: "ftp://x" is not an https URL`},
		{"url missing", func(c *Config, dir string) { c.VCenter.URL = "" },
			`target config: vcenter.url: not set (set vcenter.url or GOVC_URL)`},
		{"kubeconfig missing", func(c *Config, dir string) { c.Kubeconfig = "/x" },
			`target config: kubeconfig: /x: no such file`},
		{"kubeconfig is a directory", func(c *Config, dir string) { c.Kubeconfig = dir },
			`target config: kubeconfig: ` + "DIR" + `: is a directory`},
		{"kubeconfig malformed", func(c *Config, dir string) { c.Kubeconfig = writeFile(t, dir, "kube-bad", "not: [a kubeconfig") },
			`target config: kubeconfig: DIR/kube-bad: not a kubeconfig: yaml: line 1: did not find expected ',' or ']'`},
		{"kubeconfig malformed comes first", func(c *Config, dir string) {
			c.Kubeconfig, c.VCenter.Username = writeFile(t, dir, "kube-bad", "not: [a kubeconfig"), ""
		}, `target config: kubeconfig: DIR/kube-bad: not a kubeconfig: yaml: line 1: did not find expected ',' or ']'; vcenter.username: not set (set vcenter.username or GOVC_USERNAME)`},
		{"kubeconfig without current context", func(c *Config, dir string) {
			c.Kubeconfig = writeFile(t, dir, "kube-empty", "apiVersion: v1\nkind: Config\n")
		}, `target config: kubeconfig: DIR/kube-empty: no current-context (set one with kubectl config use-context)`},
		{"kubeconfig current context missing", func(c *Config, dir string) {
			c.Kubeconfig = writeFile(t, dir, "kube-ctx", strings.Replace(usableKubeconfig, "current-context: x", "current-context: nope", 1))
		}, `target config: kubeconfig: DIR/kube-ctx: current-context "nope" is not among its contexts`},
		{"kubeconfig cluster without server", func(c *Config, dir string) {
			c.Kubeconfig = writeFile(t, dir, "kube-noserver", strings.Replace(usableKubeconfig, `server: "https://127.0.0.1:1"`, `server: ""`, 1))
		}, `target config: kubeconfig: DIR/kube-noserver: cluster "c" has no server`},
		{"kubeconfig certificate-authority relative to it", func(c *Config, dir string) {
			writeCAFile(t, filepath.Join(dir, "kube"))
			c.Kubeconfig = writeFile(t, dir, "kube/config", strings.Replace(usableKubeconfig, `server: "https://127.0.0.1:1"`,
				`server: "https://127.0.0.1:1", certificate-authority: ca.pem`, 1))
		}, ""},
		{"kubeconfig unset", func(c *Config, dir string) { c.Kubeconfig = "" },
			`target config: kubeconfig: not set (set kubeconfig or KUBECONFIG)`},
		{"passwordFile missing", func(c *Config, dir string) { c.VCenter.PasswordFile = "/nope/pw" },
			`target config: vcenter.passwordFile: /nope/pw: no such file`},
		{"passwordFile empty", func(c *Config, dir string) { c.VCenter.PasswordFile = writeFile(t, dir, "empty", "\n") },
			`target config: vcenter.passwordFile: DIR/empty: file is empty`},
		{"no password at all", func(c *Config, dir string) { c.VCenter.PasswordFile = "" },
			`target config: vcenter.password: not set (set vcenter.passwordFile, vcenter.password or GOVC_PASSWORD)`},
		{"both password forms", func(c *Config, dir string) { c.VCenter.Password = "hunter2" },
			`target config: vcenter.password: set either vcenter.passwordFile or vcenter.password, not both`},
		{"no username", func(c *Config, dir string) { c.VCenter.Username = "" },
			`target config: vcenter.username: not set (set vcenter.username or GOVC_USERNAME)`},
		{"caFile not PEM", func(c *Config, dir string) { c.VCenter.CAFile = writeFile(t, dir, "bad.pem", "nope") },
			`target config: vcenter.caFile: DIR/bad.pem: no PEM certificate in file`},
		{"negative volume limit", func(c *Config, dir string) { c.Capabilities.MaxVolumesPerNode = -1 },
			`target config: capabilities.maxVolumesPerNode: must be >= 0`},
		{"unknown load balancer", func(c *Config, dir string) { c.Capabilities.LoadBalancer = "f5" },
			`target config: capabilities.loadBalancer: "f5" is not one of "", "metallb", "nsxt"`},
		{"wrong apiVersion", func(c *Config, dir string) { c.APIVersion = "v1" },
			`target config: apiVersion: must be vsconform.io/v1alpha1 (got "v1")`},
		{"empty policy name", func(c *Config, dir string) { c.Storage.Policies = []string{"gold", " "} },
			`target config: storage.policies[1]: must not be empty`},
		{"logDir missing", func(c *Config, dir string) { c.LogDir = "/no/logs" },
			`target config: logDir: /no/logs: no such file`},
		{"valid CPI subnets", func(c *Config, dir string) {
			c.CPI.InternalSubnet, c.CPI.ExternalSubnet = "192.0.2.0/24,2001:db8::/64", "203.0.113.0/24"
		}, ""},
		{"CPI subnet not a CIDR", func(c *Config, dir string) { c.CPI.InternalSubnet = "192.0.2.0/24,192.0.2.1" },
			`target config: cpi.internalSubnet: "192.0.2.1" is not a CIDR`},
		{"CPI subnets both bad, in field order", func(c *Config, dir string) { c.CPI.InternalSubnet, c.CPI.ExternalSubnet = "x", "y/33" },
			`target config: cpi.internalSubnet: "x" is not a CIDR; cpi.externalSubnet: "y/33" is not a CIDR`},
		{"legacy CPI config form", func(c *Config, dir string) { c.CPI.ConfigForm = "ini" }, ""},
		{"unknown CPI config form", func(c *Config, dir string) { c.CPI.ConfigForm = "toml" },
			`target config: cpi.configForm: "toml" is not one of "", "yaml", "ini"`},
		{"several problems on one line", func(c *Config, dir string) {
			c.VCenter.URL, c.Capabilities.MaxVolumesPerNode = "http://vc/sdk", -2
		}, `target config: vcenter.url: "http://vc/sdk" is not an https URL; capabilities.maxVolumesPerNode: must be >= 0`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := validConfig(t, dir)
			c.mutate(cfg, dir)
			err := cfg.Validate()
			want := strings.ReplaceAll(c.want, "DIR", dir)
			switch {
			case want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case want != "" && (err == nil || err.Error() != want):
				t.Fatalf("error\n got %v\nwant %s", err, want)
			}
			if err != nil && (strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "\n")) {
				t.Fatalf("error leaks the password or spans lines: %q", err)
			}
		})
	}
}

func TestLoadedExampleValidates(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "hermetic.yaml", fullConfig)
	writeFile(t, dir, "password", "s3cret!\n")
	writeFile(t, dir, "kube/config", usableKubeconfig)
	if err := os.Rename(writeCAFile(t, dir), filepath.Join(dir, "vcenter-ca.pem")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestCapabilities(t *testing.T) {
	c := Capabilities{Snapshots: true, LoadBalancer: "metallb", MaxVolumesPerNode: 59}
	for name, want := range map[string]bool{
		Snapshots: true, BlockVolumes: false, LoadBalancer: true, LoadBalancerMetalLB: true,
		LoadBalancerNSXT: false, MaxVolumesPerNode: true, "snapshot": false,
	} {
		if got := c.Has(name); got != want {
			t.Errorf("Has(%q) = %t, want %t", name, got, want)
		}
	}
	if got := strings.Join(c.Missing(Snapshots, Topology, Encryption), ","); got != "topology,encryption" {
		t.Errorf("Missing = %q", got)
	}
	if KnownCapability("snapshot") || !KnownCapability(FaultInjection) {
		t.Error("KnownCapability is wrong")
	}
}
