package stack

import (
	"context"
	"os"

	"sigs.k8s.io/yaml"

	"github.com/vsphere-conformance/vsphere-conformance/sim/node"
	"github.com/vsphere-conformance/vsphere-conformance/sim/vcenter"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// TargetConfigFile is the name of the target config `sim up` writes.
const TargetConfigFile = "target.yaml"

// hermeticCapabilities is what the hermetic target supports today; each is
// backed by a component of the stack (a capability is declared only once a
// spec has proven it against the real driver).
func hermeticCapabilities() target.Capabilities {
	return target.Capabilities{
		BlockVolumes:      true,
		Snapshots:         true,
		OfflineExpansion:  true,
		MaxVolumesPerNode: MaxVolumesPerNode,
		// The driver's default [Snapshot] global-max-snapshots-per-block-volume;
		// csiConfig sets no other.
		MaxSnapshotsPerVolume: 3,
		LoadBalancer:          "metallb", // the real MetalLB controller (metallb.go)
		FakeNodes:             true,      // kwok nodes; vcsim reads guest identity from SET.guest.* extraConfig
		// CNS applies encryption policies with keys of the model's default
		// KMS and re-keys a disk moved to another VM (sim/vcext/cnsencrypt.go).
		Encryption: true,
		// RWX: the model's vSAN cluster has file service; CNS file volumes
		// are vSAN file shares with NFS access points (sim/vcext/cnsfile.go);
		// suites/csi/rwx.go proves it against the real driver.
		FileVolumes: true,
		// In-tree vSphere volumes served by the driver: legacy vmdks are
		// registered in CNS by path (sim/vcext/cnsregister.go), CSINodes list
		// the migrated plugin (nodeplugin.go); suites/migration proves it.
		Migration: true,
		// The real syncer pushes CNS entity metadata; it waits on CNS tasks
		// from two ListViews of one session, which vcsim serves since
		// sim/vcext answers concurrent waiters by data version.
		CNSMetadataSync: true,
		// The simulated vCenter's admin endpoint (sim/faults): fault
		// rules, session invalidation, outages, call counts.
		FaultInjection: true,
		CallCounts:     true,
		// The same endpoint stops and starts the stack's processes, as a
		// kubelet restarts a container (components.go).
		ComponentRestart: true,
		// The syncer runs with feature state trigger-csi-fullsync (kube.go),
		// so specs can ask for a full sync instead of waiting 30 minutes.
		FullSyncTrigger: true,
	}
}

// writeTargetConfig writes the config the runner reads: the same file format
// a user writes for an existing vCenter and cluster.
func (b *bringUp) writeTargetConfig(context.Context) error {
	vc := b.s.VCenter
	dc := ""
	if len(vc.Datacenters) > 0 {
		dc = vc.Datacenters[0]
	}
	cfg := hermeticConfig(vc.Policies, vc.TopologyCategories, len(realNodes(vc.Nodes)))
	cfg.Kubeconfig = b.s.Kubeconfig
	cfg.VCenter = target.VCenter{
		URL:          vc.URL,
		Datacenter:   dc,
		CAFile:       vc.CAFile,
		Username:     vc.Username,
		PasswordFile: vc.PasswordFile,
	}
	if vc.FaultsURL != "" {
		cfg.Faults = &target.FaultsEndpoint{URL: vc.FaultsURL, TokenFile: vc.FaultsTokenFile}
	}
	cfg.CSI.ClusterID = b.o.ClusterID
	cfg.CPI.ConfigForm = b.o.CPIConfigForm
	cfg.LogDir = b.s.path("logs")
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	b.s.TargetConfig = b.s.path(TargetConfigFile)
	return os.WriteFile(b.s.TargetConfig, data, 0o600)
}

// hermeticConfig is the target config of a hermetic target whose model has
// these storage policies, zone/region tag categories and real nodes, less
// what only a running target knows (addresses, files).
func hermeticConfig(policies, topologyCategories []string, realNodes int) target.Config {
	cfg := target.Config{
		APIVersion:   target.APIVersion,
		Kind:         target.Kind,
		Name:         "hermetic",
		CSI:          target.CSI{Namespace: CSINamespace},
		Storage:      target.Storage{DefaultStorageClass: DefaultStorageClass, Policies: append([]string{DefaultPolicy}, policies...)},
		CPI:          target.CPI{ZoneCategory: zoneCategory, RegionCategory: regionCategory, InternalSubnet: cpiInternalSubnet, ExternalSubnet: cpiExternalSubnet},
		Capabilities: hermeticCapabilities(),
	}
	// Zones and regions from vSphere tags, honoured by the real driver and
	// provisioner (suites/csi/topology.go), when the model defines them.
	cfg.Capabilities.Topology = len(topologyCategories) > 0
	// Real kubelet nodes (realnode.go): pods run and mount, attached disks
	// are loop devices; a mounted xfs grows (xfs_growfs), a mounted ext4 does
	// not on this machine kind (no CAP_SYS_RESOURCE for resize2fs).
	if realNodes > 0 {
		cfg.Capabilities.DataPath = true
		cfg.Capabilities.OnlineExpansion = true
		cfg.Capabilities.OnlineExpansionFSTypes = []string{"xfs"}
		cfg.DataImage = node.DataImage
	}
	return cfg
}

// PlannedConfig is the target config `sim up --model model` would write,
// without starting anything: what `vsconform run --dry-run` selects specs by.
func PlannedConfig(model string) (*target.Config, error) {
	m, err := LoadModel(model)
	if err != nil {
		return nil, err
	}
	var policies, categories []string
	for _, p := range m.StoragePolicies {
		policies = append(policies, p.Name)
	}
	for _, c := range m.TagCategories {
		categories = append(categories, c.Name)
	}
	real := 0
	for _, n := range m.Nodes {
		if n.Kubelet == vcenter.KubeletReal {
			real++
		}
	}
	cfg := hermeticConfig(policies, topologyCategories(categories), real)
	return &cfg, nil
}
