package stack

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The CPI's YAML config names the vCenter, the Secret and the tag
// categories, and never holds the password.
func TestCPIConfigYAML(t *testing.T) {
	vc := VCenter{Host: "127.0.0.1", Port: 8989, Username: "admin@vsphere.local", Datacenters: []string{"DC0", "DC1"}}
	out := cpiConfigYAML(vc)
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
	v := got.VCenter["127.0.0.1"]
	tests := []struct {
		field     string
		got, want any
	}{
		{"global.port", got.Global.Port, 8989},
		{"global.insecureFlag", got.Global.InsecureFlag, true},
		{"global.secretName", got.Global.SecretName, cpiSecretName},
		{"global.secretNamespace", got.Global.SecretNamespace, cpiSecretNamespace},
		{"vcenter.server", v.Server, "127.0.0.1"},
		{"vcenter.port", v.Port, 8989},
		{"vcenter.datacenters", strings.Join(v.Datacenters, ","), "DC0,DC1"},
		{"labels.zone", got.Labels.Zone, "k8s-zone"},
		{"labels.region", got.Labels.Region, "k8s-region"},
		{"nodes.internalNetworkSubnetCidr", got.Nodes.Internal, cpiInternalSubnet},
		{"nodes.externalNetworkSubnetCidr", got.Nodes.External, cpiExternalSubnet},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.field, tc.got, tc.want)
		}
	}
	if strings.Contains(out, "password") || strings.Contains(out, "admin@") {
		t.Errorf("config holds credentials:\n%s", out)
	}
	data := cpiSecretData(vc, "s3cret")
	if string(data["127.0.0.1.username"]) != vc.Username || string(data["127.0.0.1.password"]) != "s3cret" || len(data) != 2 {
		t.Errorf("secret data keys = %v", data)
	}
}
