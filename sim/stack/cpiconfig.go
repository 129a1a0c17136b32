package stack

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// The CPI's credentials Secret, where the upstream manifests put it.
const (
	cpiSecretName      = "vsphere-cloud-secret"
	cpiSecretNamespace = "kube-system"
)

// The subnets the CPI config selects node addresses from: RFC 5737
// documentation ranges (plain data, never reached), apart from the model's
// node addresses and the 198.51.100.0/24 of the cpi suite's fake nodes.
const (
	cpiInternalSubnet = "192.0.2.0/24"
	cpiExternalSubnet = "203.0.113.0/24"
)

// The forms of cloud config the CPI reads (Options.CPIConfigForm): it tries
// YAML first and falls back to the legacy INI (gcfg) form.
const (
	CPIConfigYAML = "yaml"
	CPIConfigINI  = "ini"
)

// CPIConfigForms lists the accepted Options.CPIConfigForm values.
var CPIConfigForms = []string{CPIConfigYAML, CPIConfigINI}

// cpiSettings are the values of the CPI config, whatever its form: both
// renderings read them from here so the forms cannot drift apart.
type cpiSettings struct {
	Server          string
	Port            int
	Insecure        bool
	SecretName      string
	SecretNamespace string
	Datacenters     []string
	ZoneCategory    string
	RegionCategory  string
	InternalSubnet  string
	ExternalSubnet  string
}

// cpiSettingsFor holds no credentials: the CCM reads them from the Secret.
// Zone and region come from the k8s-zone / k8s-region tag categories.
func cpiSettingsFor(vc VCenter) cpiSettings {
	return cpiSettings{
		Server:          vc.Host,
		Port:            vc.Port,
		Insecure:        true, // our vCenter's certificate is made at start; the runner verifies it with the CA file
		SecretName:      cpiSecretName,
		SecretNamespace: cpiSecretNamespace,
		Datacenters:     vc.Datacenters,
		ZoneCategory:    zoneCategory,
		RegionCategory:  regionCategory,
		// Multi-homed VMs get InternalIP/ExternalIP from these subnets; the
		// model's single-NIC node VMs have addresses in neither, so the CPI
		// falls back to their first address for both.
		InternalSubnet: cpiInternalSubnet,
		ExternalSubnet: cpiExternalSubnet,
	}
}

// cpiConfigFile renders the CPI config in the given form and names the
// file it goes in.
func cpiConfigFile(form string, vc VCenter) (name, content string, err error) {
	switch form {
	case CPIConfigYAML, "":
		return "vsphere-cloud.yaml", cpiConfigYAML(cpiSettingsFor(vc)), nil
	case CPIConfigINI:
		return "vsphere-cloud.conf", cpiConfigINI(cpiSettingsFor(vc)), nil
	}
	return "", "", fmt.Errorf("unknown CPI config form %q (want %s)", form, strings.Join(CPIConfigForms, " or "))
}

// cpiConfigYAML renders the YAML config, the form the upstream manifests
// ship (keys of pkg/cloudprovider/vsphere/config/types_yaml.go).
func cpiConfigYAML(c cpiSettings) string {
	cfg := map[string]any{
		"global": map[string]any{
			"port":            c.Port,
			"insecureFlag":    c.Insecure,
			"secretName":      c.SecretName,
			"secretNamespace": c.SecretNamespace,
		},
		"vcenter": map[string]any{
			c.Server: map[string]any{
				"server":      c.Server,
				"port":        c.Port,
				"datacenters": c.Datacenters,
			},
		},
		"labels": map[string]any{"zone": c.ZoneCategory, "region": c.RegionCategory},
		"nodes": map[string]any{
			"internalNetworkSubnetCidr": c.InternalSubnet,
			"externalNetworkSubnetCidr": c.ExternalSubnet,
		},
	}
	data, _ := yaml.Marshal(cfg) // plain maps of strings, ints and bools always marshal
	return string(data)
}

// cpiConfigINI renders the legacy gcfg config (keys of
// pkg/common/config/types_ini_legacy.go and
// pkg/cloudprovider/vsphere/config/types_ini_legacy.go): datacenters is one
// comma-separated value, the section name of a VirtualCenter is its server.
func cpiConfigINI(c cpiSettings) string {
	var b strings.Builder
	section := func(name string, kv ...string) {
		fmt.Fprintf(&b, "[%s]\n", name)
		for i := 0; i < len(kv); i += 2 {
			fmt.Fprintf(&b, "%s = %s\n", kv[i], gcfgQuote(kv[i+1]))
		}
		b.WriteString("\n")
	}
	port := strconv.Itoa(c.Port)
	section("Global", "port", port, "insecure-flag", strconv.FormatBool(c.Insecure),
		"secret-name", c.SecretName, "secret-namespace", c.SecretNamespace)
	section("VirtualCenter "+gcfgQuote(c.Server), "port", port, "datacenters", strings.Join(c.Datacenters, ","))
	section("Labels", "zone", c.ZoneCategory, "region", c.RegionCategory)
	section("Nodes", "internal-network-subnet-cidr", c.InternalSubnet, "external-network-subnet-cidr", c.ExternalSubnet)
	return strings.TrimSuffix(b.String(), "\n")
}

// gcfgQuote makes a gcfg quoted string: '"' and '\' escaped, so ';' or '#'
// in a value is not read as a comment.
func gcfgQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// cpiSecretData is the Secret's data: "<server>.username" and
// "<server>.password", the keys the CPI's credential manager parses.
func cpiSecretData(vc VCenter, password string) map[string][]byte {
	return map[string][]byte{
		vc.Host + ".username": []byte(vc.Username),
		vc.Host + ".password": []byte(password),
	}
}

func (k *kube) createCPISecret(ctx context.Context, vc VCenter, password string) error {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: cpiSecretName, Namespace: cpiSecretNamespace},
		Data:       cpiSecretData(vc, password),
	}
	if _, err := k.cs.CoreV1().Secrets(cpiSecretNamespace).Create(ctx, s, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}
