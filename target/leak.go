package target

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Inventory is a snapshot of everything a spec or a run could leave behind
// on the target, Kubernetes and vCenter side (DESIGN rule 4, the
// orphaned-vmdk problem). Taking one before and one after proves nothing
// leaked: Leaked lists what is new.
//
// CNS volumes and first-class disks keep fields of their own (specs compare
// them); every other kind is in Objects, each with a stable ID (a moref, a
// vCenter ID, namespace/name) and a human name. Objects that come and go on
// their own (Events, Leases, Pods, the stack's controllers' custom resources
// such as CSINodeTopology) are not inventoried at all.
type Inventory struct {
	Taken time.Time `json:"taken"`
	// Took is what taking it cost (wall time; the listings run concurrently).
	Took       time.Duration `json:"took"`
	CNSVolumes []VolumeRef   `json:"cnsVolumes"`
	FCDs       []VolumeRef   `json:"fcds"`
	// Objects are every other kind, sorted by kind (see Kinds) and ID.
	Objects []Object `json:"objects"`
	// Unlisted names the kinds this inventory holds none of because the
	// target cannot have them (an API the cluster does not serve, a client
	// the target lacks), with the reason: they are empty, not an error.
	Unlisted map[string]string `json:"unlisted,omitempty"`
}

// Object is one inventoried object.
type Object struct {
	Kind string `json:"kind"` // one of Kinds
	ID   string `json:"id"`   // stable within its kind
	// Name is a human name when the ID is not one (a moref, a vCenter ID).
	Name      string `json:"name,omitempty"`
	Datastore string `json:"datastore,omitempty"`
	// Detail says what a reader of a leak wants to know: which claim a PV
	// is for, which VM a disk is on, "being deleted (finalizers ...)".
	Detail string `json:"detail,omitempty"`
}

// The inventoried kinds, as Leak.Kind spells them.
const (
	KindCNSVolume     = "CNS volume"
	KindFCD           = "FCD"
	KindCNSSnapshot   = "CNS snapshot"
	KindFCDSnapshot   = "FCD snapshot"
	KindVMDisk        = "VM disk"
	KindVM            = "VM"
	KindFolder        = "folder"
	KindResourcePool  = "resource pool"
	KindTagCategory   = "tag category"
	KindTag           = "tag"
	KindSPBMProfile   = "SPBM profile"
	KindNamespace     = "namespace"
	KindPVC           = "PVC"
	KindPV            = "PV"
	KindVolumeAttach  = "VolumeAttachment"
	KindStorageClass  = "StorageClass"
	KindNode          = "node"
	KindLBService     = "LoadBalancer Service"
	KindSnapshot      = "VolumeSnapshot"
	KindSnapContent   = "VolumeSnapshotContent"
	KindSnapClass     = "VolumeSnapshotClass"
	KindIPAddressPool = "IPAddressPool"
)

// Kinds lists every inventoried kind, in the order leaks are reported:
// vCenter's volumes first (the orphaned-vmdk problem), then what holds or
// refers to them.
var Kinds = []string{
	KindCNSVolume, KindFCD, KindCNSSnapshot, KindFCDSnapshot, KindVMDisk, KindVM, KindFolder,
	KindResourcePool, KindTagCategory, KindTag, KindSPBMProfile,
	KindNamespace, KindPVC, KindPV, KindVolumeAttach, KindStorageClass, KindNode, KindLBService,
	KindSnapshot, KindSnapContent, KindSnapClass, KindIPAddressPool,
}

// kindRank orders kinds as Kinds does; unknown kinds sort last.
func kindRank(kind string) int {
	if i := slices.Index(Kinds, kind); i >= 0 {
		return i
	}
	return len(Kinds)
}

// Count is how many objects the inventory holds, of every kind.
func (a Inventory) Count() int { return len(a.CNSVolumes) + len(a.FCDs) + len(a.Objects) }

// Of returns the inventory's objects of one kind (CNS volumes and FCDs
// too, as objects).
func (a Inventory) Of(kind string) []Object {
	var out []Object
	for _, o := range a.all() {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// all is every object, CNS volumes and FCDs included.
func (a Inventory) all() []Object {
	out := make([]Object, 0, a.Count())
	for _, v := range a.CNSVolumes {
		out = append(out, volumeObject(KindCNSVolume, v))
	}
	for _, v := range a.FCDs {
		out = append(out, volumeObject(KindFCD, v))
	}
	return append(out, a.Objects...)
}

func volumeObject(kind string, v VolumeRef) Object {
	return Object{Kind: kind, ID: v.ID, Name: v.Name, Datastore: v.Datastore}
}

// Inventory takes the snapshot: one listing per Kubernetes kind, and on the
// vCenter side one property-collector retrieve through a container view
// (VMs and their disks, folders, resource pools, datastores), one CNS
// volume query (paged), one CNS snapshot query, one FCD listing per
// datastore, one VSLM snapshot query per FCD, two tagging calls (plus one
// per tag or category never seen before, for its name) and two SPBM calls.
// The listings run concurrently.
//
// CNS volumes are those of csi.clusterID when set; FCDs, VMs, folders and
// the rest are all of the datacenter's (tags, categories, policies and CNS
// snapshots all of vCenter's), so on a shared vCenter other tools' new
// objects show up as leaks: set csi.clusterID and read what has no
// matching Kubernetes leak with that in mind.
func (t *Target) Inventory(ctx context.Context) (Inventory, error) {
	start := time.Now()
	inv := Inventory{Taken: start}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	add := func(objs []Object, unlisted map[string]string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
			return
		}
		inv.Objects = append(inv.Objects, objs...)
		for k, why := range unlisted {
			if inv.Unlisted == nil {
				inv.Unlisted = map[string]string{}
			}
			inv.Unlisted[k] = why
		}
	}
	run := func(fn func() ([]Object, map[string]string, error)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			add(fn())
		}()
	}
	run(func() ([]Object, map[string]string, error) {
		vols, err := t.ListCNSVolumes(ctx)
		mu.Lock()
		inv.CNSVolumes = vols
		mu.Unlock()
		return nil, nil, err
	})
	run(func() ([]Object, map[string]string, error) {
		objs, fcds, err := t.vcenterObjects(ctx)
		mu.Lock()
		inv.FCDs = fcds
		mu.Unlock()
		return objs, nil, err
	})
	run(func() ([]Object, map[string]string, error) { return t.cnsSnapshots(ctx) })
	run(func() ([]Object, map[string]string, error) { return t.tagObjects(ctx) })
	run(func() ([]Object, map[string]string, error) { return t.policyObjects(ctx) })
	for _, l := range t.kubeListers() {
		run(func() ([]Object, map[string]string, error) { return l(ctx) })
	}
	wg.Wait()
	sortObjects(inv.Objects)
	inv.Took = time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return inv, fmt.Errorf("inventory: %w", err)
	}
	return inv, nil
}

func sortObjects(objs []Object) {
	slices.SortFunc(objs, func(x, y Object) int {
		if c := kindRank(x.Kind) - kindRank(y.Kind); c != 0 {
			return c
		}
		if c := strings.Compare(x.Kind, y.Kind); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
}

// WaitForInventory takes an inventory, retrying for up to timeout while it
// fails (a vCenter restart or outage a previous spec caused may not be
// over yet).
func (t *Target) WaitForInventory(ctx context.Context, timeout time.Duration) (Inventory, error) {
	var inv Inventory
	err := WaitFor(ctx, "an inventory of the target", timeout, func(ctx context.Context) (bool, string, error) {
		got, err := t.Inventory(ctx)
		if err != nil {
			return false, err.Error(), nil
		}
		inv = got
		return true, "", nil
	})
	return inv, err
}

// WaitForNoLeaks polls the inventory until nothing in it is new against
// before, for up to timeout: deleting a PV, detaching and deleting its disk
// go on asynchronously after the namespace that held the claim is gone.
// It returns nil when nothing leaked, what still leaked when time ran out,
// or an error when the last inventory could not be taken (or ctx ended).
func (t *Target) WaitForNoLeaks(ctx context.Context, before Inventory, timeout time.Duration) (Leaks, error) {
	var (
		leaks  Leaks
		failed bool // the last inventory failed
	)
	err := WaitFor(ctx, "the objects made since "+before.Taken.Format(time.TimeOnly)+" to be gone", timeout,
		func(ctx context.Context) (bool, string, error) {
			after, err := t.Inventory(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return false, "", nil // cut short by the deadline: keep the last state
				}
				failed = true
				return false, err.Error(), nil
			}
			failed = false
			leaks = before.Leaked(after)
			return leaks.Empty(), fmt.Sprintf("%d leaked", len(leaks)), nil
		})
	var te *TimeoutError
	switch {
	case err == nil:
		return nil, nil
	case errors.As(err, &te) && !failed && !leaks.Empty():
		return leaks, nil
	default:
		return leaks, fmt.Errorf("leak check: %w", err)
	}
}

// Leak is one object that exists after a spec or run but did not before.
type Leak struct {
	Kind      string `json:"kind"` // one of Kinds
	ID        string `json:"id"`
	Name      string `json:"name,omitempty"`
	Datastore string `json:"datastore,omitempty"`
	Detail    string `json:"detail,omitempty"`
}

// IDsOf are the IDs of the leaked objects of one kind.
func (l Leaks) IDsOf(kind string) []string {
	var out []string
	for _, leak := range l {
		if leak.Kind == kind {
			out = append(out, leak.ID)
		}
	}
	return out
}

// String reads "KIND ID (name N, datastore D, DETAIL)", without the
// parenthesis when there is nothing to add.
func (l Leak) String() string {
	var extra []string
	if l.Name != "" {
		extra = append(extra, "name "+l.Name)
	}
	if l.Datastore != "" {
		extra = append(extra, "datastore "+l.Datastore)
	}
	if l.Detail != "" {
		extra = append(extra, l.Detail)
	}
	if len(extra) == 0 {
		return l.Kind + " " + l.ID
	}
	return fmt.Sprintf("%s %s (%s)", l.Kind, l.ID, strings.Join(extra, ", "))
}

// Leaks lists leaked objects.
type Leaks []Leak

// Empty reports whether nothing leaked.
func (l Leaks) Empty() bool { return len(l) == 0 }

// String is one line per leaked object.
func (l Leaks) String() string {
	lines := make([]string, len(l))
	for i, leak := range l {
		lines[i] = leak.String()
	}
	return strings.Join(lines, "\n")
}

// Leaked lists what after holds that a (taken before) did not, by kind (in
// the order of Kinds) and ID. What a held and after does not is no leak (a
// spec may remove an orphan it planted), and neither is a change.
func (a Inventory) Leaked(after Inventory) Leaks {
	type key struct{ kind, id string }
	seen := map[key]bool{}
	for _, o := range a.all() {
		seen[key{o.Kind, o.ID}] = true
	}
	var objs []Object
	for _, o := range after.all() {
		k := key{o.Kind, o.ID}
		if !seen[k] {
			seen[k] = true // once, even if listed twice
			objs = append(objs, o)
		}
	}
	sortObjects(objs)
	var out Leaks
	for _, o := range objs {
		out = append(out, Leak(o))
	}
	return out
}
