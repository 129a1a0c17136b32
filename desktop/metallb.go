package desktop

import (
	"bytes"
	"fmt"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"
)

// Pool is a MetalLB address pool from either form of MetalLB config.
type Pool struct {
	Name string
	// Source says where the pool came from: "IPAddressPool",
	// "ConfigMap metallb-system/config" or "minikube profile".
	Source    string
	Protocol  string // legacy ConfigMap only (layer2, bgp)
	Addresses []string
	Ranges    []Range
	// Invalid lists the addresses entries that do not parse, with why.
	Invalid []string
}

func (p Pool) String() string { return fmt.Sprintf("pool %q (%s)", p.Name, p.Source) }

// legacyConfig is the `config` key of the ConfigMap metallb-system/config
// that MetalLB < 0.13 and minikube's metallb addon use.
type legacyConfig struct {
	AddressPools []struct {
		Name      string   `json:"name"`
		Protocol  string   `json:"protocol"`
		Addresses []string `json:"addresses"`
	} `json:"address-pools"`
}

type kubeObject struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Data map[string]string `json:"data"`
	Spec struct {
		Addresses []string `json:"addresses"`
	} `json:"spec"`
	Items []kubeObject `json:"items"`
}

// ParseMetalLB reads MetalLB pools from YAML of one or more documents (as
// `kubectl get -o yaml` or a manifest file has them): IPAddressPool
// resources (metallb.io/v1beta1, MetalLB >= 0.13), the legacy ConfigMap
// `config` with `address-pools`, and Lists of either. Other objects are
// skipped. A file with no pool at all is an error.
func ParseMetalLB(data []byte) ([]Pool, error) {
	var pools []Pool
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	for doc := 1; ; doc++ {
		var node yamlv3.Node
		if err := dec.Decode(&node); err != nil {
			if err.Error() == "EOF" {
				break
			}
			return nil, fmt.Errorf("document %d: %v", doc, err)
		}
		raw, err := yamlv3.Marshal(&node)
		if err != nil {
			return nil, fmt.Errorf("document %d: %v", doc, err)
		}
		var obj kubeObject
		if err := yaml.Unmarshal(raw, &obj); err != nil {
			return nil, fmt.Errorf("document %d: %v", doc, err)
		}
		got, err := poolsOf(obj)
		if err != nil {
			return nil, fmt.Errorf("document %d: %v", doc, err)
		}
		pools = append(pools, got...)
	}
	if len(pools) == 0 {
		return nil, fmt.Errorf("no IPAddressPool and no ConfigMap config with address-pools")
	}
	return pools, nil
}

func poolsOf(obj kubeObject) ([]Pool, error) {
	switch {
	case strings.HasSuffix(obj.Kind, "List"):
		var out []Pool
		for _, item := range obj.Items {
			got, err := poolsOf(item)
			if err != nil {
				return nil, err
			}
			out = append(out, got...)
		}
		return out, nil
	case obj.Kind == "IPAddressPool" && strings.HasPrefix(obj.APIVersion, "metallb.io/"):
		return []Pool{newPool(obj.Metadata.Name, "IPAddressPool", "", obj.Spec.Addresses)}, nil
	case obj.Kind == "ConfigMap" && obj.Metadata.Name == "config" && obj.Data["config"] != "":
		var cfg legacyConfig
		if err := yaml.UnmarshalStrict([]byte(obj.Data["config"]), &cfg); err != nil {
			// Other legacy keys (peers, bgp-communities) are fine; only a
			// syntax error or a wrong type is not.
			if err := yaml.Unmarshal([]byte(obj.Data["config"]), &cfg); err != nil {
				return nil, fmt.Errorf("ConfigMap config: data.config: %v", err)
			}
		}
		src := "ConfigMap " + orDefault(obj.Metadata.Namespace, "metallb-system") + "/config"
		var out []Pool
		for _, p := range cfg.AddressPools {
			out = append(out, newPool(p.Name, src, p.Protocol, p.Addresses))
		}
		return out, nil
	}
	return nil, nil
}

func orDefault(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func newPool(name, source, protocol string, addresses []string) Pool {
	p := Pool{Name: name, Source: source, Protocol: protocol, Addresses: addresses}
	for _, a := range addresses {
		r, err := ParseRange(a)
		if err != nil {
			p.Invalid = append(p.Invalid, err.Error())
			continue
		}
		p.Ranges = append(p.Ranges, r)
	}
	return p
}
