package stack

import (
	"context"

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

// cpiConfigYAML renders the vSphere CPI's YAML config (the form the upstream
// manifests ship; the legacy INI form is read by the same code): no
// credentials in the file, the CCM reads them from the Secret. Zone and
// region come from the k8s-zone / k8s-region tag categories.
func cpiConfigYAML(vc VCenter) string {
	cfg := map[string]any{
		"global": map[string]any{
			"port":            vc.Port,
			"insecureFlag":    true, // our vCenter's certificate is made at start; the runner verifies it with the CA file
			"secretName":      cpiSecretName,
			"secretNamespace": cpiSecretNamespace,
		},
		"vcenter": map[string]any{
			vc.Host: map[string]any{
				"server":      vc.Host,
				"port":        vc.Port,
				"datacenters": vc.Datacenters,
			},
		},
		"labels": map[string]any{"zone": zoneCategory, "region": regionCategory},
		// Multi-homed VMs get InternalIP/ExternalIP from these subnets; the
		// model's single-NIC node VMs have addresses in neither, so the CPI
		// falls back to their first address for both.
		"nodes": map[string]any{
			"internalNetworkSubnetCidr": cpiInternalSubnet,
			"externalNetworkSubnetCidr": cpiExternalSubnet,
		},
	}
	data, _ := yaml.Marshal(cfg) // plain maps of strings, ints and bools always marshal
	return string(data)
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
