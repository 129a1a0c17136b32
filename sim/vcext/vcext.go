// Package vcext extends the govmomi simulator (vcsim) with the vCenter
// behaviour that the hermetic target needs and vcsim lacks, each following
// documented vSphere behaviour, through govmomi's public API only:
//
//   - collector.go: every session gets its own default PropertyCollector
//     handler, so concurrent sessions waiting on tasks all see their updates.
//   - cnsattach.go: CNS attach/detach add/remove a real VirtualDisk device.
//   - cnsextend.go: CNS extend grows the FCD and the attached disk.
//   - cnsfile.go: CNS file volumes as vSAN file shares, typed query answers.
//   - placement.go: SPBM placement and CNS compliance follow the policy's
//     tag rules.
//   - disks.go: with SetDiskStore, FCDs get real bytes (sim/loopdisk): a
//     loop device on real nodes, kept through extend, snapshot and restore.
package vcext

import (
	"errors"
	"sync"

	"github.com/vmware/govmomi/cns"
	"github.com/vmware/govmomi/pbm"
	"github.com/vmware/govmomi/simulator"
)

// installed maps a model's vim25 registry to its extensions; it also guards
// against wrapping the same registries twice.
var installed sync.Map // *simulator.Registry -> *sessionCollectors

// Install adds the extensions to a created model. Call it after
// model.Create() and after the CNS SDK (cns/simulator) is registered with
// model.Service.RegisterSDK, and before model.Service.NewServer(). The CNS
// overrides are call hooks on the registry serving cns.Path, so they survive
// NewServer re-registering the CNS endpoint when RegisterEndpoints is set.
func Install(m *simulator.Model) error {
	if m == nil || m.Service == nil || m.Service.Context == nil {
		return errors.New("vcext: Install needs a created model (call model.Create first)")
	}
	vim := m.Map()
	cnsMap := m.Service.Context.For(cns.Path).Map
	if cnsMap == nil {
		return errors.New("vcext: the CNS SDK (" + cns.Path + ") must be registered before Install")
	}
	c := newSessionCollectors(vim)
	if _, dup := installed.LoadOrStore(vim, c); dup {
		return errors.New("vcext: already installed on this model")
	}

	observeCalls(vim, c.onCall)
	installListViews(vim)
	installVMDestroyCleanup(vim)
	installFCDDelete(vim)
	installCNSFileVolumes(cnsMap) // first: it routes file volumes and all queries
	installCNSRegister(cnsMap)    // before the volume manager: it delegates to it
	installCNSVolumeManager(cnsMap)
	if pbmMap := m.Service.Context.For(pbm.Path).Map; pbmMap != nil {
		installPlacementSolver(pbmMap)
	}
	return nil
}
