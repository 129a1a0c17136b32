package desktop

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// MinikubeConfig is ~/.minikube/config/config.json, what `minikube config
// set` writes: the defaults for the next `minikube start`. Values are
// written as JSON numbers or strings depending on the minikube version and
// how they were set, so both are accepted.
type MinikubeConfig struct {
	Driver    string // "driver", or the older "vm-driver"
	CPUs      int    // 0 when not set
	MemoryMiB int    // 0 when not set or "max"/"no-limit"
	Profile   string // "profile": the active profile
}

// ParseMinikubeConfig parses the global minikube config.
func ParseMinikubeConfig(data []byte) (*MinikubeConfig, error) {
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", jsonErr(err))
	}
	c := &MinikubeConfig{}
	c.Driver = stringValue(raw["driver"])
	if c.Driver == "" {
		c.Driver = stringValue(raw["vm-driver"])
	}
	c.Profile = stringValue(raw["profile"])
	var err error
	if v, ok := raw["cpus"]; ok {
		if c.CPUs, err = intValue(v); err != nil {
			return nil, fmt.Errorf("cpus: %v", err)
		}
	}
	if v, ok := raw["memory"]; ok {
		if c.MemoryMiB, err = memoryMiB(v); err != nil {
			return nil, fmt.Errorf("memory: %v", err)
		}
	}
	return c, nil
}

// MinikubeProfile is ~/.minikube/profiles/<name>/config.json, minikube's
// ClusterConfig: what the cluster was actually created with.
type MinikubeProfile struct {
	Name             string
	Driver           string
	VMDriver         string // older minikube
	CPUs             int
	Memory           int // MiB
	Nodes            []MinikubeNode
	KubernetesConfig struct {
		KubernetesVersion   string
		ClusterName         string
		LoadBalancerStartIP string // `minikube addons configure metallb`
		LoadBalancerEndIP   string
	}
	Addons map[string]bool
}

// MinikubeNode is one node of a profile; IP is empty until the VM got an address.
type MinikubeNode struct {
	Name         string
	IP           string
	Port         int
	ControlPlane bool
	Worker       bool
}

// DriverName is Driver, or VMDriver for profiles written by old minikube.
func (p *MinikubeProfile) DriverName() string {
	if p.Driver != "" {
		return p.Driver
	}
	return p.VMDriver
}

// LoadBalancerRange is the MetalLB range minikube renders into the addon's
// ConfigMap; ok is false when neither end is set.
func (p *MinikubeProfile) LoadBalancerRange() (r Range, ok bool, err error) {
	start, end := strings.TrimSpace(p.KubernetesConfig.LoadBalancerStartIP), strings.TrimSpace(p.KubernetesConfig.LoadBalancerEndIP)
	if start == "" && end == "" {
		return Range{}, false, nil
	}
	a, err1 := netip.ParseAddr(start)
	b, err2 := netip.ParseAddr(end)
	if err1 != nil || err2 != nil {
		return Range{}, true, fmt.Errorf("LoadBalancerStartIP %q / LoadBalancerEndIP %q are not both addresses", start, end)
	}
	r, err = NewRange(a, b)
	return r, true, err
}

// ParseMinikubeProfile parses a profile's config.json.
func ParseMinikubeProfile(data []byte) (*MinikubeProfile, error) {
	var p MinikubeProfile
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("not a minikube profile: %v", jsonErr(err))
	}
	if p.DriverName() == "" && len(p.Nodes) == 0 && p.Name == "" {
		return nil, fmt.Errorf("not a minikube profile: no Name, Driver or Nodes")
	}
	for i, n := range p.Nodes {
		if n.IP != "" {
			if _, err := netip.ParseAddr(n.IP); err != nil {
				return nil, fmt.Errorf("Nodes[%d].IP %q is not an address", i, n.IP)
			}
		}
	}
	return &p, nil
}

func jsonErr(err error) string {
	if se, ok := err.(*json.SyntaxError); ok {
		return fmt.Sprintf("%v at byte %d", se, se.Offset)
	}
	return err.Error()
}

func stringValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

func intValue(v any) (int, error) {
	switch x := v.(type) {
	case float64:
		return int(x), nil
	case string:
		if x == "max" || x == "no-limit" {
			return 0, nil
		}
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", x)
		}
		return n, nil
	}
	return 0, fmt.Errorf("%v is not a number", v)
}

var sizePattern = regexp.MustCompile(`^(?i)\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$`)

// memoryMiB reads a memory size as minikube does: a plain number is MB, a
// suffix k/m/g/t (with or without b) is binary (minikube parses it with
// docker's units.RAMInBytes). "max" and "no-limit" give 0 (unknown).
func memoryMiB(v any) (int, error) {
	switch x := v.(type) {
	case float64:
		return int(x), nil
	case string:
		if x == "max" || x == "no-limit" {
			return 0, nil
		}
		m := sizePattern.FindStringSubmatch(x)
		if m == nil {
			return 0, fmt.Errorf("%q is not a size like 8192, 8192mb or 8g", x)
		}
		n, _ := strconv.ParseFloat(m[1], 64)
		unit := strings.ToLower(m[2])
		if unit == "" && m[3] != "" {
			return int(n / (1 << 20)), nil // bytes
		}
		mult := map[string]float64{"": 1, "k": 1.0 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}[unit]
		return int(n * mult), nil
	}
	return 0, fmt.Errorf("%v is not a size", v)
}
