package sonobuoy

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"
)

// PluginConfig turns a target config file into the one the plugin reads in
// the cluster: no kubeconfig (the pod's service account is used), the
// password and CA read from the mounted Secret, no local log folder. A config
// that carries the password itself is refused: it would end up in a
// ConfigMap. A non-empty vcenterURL replaces vcenter.url: vCenter as the
// plugin pod reaches it, where that differs from outside the cluster.
func PluginConfig(data []byte, vcenterURL string) ([]byte, error) {
	var cfg map[string]any
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("target config: %v", oneLine(err.Error()))
	}
	if cfg == nil {
		return nil, errors.New("target config: empty")
	}
	vc, _ := cfg["vcenter"].(map[string]any)
	if vc == nil {
		vc = map[string]any{}
		cfg["vcenter"] = vc
	}
	if p, _ := vc["password"].(string); p != "" {
		return nil, errors.New("target config: vcenter.password is set; the plugin reads the password from the Secret (key \"password\"): remove it from the file")
	}
	if vcenterURL != "" {
		vc["url"] = vcenterURL
	}
	if raw, _ := vc["url"].(string); raw != "" {
		if u, err := url.Parse(withScheme(raw)); err == nil && u.User != nil {
			return nil, errors.New("target config: vcenter.url carries user:password@; put the password in the Secret and the user in vcenter.username")
		}
	}
	delete(cfg, "kubeconfig")
	delete(cfg, "logDir")
	// The simulated vCenter's fault endpoint listens on the harness host's
	// loopback and its token file stays there: a plugin pod reaches neither,
	// so its specs must not be selected in the pod.
	if _, ok := cfg["faults"]; ok {
		delete(cfg, "faults")
		if caps, _ := cfg["capabilities"].(map[string]any); caps != nil {
			caps["faultInjection"] = false
			delete(caps, "callCounts")
			delete(caps, "componentRestart") // the hermetic target's component control is on the same endpoint
		}
	}
	delete(vc, "password")
	vc["passwordFile"] = PasswordPath
	if ca, _ := vc["caFile"].(string); ca != "" {
		vc["caFile"] = CAPath
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(cfg); err != nil {
		return nil, err
	}
	return out.Bytes(), enc.Close()
}

func withScheme(raw string) string {
	if strings.Contains(raw, "://") {
		return raw
	}
	return "https://" + raw
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
