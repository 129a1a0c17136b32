// Package stack brings the hermetic target up and down: vcsim (sim/vcenter),
// a kwokctl cluster of real Kubernetes binaries with kwok nodes backed by the
// simulator's VMs, the real vSphere CPI, and the real vSphere CSI controller,
// syncer and sidecars, all on loopback. Its state lives in one directory so
// `sim status` and `sim down` work from any later process.
package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// NodeVM is one Kubernetes node and the vcsim VM behind it.
type NodeVM struct {
	Name       string `json:"name"`
	BIOSUUID   string `json:"biosUUID"`
	IP         string `json:"ip"`
	Datacenter string `json:"datacenter"`
	Cluster    string `json:"cluster"`
	// Kubelet is "kwok" or "real" (sim/vcenter.KubeletReal).
	Kubelet string `json:"kubelet,omitempty"`
}

// Real tells whether a real kubelet runs the node.
func (n NodeVM) Real() bool { return n.Kubelet == "real" }

// VCenter is what the vcenter component reports once it serves.
type VCenter struct {
	URL          string   `json:"url"`
	Host         string   `json:"host"`
	Port         int      `json:"port"`
	Username     string   `json:"username"`
	PasswordFile string   `json:"passwordFile"`
	CAFile       string   `json:"caFile"`
	Datacenters  []string `json:"datacenters"`
	Policies     []string `json:"policies"`
	Nodes        []NodeVM `json:"nodes"`
	// TopologyCategories are the tag categories zones and regions come
	// from; empty when the model defines none (no topology).
	TopologyCategories []string `json:"topologyCategories,omitempty"`
	// FaultsURL is the fault-injection admin endpoint (sim/faults),
	// FaultsTokenFile the file of its bearer token (set by `sim up`).
	FaultsURL       string `json:"faultsURL,omitempty"`
	FaultsTokenFile string `json:"faultsTokenFile,omitempty"`
}

// State is written to DIR/state.json as components come up.
type State struct {
	Dir         string    `json:"dir"`
	ClusterName string    `json:"clusterName"`
	StartedAt   time.Time `json:"startedAt"`
	BinDir      string    `json:"binDir"`
	// Replaced are the pinned binaries replaced by `sim up --with`: name
	// -> the user's file (BinDir holds the copy that runs).
	Replaced      map[string]string `json:"replaced,omitempty"`
	VCenter       VCenter           `json:"vcenter"`
	APIServerPort int               `json:"apiServerPort"`
	Kubeconfig    string            `json:"kubeconfig"`
	CSISocket     string            `json:"csiSocket"`
	TargetConfig  string            `json:"targetConfig"`
	CPIConfigForm string            `json:"cpiConfigForm,omitempty"` // the form of the CPI's cloud config (yaml, ini)
	Processes     []*Process        `json:"processes"`
	// RealNodes, CreatedDirs and Sysctls are what real nodes changed on the
	// machine, for teardown: their namespaces and cgroups, the host
	// directories made as mount points, the kernel settings before.
	RealNodes   []*RealNode       `json:"realNodes,omitempty"`
	CreatedDirs []string          `json:"createdDirs,omitempty"`
	Sysctls     map[string]string `json:"sysctls,omitempty"`
	// DiskDir holds the FCDs' backing files and the real nodes' disk
	// registrations (sim/loopdisk).
	DiskDir string `json:"diskDir,omitempty"`
	// Defect is the defect profile the simulated vCenter runs with
	// (Options.Defect); "" for a clean target.
	Defect string `json:"defect,omitempty"`
	Ready  bool   `json:"ready"`
}

const stateFile = "state.json"

func (s *State) path(elem ...string) string {
	return filepath.Join(append([]string{s.Dir}, elem...)...)
}

func (s *State) save() error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.path(stateFile + ".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.path(stateFile))
}

// ErrNotRunning tells that the state directory holds no stack.
var ErrNotRunning = errors.New("no hermetic target is running")

// Load reads the state of a stack from dir.
func Load(dir string) (*State, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w (no %s)", ErrNotRunning, filepath.Join(dir, stateFile))
	}
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Join(dir, stateFile), err)
	}
	s.Dir = dir
	return &s, nil
}

// Process returns the component of that name, or nil.
func (s *State) Process(name string) *Process {
	for _, p := range s.Processes {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// AnyAlive tells whether a component of this state still runs.
func (s *State) AnyAlive() bool {
	for _, p := range s.Processes {
		if p.Alive() {
			return true
		}
	}
	return false
}
