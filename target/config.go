package target

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// APIVersion and Kind identify a target config file.
const (
	APIVersion = "vsconform.io/v1alpha1"
	Kind       = "Target"
)

// DefaultCSINamespace is where the upstream manifests install the driver.
const DefaultCSINamespace = "vmware-system-csi"

// Config is the typed target config file (DESIGN rule 3). Fields the file
// leaves empty are filled from the ecosystem's env conventions (see env.go).
type Config struct {
	APIVersion   string       `json:"apiVersion" yaml:"apiVersion"`
	Kind         string       `json:"kind" yaml:"kind"`
	Name         string       `json:"name" yaml:"name"`
	Kubeconfig   string       `json:"kubeconfig" yaml:"kubeconfig"`
	VCenter      VCenter      `json:"vcenter" yaml:"vcenter"`
	CSI          CSI          `json:"csi" yaml:"csi"`
	Storage      Storage      `json:"storage" yaml:"storage"`
	CPI          CPI          `json:"cpi,omitempty" yaml:"cpi,omitempty"`
	Capabilities Capabilities `json:"capabilities" yaml:"capabilities"`
	LogDir       string       `json:"logDir,omitempty" yaml:"logDir,omitempty"`
	// DataImage runs the data-checking pods (capability dataPath): any image
	// with a busybox or coreutils shell; default DefaultDataImage.
	DataImage string `json:"dataImage,omitempty" yaml:"dataImage,omitempty"`
	// Faults is the simulated vCenter's fault-injection endpoint
	// (capability faultInjection; see FaultsEndpoint).
	Faults *FaultsEndpoint `json:"faults,omitempty" yaml:"faults,omitempty"`
	// Components say where each component's pods are on a real cluster
	// (capability componentRestart; defaults: the published manifests').
	// The hermetic target restarts its processes through Faults instead.
	Components map[string]ComponentPods `json:"components,omitempty" yaml:"components,omitempty"`

	// InCluster: no kubeconfig anywhere and running in a pod, so the API is
	// reached with the pod's service account (rest.InClusterConfig), as
	// client-go's own loading rules do (the Sonobuoy plugin).
	InCluster bool `json:"-" yaml:"-"`

	// Source is the file the config came from ("" when built from env only).
	Source string `json:"-" yaml:"-"`
}

// VCenter says where vCenter is and how to log in.
type VCenter struct {
	URL          string `json:"url" yaml:"url"`
	Datacenter   string `json:"datacenter,omitempty" yaml:"datacenter,omitempty"`
	Insecure     bool   `json:"insecure" yaml:"insecure"`
	CAFile       string `json:"caFile,omitempty" yaml:"caFile,omitempty"`
	Username     string `json:"username" yaml:"username"`
	PasswordFile string `json:"passwordFile,omitempty" yaml:"passwordFile,omitempty"`
	Password     Secret `json:"password,omitempty" yaml:"password,omitempty"`
}

// CSI describes the installed vSphere CSI driver.
type CSI struct {
	Namespace string `json:"namespace" yaml:"namespace"`
	// ClusterID is the driver's cluster-id, i.e. CNS ContainerCluster.ClusterId.
	ClusterID string `json:"clusterID,omitempty" yaml:"clusterID,omitempty"`
}

// Storage names what the target offers for provisioning.
type Storage struct {
	DefaultStorageClass string   `json:"defaultStorageClass,omitempty" yaml:"defaultStorageClass,omitempty"`
	Policies            []string `json:"policies,omitempty" yaml:"policies,omitempty"`
}

// CPI describes the installed vSphere cloud provider's config: the tag
// categories its [Labels] zone/region name, and the size of the scale spec.
type CPI struct {
	ZoneCategory   string `json:"zoneCategory,omitempty" yaml:"zoneCategory,omitempty"`
	RegionCategory string `json:"regionCategory,omitempty" yaml:"regionCategory,omitempty"`
	// ScaleNodes is how many VMs + nodes the cpi scale spec creates
	// (capability fakeNodes); 0 means the spec's default, 200.
	ScaleNodes int `json:"scaleNodes,omitempty" yaml:"scaleNodes,omitempty"`
	// InternalSubnet and ExternalSubnet are the CIDRs (comma-separated)
	// of the CPI config's nodes.internalNetworkSubnetCIDR and
	// externalNetworkSubnetCIDR: the subnets it takes a node's InternalIP
	// and ExternalIP from. Empty skips the subnet-selection spec.
	InternalSubnet string `json:"internalSubnet,omitempty" yaml:"internalSubnet,omitempty"`
	ExternalSubnet string `json:"externalSubnet,omitempty" yaml:"externalSubnet,omitempty"`
	// ConfigForm is the form of the CPI's cloud config, "yaml" or the
	// legacy "ini"; it only documents the target (empty: not stated).
	ConfigForm string `json:"configForm,omitempty" yaml:"configForm,omitempty"`
}

// Secrets returns the raw credentials this config holds, so that report
// writers can scrub them from anything captured during a run.
func (c *Config) Secrets() []string {
	var out []string
	add := func(s Secret) {
		if s != "" && !slices.Contains(out, s.Reveal()) {
			out = append(out, s.Reveal())
		}
	}
	add(c.VCenter.Password)
	if c.VCenter.PasswordFile != "" {
		if p, err := c.VCenter.password(); err == nil {
			add(p)
		}
	}
	return out
}

// password returns the vCenter password from passwordFile or password.
func (v VCenter) password() (Secret, error) {
	if v.PasswordFile == "" {
		return v.Password, nil
	}
	b, err := os.ReadFile(v.PasswordFile)
	if err != nil {
		return "", err
	}
	// A file written by `echo` ends in a newline that is not part of the password.
	return Secret(strings.TrimRight(string(b), "\r\n")), nil
}

// resolvePaths makes the file's relative paths relative to the file's
// directory, so a config works whatever the working directory.
func (c *Config) resolvePaths(dir string) {
	paths := []*string{&c.Kubeconfig, &c.VCenter.CAFile, &c.VCenter.PasswordFile, &c.LogDir}
	if c.Faults != nil {
		paths = append(paths, &c.Faults.TokenFile)
	}
	for _, p := range paths {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}
