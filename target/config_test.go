package target

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// envMap turns a map into LoadConfig's env lookup.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// writeFile writes content under dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const fullConfig = `apiVersion: vsconform.io/v1alpha1
kind: Target
name: hermetic
kubeconfig: kube/config
vcenter:
  url: https://127.0.0.1:8989/sdk
  datacenter: DC0
  insecure: false
  caFile: vcenter-ca.pem
  username: administrator@vsphere.local
  passwordFile: password
csi:
  namespace: vmware-system-csi
  clusterID: vsconform-hermetic
storage:
  defaultStorageClass: vsphere-default
  policies: ["vSAN Default Storage Policy", "vsconform-gold"]
capabilities:
  blockVolumes: true
  fileVolumes: false
  snapshots: true
  offlineExpansion: true
  onlineExpansion: false
  topology: true
  encryption: false
  migration: false
  loadBalancer: ""
  faultInjection: false
  httpReachability: false
  maxVolumesPerNode: 59
logDir: logs
`

func TestLoadConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "hermetic.yaml", fullConfig)
	writeFile(t, dir, "password", "s3cret!\n")

	cfg, err := LoadConfig(path, envMap(map[string]string{
		// The file states all of these, so env must not change them.
		"KUBECONFIG": "/env/kubeconfig", "GOVC_URL": "https://env.example.com", "GOVC_USERNAME": "env-user",
		"GOVC_PASSWORD": "env-pass", "GOVC_INSECURE": "1", "GOVC_DATACENTER": "EnvDC", "GOVC_TLS_CA_CERTS": "/env/ca.pem",
	}))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ field, got, want string }{
		{"source", cfg.Source, path},
		{"name", cfg.Name, "hermetic"},
		{"kubeconfig", cfg.Kubeconfig, filepath.Join(dir, "kube/config")},
		{"vcenter.url", cfg.VCenter.URL, "https://127.0.0.1:8989/sdk"},
		{"vcenter.datacenter", cfg.VCenter.Datacenter, "DC0"},
		{"vcenter.caFile", cfg.VCenter.CAFile, filepath.Join(dir, "vcenter-ca.pem")},
		{"vcenter.username", cfg.VCenter.Username, "administrator@vsphere.local"},
		{"vcenter.passwordFile", cfg.VCenter.PasswordFile, filepath.Join(dir, "password")},
		{"vcenter.password", cfg.VCenter.Password.Reveal(), ""},
		{"csi.clusterID", cfg.CSI.ClusterID, "vsconform-hermetic"},
		{"storage.defaultStorageClass", cfg.Storage.DefaultStorageClass, "vsphere-default"},
		{"storage.policies", strings.Join(cfg.Storage.Policies, "|"), "vSAN Default Storage Policy|vsconform-gold"},
		{"logDir", cfg.LogDir, filepath.Join(dir, "logs")},
		{"capabilities", strings.Join(cfg.Capabilities.Declared(), ","), "blockVolumes,maxVolumesPerNode,offlineExpansion,snapshots,topology"},
		{"secrets", strings.Join(cfg.Secrets(), ","), "s3cret!"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
		}
	}
	if cfg.VCenter.Insecure {
		t.Error("GOVC_INSECURE=1 overrode the file's explicit insecure: false")
	}
	if cfg.Capabilities.MaxVolumesPerNode != 59 {
		t.Errorf("maxVolumesPerNode = %d", cfg.Capabilities.MaxVolumesPerNode)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	cases := []struct {
		name, content, want string
	}{
		{"unknown top-level field", "apiVersion: vsconform.io/v1alpha1\nkind: Target\nfoo: 1\n",
			`line 3: unknown field "foo"`},
		{"unknown nested field", "capabilities:\n  blockVolumes: true\n  snapshot: true\n",
			`line 3: unknown field "capabilities.snapshot"`},
		{"wrong case suggests the field", "vcenter:\n  URL: https://x/sdk\n",
			`unknown field "vcenter.URL" (did you mean "url"?)`},
		{"wrong type names the field", "capabilities:\n  maxVolumesPerNode: many\n",
			"capabilities.maxVolumesPerNode: line 2: cannot unmarshal !!str `many` into int"},
		{"wrong type for a section", "vcenter: vc.example.com\n", "vcenter: line 1: cannot unmarshal"},
		{"list where a string belongs", "name: [a, b]\n", "name: line 1: cannot unmarshal !!seq into string"},
		{"empty file", "", "file is empty"},
		{"not a mapping", "- a\n- b\n", "line 1: expected a mapping of fields"},
		{"duplicate key", "name: a\nname: b\n", `mapping key "name" already defined`},
		{"bad YAML", "name: [a\n", "yaml:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "t.yaml", c.content)
			_, err := LoadConfig(path, envMap(nil))
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "target config: "+path+": ") || !strings.Contains(msg, c.want) {
				t.Errorf("error %q, want prefix %q and %q", msg, "target config: "+path+": ", c.want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		_, err := LoadConfig("/no/such/target.yaml", envMap(nil))
		if err == nil || err.Error() != "target config: /no/such/target.yaml: no such file" {
			t.Errorf("error %v", err)
		}
	})
}

func TestLoadConfigEnvConventions(t *testing.T) {
	cases := []struct {
		name string
		file string // "" loads from env only
		env  map[string]string
		want Config
	}{
		{
			name: "env only",
			env: map[string]string{
				"KUBECONFIG": "/a/config:/b/config", "GOVC_URL": "vc.example.com", "GOVC_USERNAME": "admin",
				"GOVC_PASSWORD": "pw", "GOVC_INSECURE": "true", "GOVC_DATACENTER": "DC1", "GOVC_TLS_CA_CERTS": "/ca.pem",
			},
			want: Config{
				APIVersion: APIVersion, Kind: Kind, Name: "existing", Kubeconfig: "/a/config",
				VCenter: VCenter{URL: "https://vc.example.com/sdk", Username: "admin", Password: "pw", Insecure: true,
					Datacenter: "DC1", CAFile: "/ca.pem"},
				CSI: CSI{Namespace: DefaultCSINamespace},
			},
		},
		{
			name: "KUBECONFIG skips empty entries",
			env:  map[string]string{"KUBECONFIG": ":/b/config", "HOME": "/home/u"},
			want: Config{Kubeconfig: "/b/config"},
		},
		{
			name: "kubeconfig defaults to ~/.kube/config",
			env:  map[string]string{"HOME": "/home/u"},
			want: Config{Kubeconfig: "/home/u/.kube/config"},
		},
		{
			name: "GOVC_URL credentials fill username and password",
			env:  map[string]string{"GOVC_URL": "https://root:pa%40ss@vc:443/sdk"},
			want: Config{VCenter: VCenter{URL: "https://vc:443/sdk", Username: "root", Password: "pa@ss"}},
		},
		{
			name: "GOVC_USERNAME and GOVC_PASSWORD win over GOVC_URL credentials",
			env:  map[string]string{"GOVC_URL": "root:old@vc", "GOVC_USERNAME": "admin", "GOVC_PASSWORD": "new"},
			want: Config{VCenter: VCenter{URL: "https://vc/sdk", Username: "admin", Password: "new"}},
		},
		{
			name: "file values win over env",
			file: "vcenter:\n  url: https://file.example.com/sdk\n  username: file-user\n  password: file-pw\n",
			env:  map[string]string{"GOVC_URL": "env:pw@env.example.com", "GOVC_USERNAME": "env-user", "GOVC_PASSWORD": "env-pw"},
			want: Config{VCenter: VCenter{URL: "https://file.example.com/sdk", Username: "file-user", Password: "file-pw"}},
		},
		{
			name: "passwordFile in the file blocks GOVC_PASSWORD",
			file: "vcenter:\n  passwordFile: /run/pw\n",
			env:  map[string]string{"GOVC_PASSWORD": "env-pw"},
			want: Config{VCenter: VCenter{PasswordFile: "/run/pw"}},
		},
		{
			name: "credentials in the file's url move to username and password",
			file: "vcenter:\n  url: admin:pw@vc.example.com:8989\n",
			want: Config{VCenter: VCenter{URL: "https://vc.example.com:8989/sdk", Username: "admin", Password: "pw"}},
		},
		{
			name: "GOVC_INSECURE applies when the file leaves insecure out",
			file: "vcenter:\n  url: https://vc/sdk\n",
			env:  map[string]string{"GOVC_INSECURE": "1"},
			want: Config{VCenter: VCenter{URL: "https://vc/sdk", Insecure: true}},
		},
		{
			name: "name defaults to the file's base name",
			file: "kind: Target\n",
			want: Config{Kind: Kind, Name: "t"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := ""
			if c.file != "" {
				path = writeFile(t, t.TempDir(), "t.yaml", c.file)
			}
			cfg, err := LoadConfig(path, envMap(c.env))
			if err != nil {
				t.Fatal(err)
			}
			got, want := cfg, c.want
			// Compare only what the case states.
			cmp := func(field, got, want string) {
				if want != "" && got != want {
					t.Errorf("%s = %q, want %q", field, got, want)
				}
			}
			cmp("apiVersion", got.APIVersion, want.APIVersion)
			cmp("kind", got.Kind, want.Kind)
			cmp("name", got.Name, want.Name)
			cmp("kubeconfig", got.Kubeconfig, want.Kubeconfig)
			cmp("vcenter.url", got.VCenter.URL, want.VCenter.URL)
			cmp("vcenter.username", got.VCenter.Username, want.VCenter.Username)
			cmp("vcenter.password", got.VCenter.Password.Reveal(), want.VCenter.Password.Reveal())
			cmp("vcenter.passwordFile", got.VCenter.PasswordFile, want.VCenter.PasswordFile)
			cmp("vcenter.datacenter", got.VCenter.Datacenter, want.VCenter.Datacenter)
			cmp("vcenter.caFile", got.VCenter.CAFile, want.VCenter.CAFile)
			cmp("csi.namespace", got.CSI.Namespace, want.CSI.Namespace)
			if got.VCenter.Insecure != want.VCenter.Insecure {
				t.Errorf("vcenter.insecure = %t, want %t", got.VCenter.Insecure, want.VCenter.Insecure)
			}
			if want.VCenter.PasswordFile != "" && got.VCenter.Password != "" {
				t.Errorf("password %q filled despite passwordFile", got.VCenter.Password.Reveal())
			}
		})
	}

	t.Run("bad GOVC_INSECURE", func(t *testing.T) {
		_, err := LoadConfig("", envMap(map[string]string{"GOVC_INSECURE": "yes please"}))
		if err == nil || !strings.Contains(err.Error(), `target config: GOVC_INSECURE: "yes please" is not a boolean`) {
			t.Errorf("error %v", err)
		}
	})
}

func TestParseVCenterURL(t *testing.T) {
	cases := []struct {
		raw, url, user, password, err string
	}{
		{raw: "vc.example.com", url: "https://vc.example.com/sdk"},
		{raw: "vc.example.com:8989", url: "https://vc.example.com:8989/sdk"},
		{raw: "127.0.0.1:8989", url: "https://127.0.0.1:8989/sdk"},
		{raw: "[::1]:8989", url: "https://[::1]:8989/sdk"},
		{raw: "https://127.0.0.1:8989/sdk", url: "https://127.0.0.1:8989/sdk"},
		{raw: "https://vc.example.com/", url: "https://vc.example.com/sdk"},
		{raw: "vc.example.com/custom/sdk", url: "https://vc.example.com/custom/sdk"},
		{raw: "http://vc.example.com", url: "http://vc.example.com/sdk"},
		{raw: "user:pass@vc.example.com", url: "https://vc.example.com/sdk", user: "user", password: "pass"},
		{raw: "https://user:pass@vc.example.com:443/sdk", url: "https://vc.example.com:443/sdk", user: "user", password: "pass"},
		{raw: "administrator@vsphere.local:p@ss:w0rd@vc", url: "https://vc/sdk", user: "administrator@vsphere.local", password: "p@ss:w0rd"},
		{raw: "administrator%40vsphere.local:100%25@vc", url: "https://vc/sdk", user: "administrator@vsphere.local", password: "100%"},
		{raw: "user:50%off@vc", url: "https://vc/sdk", user: "user", password: "50%off"},
		{raw: "user@vc", url: "https://vc/sdk", user: "user"},
		{raw: "  vc  ", url: "https://vc/sdk"},
		{raw: "", err: "empty URL"},
		{raw: "https://", err: `"https://" has no host`},
		{raw: "https://user:topsecret@/sdk", err: `"https://[redacted]@/sdk" has no host`},
		{raw: "https://user:topsecret@vc:port/sdk", err: `"https://[redacted]@vc:port/sdk" is not a URL`},
	}
	for _, c := range cases {
		t.Run(c.raw, func(t *testing.T) {
			got, err := parseVCenterURL(c.raw)
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				if strings.Contains(err.Error(), "topsecret") {
					t.Fatalf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.url != c.url || got.user != c.user || got.password.Reveal() != c.password {
				t.Errorf("got (%q, %q, %q), want (%q, %q, %q)", got.url, got.user, got.password.Reveal(), c.url, c.user, c.password)
			}
		})
	}
}
