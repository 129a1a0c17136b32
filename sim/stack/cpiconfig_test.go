package stack

import (
	"bufio"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// cpiView is what the CCM takes from its config, whatever the form.
type cpiView struct {
	GlobalPort, VCPort             int
	Insecure                       bool
	SecretName, SecretNamespace    string
	Server                         string
	Datacenters                    string // comma-separated
	Zone, Region                   string
	InternalSubnet, ExternalSubnet string
	Sections                       int // top-level sections/keys seen
}

func viewYAML(t *testing.T, out string) cpiView {
	var got struct {
		Global struct {
			Port            int    `json:"port"`
			InsecureFlag    bool   `json:"insecureFlag"`
			SecretName      string `json:"secretName"`
			SecretNamespace string `json:"secretNamespace"`
		} `json:"global"`
		VCenter map[string]struct {
			Server      string   `json:"server"`
			Port        int      `json:"port"`
			Datacenters []string `json:"datacenters"`
		} `json:"vcenter"`
		Labels struct{ Zone, Region string } `json:"labels"`
		Nodes  struct {
			Internal string `json:"internalNetworkSubnetCidr"`
			External string `json:"externalNetworkSubnetCidr"`
		} `json:"nodes"`
	}
	if err := yaml.UnmarshalStrict([]byte(out), &got); err != nil {
		t.Fatalf("parse:\n%s\n%v", out, err)
	}
	v := cpiView{GlobalPort: got.Global.Port, Insecure: got.Global.InsecureFlag, SecretName: got.Global.SecretName,
		SecretNamespace: got.Global.SecretNamespace, Zone: got.Labels.Zone, Region: got.Labels.Region,
		InternalSubnet: got.Nodes.Internal, ExternalSubnet: got.Nodes.External, Sections: 4}
	for name, vc := range got.VCenter {
		if vc.Server != name {
			t.Errorf("vcenter %q has server %q", name, vc.Server)
		}
		v.Server, v.VCPort, v.Datacenters = vc.Server, vc.Port, strings.Join(vc.Datacenters, ",")
	}
	return v
}

// viewINI reads the gcfg subset the renderer writes: [Section] or
// [Section "sub"], and key = "quoted value"; any other line fails.
func viewINI(t *testing.T, out string) cpiView {
	vals := map[string]string{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.TrimSuffix(strings.TrimPrefix(line, "["), "]")
		default:
			k, q, ok := strings.Cut(line, " = ")
			val, err := strconv.Unquote(q)
			if !ok || err != nil || section == "" {
				t.Fatalf("bad line %q in:\n%s", line, out)
			}
			if _, dup := vals[section+"|"+k]; dup {
				t.Fatalf("duplicate %s %s", section, k)
			}
			vals[section+"|"+k] = val
		}
	}
	atoi := func(k string) int { n, _ := strconv.Atoi(vals[k]); return n }
	v := cpiView{GlobalPort: atoi("Global|port"), Insecure: vals["Global|insecure-flag"] == "true",
		SecretName: vals["Global|secret-name"], SecretNamespace: vals["Global|secret-namespace"],
		Zone: vals["Labels|zone"], Region: vals["Labels|region"],
		InternalSubnet: vals["Nodes|internal-network-subnet-cidr"], ExternalSubnet: vals["Nodes|external-network-subnet-cidr"]}
	sections := map[string]bool{}
	for k := range vals {
		s, _, _ := strings.Cut(k, "|")
		sections[s] = true
		if sub, ok := strings.CutPrefix(s, "VirtualCenter "); ok {
			v.Server, _ = strconv.Unquote(sub)
			v.VCPort, v.Datacenters = atoi(s+"|port"), vals[s+"|datacenters"]
		}
	}
	v.Sections = len(sections)
	if len(vals) != 10 {
		t.Errorf("INI config has %d keys, want 10:\n%s", len(vals), out)
	}
	return v
}

// Both forms of the CPI config carry the same values (the vCenter, the
// Secret, the tag categories, the subnets) and never the credentials.
func TestCPIConfigForms(t *testing.T) {
	vc := VCenter{Host: "127.0.0.1", Port: 8989, Username: "admin@vsphere.local", Datacenters: []string{"DC0", "DC1"}}
	want := cpiView{GlobalPort: 8989, VCPort: 8989, Insecure: true, SecretName: cpiSecretName, SecretNamespace: cpiSecretNamespace,
		Server: "127.0.0.1", Datacenters: "DC0,DC1", Zone: "k8s-zone", Region: "k8s-region",
		InternalSubnet: cpiInternalSubnet, ExternalSubnet: cpiExternalSubnet, Sections: 4}
	tests := []struct {
		form, file string
		view       func(*testing.T, string) cpiView
	}{
		{"yaml", "vsphere-cloud.yaml", viewYAML},
		{"", "vsphere-cloud.yaml", viewYAML},
		{"ini", "vsphere-cloud.conf", viewINI},
	}
	for _, tc := range tests {
		t.Run("form "+tc.form, func(t *testing.T) {
			name, out, err := cpiConfigFile(tc.form, vc)
			if err != nil || name != tc.file {
				t.Fatalf("cpiConfigFile(%q) = %q, %v; want %q", tc.form, name, err, tc.file)
			}
			if got := tc.view(t, out); got != want {
				t.Errorf("config read back as\n%+v\nwant\n%+v\nfrom:\n%s", got, want, out)
			}
			if strings.Contains(out, "password") || strings.Contains(out, "admin@") || strings.Contains(out, "user") {
				t.Errorf("config holds credentials:\n%s", out)
			}
		})
	}
	if _, _, err := cpiConfigFile("toml", vc); err == nil || err.Error() != `unknown CPI config form "toml" (want yaml or ini)` {
		t.Errorf("unknown form: %v", err)
	}
	data := cpiSecretData(vc, "s3cret")
	if string(data["127.0.0.1.username"]) != vc.Username || string(data["127.0.0.1.password"]) != "s3cret" || len(data) != 2 {
		t.Errorf("secret data keys = %v", data)
	}
}

// A value with gcfg's comment or quote characters stays one quoted value.
func TestGcfgQuote(t *testing.T) {
	for in, want := range map[string]string{
		"DC0":        `"DC0"`,
		`a;b#c`:      `"a;b#c"`,
		`say "hi"\n`: `"say \"hi\"\\n"`,
	} {
		if got := gcfgQuote(in); got != want {
			t.Errorf("gcfgQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
