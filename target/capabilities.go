package target

import (
	"fmt"
	"slices"
	"strings"

	"github.com/onsi/ginkgo/v2"
)

// Capabilities is what a target declares it supports (DESIGN rule 2), like a
// TestDriver's capabilities in the Kubernetes storage framework. Specs ask
// for them by name with Require and are skipped, with the reason, without.
type Capabilities struct {
	BlockVolumes     bool `json:"blockVolumes" yaml:"blockVolumes"`
	FileVolumes      bool `json:"fileVolumes" yaml:"fileVolumes"`
	Snapshots        bool `json:"snapshots" yaml:"snapshots"`
	OfflineExpansion bool `json:"offlineExpansion" yaml:"offlineExpansion"`
	OnlineExpansion  bool `json:"onlineExpansion" yaml:"onlineExpansion"`
	Topology         bool `json:"topology" yaml:"topology"`
	Encryption       bool `json:"encryption" yaml:"encryption"`
	Migration        bool `json:"migration" yaml:"migration"`
	// CNSMetadataSync: the syncer's entity metadata updates reach CNS
	// reliably (every real vCenter; see the hermetic target's note).
	CNSMetadataSync bool `json:"cnsMetadataSync" yaml:"cnsMetadataSync"`
	// LoadBalancer is "", "metallb" or "nsxt".
	LoadBalancer   string `json:"loadBalancer" yaml:"loadBalancer"`
	FaultInjection bool   `json:"faultInjection" yaml:"faultInjection"`
	// CallCounts: vCenter says how many calls it served, by API and method
	// (the hermetic vCenter's fault endpoint), for the cost-per-operation specs.
	CallCounts       bool `json:"callCounts,omitempty" yaml:"callCounts,omitempty"`
	HTTPReachability bool `json:"httpReachability" yaml:"httpReachability"`
	// ComponentRestart: specs may stop, start and restart the CSI driver's,
	// syncer's, sidecars' and CPI's components (RestartComponent).
	ComponentRestart bool `json:"componentRestart,omitempty" yaml:"componentRestart,omitempty"`
	// FakeNodes: specs may register kwok Nodes (no kubelet) for VMs they
	// create, whose guest identity they set through vcsim's "SET.guest.*"
	// extraConfig keys; only a simulated target can offer this.
	FakeNodes bool `json:"fakeNodes,omitempty" yaml:"fakeNodes,omitempty"`
	// DataPath: pods really run and mount their volumes on (some of) the
	// target's nodes, so specs may write and read data (every real cluster;
	// the hermetic target's real kubelet nodes).
	DataPath bool `json:"dataPath,omitempty" yaml:"dataPath,omitempty"`
	// FileVolumeMounts: the nodes where pods really run can mount the NFS
	// shares of file volumes (a real cluster with vSAN file service); the
	// hermetic target's file shares have no NFS server behind them.
	FileVolumeMounts bool `json:"fileVolumeMounts,omitempty" yaml:"fileVolumeMounts,omitempty"`
	// OnlineExpansionFSTypes are the filesystems the nodes can grow while
	// mounted; empty means every fstype the specs use (ext4, xfs). A machine
	// without CAP_SYS_RESOURCE cannot grow a mounted ext4, for one.
	OnlineExpansionFSTypes []string `json:"onlineExpansionFSTypes,omitempty" yaml:"onlineExpansionFSTypes,omitempty"`
	// FullSyncTrigger: specs may run a full sync of the CSI syncer through
	// its TriggerCsiFullSync API (the driver's feature state
	// trigger-csi-fullsync), so a check that the syncer left something
	// alone covers its periodic reconciliation.
	FullSyncTrigger bool `json:"fullSyncTrigger,omitempty" yaml:"fullSyncTrigger,omitempty"`
	// MaxVolumesPerNode is the CSI node limit; 0 means not declared.
	MaxVolumesPerNode int `json:"maxVolumesPerNode" yaml:"maxVolumesPerNode"`
	// MaxSnapshotsPerVolume is the driver's per-volume snapshot limit
	// ([Snapshot] global-max-snapshots-per-block-volume); 0 means not declared.
	MaxSnapshotsPerVolume int `json:"maxSnapshotsPerVolume,omitempty" yaml:"maxSnapshotsPerVolume,omitempty"`
}

// Capability names, as spelled in the config file. LoadBalancerMetalLB and
// LoadBalancerNSXT ask for one kind of load balancer; LoadBalancer for any.
const (
	BlockVolumes          = "blockVolumes"
	FileVolumes           = "fileVolumes"
	Snapshots             = "snapshots"
	OfflineExpansion      = "offlineExpansion"
	OnlineExpansion       = "onlineExpansion"
	Topology              = "topology"
	Encryption            = "encryption"
	Migration             = "migration"
	CNSMetadataSync       = "cnsMetadataSync"
	LoadBalancer          = "loadBalancer"
	LoadBalancerMetalLB   = "loadBalancer:metallb"
	LoadBalancerNSXT      = "loadBalancer:nsxt"
	FaultInjection        = "faultInjection"
	CallCounts            = "callCounts"
	HTTPReachability      = "httpReachability"
	ComponentRestart      = "componentRestart"
	FakeNodes             = "fakeNodes"
	DataPath              = "dataPath"
	FileVolumeMounts      = "fileVolumeMounts"
	MaxVolumesPerNode     = "maxVolumesPerNode"
	MaxSnapshotsPerVolume = "maxSnapshotsPerVolume"
	FullSyncTrigger       = "fullSyncTrigger"
)

// loadBalancers are the values capabilities.loadBalancer accepts.
var loadBalancers = []string{"", "metallb", "nsxt"}

var capabilityChecks = map[string]func(Capabilities) bool{
	BlockVolumes:          func(c Capabilities) bool { return c.BlockVolumes },
	FileVolumes:           func(c Capabilities) bool { return c.FileVolumes },
	Snapshots:             func(c Capabilities) bool { return c.Snapshots },
	OfflineExpansion:      func(c Capabilities) bool { return c.OfflineExpansion },
	OnlineExpansion:       func(c Capabilities) bool { return c.OnlineExpansion },
	Topology:              func(c Capabilities) bool { return c.Topology },
	Encryption:            func(c Capabilities) bool { return c.Encryption },
	Migration:             func(c Capabilities) bool { return c.Migration },
	CNSMetadataSync:       func(c Capabilities) bool { return c.CNSMetadataSync },
	LoadBalancer:          func(c Capabilities) bool { return c.LoadBalancer != "" },
	LoadBalancerMetalLB:   func(c Capabilities) bool { return c.LoadBalancer == "metallb" },
	LoadBalancerNSXT:      func(c Capabilities) bool { return c.LoadBalancer == "nsxt" },
	FaultInjection:        func(c Capabilities) bool { return c.FaultInjection },
	CallCounts:            func(c Capabilities) bool { return c.CallCounts },
	HTTPReachability:      func(c Capabilities) bool { return c.HTTPReachability },
	ComponentRestart:      func(c Capabilities) bool { return c.ComponentRestart },
	FakeNodes:             func(c Capabilities) bool { return c.FakeNodes },
	DataPath:              func(c Capabilities) bool { return c.DataPath },
	FileVolumeMounts:      func(c Capabilities) bool { return c.FileVolumeMounts },
	FullSyncTrigger:       func(c Capabilities) bool { return c.FullSyncTrigger },
	MaxVolumesPerNode:     func(c Capabilities) bool { return c.MaxVolumesPerNode > 0 },
	MaxSnapshotsPerVolume: func(c Capabilities) bool { return c.MaxSnapshotsPerVolume > 0 },
}

// KnownCapability reports whether name is a capability a target can declare.
func KnownCapability(name string) bool {
	_, ok := capabilityChecks[name]
	return ok
}

// Has reports whether the target declares capability name; unknown names
// are never declared.
func (c Capabilities) Has(name string) bool {
	check, ok := capabilityChecks[name]
	return ok && check(c)
}

// Missing returns the names in caps that are not declared, in order.
func (c Capabilities) Missing(caps ...string) []string {
	var out []string
	for _, name := range caps {
		if !c.Has(name) {
			out = append(out, name)
		}
	}
	return out
}

// Declared lists the declared capabilities, sorted, for reports.
func (c Capabilities) Declared() []string {
	var out []string
	for name := range capabilityChecks {
		if c.Has(name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// GrowableFSType picks the filesystem of specs that grow a volume with data
// on it: ext4 unless the target says its nodes cannot grow it mounted. The
// kubelet grows the filesystem after it is mounted, after an offline
// (detached) expansion too, so both kinds of expansion spec use it.
func (c Capabilities) GrowableFSType() string {
	if len(c.OnlineExpansionFSTypes) == 0 || slices.Contains(c.OnlineExpansionFSTypes, "ext4") {
		return "ext4"
	}
	return c.OnlineExpansionFSTypes[0]
}

func (c Capabilities) validate(add func(field, format string, args ...any)) {
	for i, fs := range c.OnlineExpansionFSTypes {
		if !slices.Contains([]string{"ext4", "xfs"}, fs) {
			add(fmt.Sprintf("capabilities.onlineExpansionFSTypes[%d]", i), "%q is not ext4 or xfs (the vSphere CSI driver's block filesystems)", fs)
		}
	}
	if c.MaxVolumesPerNode < 0 {
		add("capabilities.maxVolumesPerNode", "must be >= 0")
	}
	if c.MaxSnapshotsPerVolume < 0 {
		add("capabilities.maxSnapshotsPerVolume", "must be >= 0")
	}
	if !slices.Contains(loadBalancers, c.LoadBalancer) {
		add("capabilities.loadBalancer", "%q is not one of \"\", \"metallb\", \"nsxt\"", c.LoadBalancer)
	}
}

// Require skips the current spec unless the target declares every
// capability in caps. A name no target can declare is a typo in the spec,
// which fails rather than skipping forever.
func (t *Target) Require(caps ...string) {
	ginkgo.GinkgoHelper()
	for _, name := range caps {
		if !KnownCapability(name) {
			ginkgo.Fail(fmt.Sprintf("unknown capability %q in Require", name))
		}
	}
	missing := t.Config.Capabilities.Missing(caps...)
	switch len(missing) {
	case 0:
		if t.dryRun {
			ginkgo.Skip(DryRunWouldRun)
		}
		return
	case 1:
		ginkgo.Skip(fmt.Sprintf("target %s does not declare capability %s", t.Config.Name, missing[0]))
	default:
		ginkgo.Skip(fmt.Sprintf("target %s does not declare capabilities %s", t.Config.Name, strings.Join(missing, ", ")))
	}
}

// DryRunWouldRun is the skip message of a spec whose capabilities a dry
// run found declared: it would run.
const DryRunWouldRun = "dry run: would run"

// DryRun is a Target that only knows its config: it has no client, so
// nothing reaches the cluster or vCenter. Require skips every spec, with the
// missing capability or with DryRunWouldRun; a spec that reaches for a
// client before Require fails at once, which a dry run also reads as "would
// run".
func DryRun(cfg *Config) *Target { return &Target{Config: cfg, dryRun: true} }

// IsDryRun reports whether t is a DryRun target.
func (t *Target) IsDryRun() bool { return t != nil && t.dryRun }

// Require is Current().Require, for specs that read as sentences:
//
//	target.Require(target.Snapshots)
func Require(caps ...string) {
	ginkgo.GinkgoHelper()
	Current().Require(caps...)
}
