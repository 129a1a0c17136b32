// Package target is the suites' view of the system under test: Kubernetes
// and vCenter clients built from one config, the capabilities the target
// declares, cleanup tracking, bounded waits, leak checks and evidence.
// It works the same against the hermetic target and a real vCenter, and it
// never imports the simulator (DESIGN rule 1).
package target

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/cns"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/pbm"
	vapi "github.com/vmware/govmomi/vapi/rest"
	"github.com/vmware/govmomi/vapi/tags"
	"github.com/vmware/govmomi/vslm"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Target holds every client a spec needs, all built from one Config.
type Target struct {
	Config *Config

	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	REST    *rest.Config

	VC  *govmomi.Client
	CNS *cns.Client
	PBM *pbm.Client
	// VSLM reaches first-class disks through vim25's
	// VcenterVStorageObjectManager (govmomi names its wrapper vslm.ObjectManager).
	VSLM       *vslm.ObjectManager
	Tags       *tags.Manager
	VAPI       *vapi.Client
	Datacenter *object.Datacenter
	Finder     *find.Finder

	dryRun       bool          // see DryRun
	faultsClient *faultsClient // see faults
	// stoppedReplicas are the replicas of Deployments StopComponent scaled
	// to zero, by namespace/name, for StartComponent.
	stoppedReplicas map[string]int32
}

// Close logs out of vCenter (SOAP and vAPI sessions). It is safe on a
// partly built Target.
func (t *Target) Close() error {
	if t == nil {
		return nil
	}
	// Logout must not hang a run that is already ending.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	if t.VAPI != nil {
		if err := t.VAPI.Logout(ctx); err != nil {
			errs = append(errs, err)
		}
		t.VAPI = nil
	}
	if t.VC != nil {
		if err := t.VC.Logout(ctx); err != nil {
			errs = append(errs, err)
		}
		t.VC = nil
	}
	return errors.Join(errs...)
}

var (
	currentMu sync.RWMutex
	current   *Target
)

// Use makes t the target that Current returns; the runner calls it once
// before the specs run.
func Use(t *Target) {
	currentMu.Lock()
	defer currentMu.Unlock()
	current = t
}

// Current returns the target set by Use. It panics when none is set, which
// means the suite was started without the runner's setup.
func Current() *Target {
	currentMu.RLock()
	defer currentMu.RUnlock()
	if current == nil {
		panic("target: no current target: call target.Use(t) (the vsconform runner does this in its suite setup) before specs run")
	}
	return current
}
