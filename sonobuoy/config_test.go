package sonobuoy

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestPluginConfig(t *testing.T) {
	for _, c := range []struct {
		name    string
		in      string
		vcURL   string // PluginConfig's vcenterURL
		wantErr string
		check   map[string]string // "a.b" -> value ("" means absent)
	}{
		{
			name: "local paths become the pod's",
			in: "kind: Target\nkubeconfig: /home/u/.kube/config\nlogDir: logs\n" +
				"vcenter:\n  url: https://vc.example.com/sdk\n  username: admin\n  passwordFile: pw\n  caFile: ca.pem\n" +
				"capabilities:\n  snapshots: true\n",
			check: map[string]string{
				"kubeconfig": "", "logDir": "", "vcenter.passwordFile": PasswordPath, "vcenter.caFile": CAPath,
				"vcenter.username": "admin", "vcenter.url": "https://vc.example.com/sdk", "capabilities.snapshots": "true",
			},
		},
		{
			name:  "vCenter as pods reach it",
			in:    "vcenter:\n  url: https://127.0.0.1:4443/sdk\n  caFile: ca.pem\n",
			vcURL: "https://169.254.77.10/sdk",
			check: map[string]string{"vcenter.url": "https://169.254.77.10/sdk", "vcenter.caFile": CAPath},
		},
		{
			name: "the host's fault endpoint is not the pod's",
			in: "vcenter:\n  url: https://127.0.0.1:4443/sdk\nfaults:\n  url: http://127.0.0.1:5555\n  tokenFile: /tmp/tok\n" +
				"capabilities:\n  faultInjection: true\n  callCounts: true\n  componentRestart: true\n  snapshots: true\n",
			check: map[string]string{"faults": "", "capabilities.faultInjection": "false", "capabilities.callCounts": "", "capabilities.componentRestart": "", "capabilities.snapshots": "true"},
		},
		{name: "password in the replacing url", in: "kind: Target\n", vcURL: "https://u:hunter2@vc/sdk", wantErr: "user:password@"},
		{
			name:  "no vcenter section",
			in:    "kind: Target\n",
			check: map[string]string{"vcenter.passwordFile": PasswordPath, "vcenter.caFile": ""},
		},
		{name: "inline password", in: "vcenter:\n  password: hunter2\n", wantErr: "vcenter.password is set"},
		{name: "password in the url", in: "vcenter:\n  url: admin:hunter2@vc.example.com\n", wantErr: "user:password@"},
		{name: "not yaml", in: "vcenter: [\n", wantErr: "target config:"},
		{name: "empty", in: "", wantErr: "empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := PluginConfig([]byte(c.in), c.vcURL)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := yaml.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			for key, want := range c.check {
				if v := lookup(got, key); v != want {
					t.Errorf("%s = %q, want %q", key, v, want)
				}
			}
		})
	}
}

func lookup(m map[string]any, key string) string {
	head, rest, nested := strings.Cut(key, ".")
	v, ok := m[head]
	if !ok {
		return ""
	}
	if nested {
		sub, _ := v.(map[string]any)
		return lookup(sub, rest)
	}
	switch v := v.(type) {
	case string:
		return v
	case bool:
		if v {
			return "true"
		}
		return "false"
	}
	return ""
}
