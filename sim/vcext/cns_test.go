package vcext

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/cns"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vslm"
)

// cnsEnv is a logged-in client with CNS and FCD (VStorageObjectManager) access.
type cnsEnv struct {
	t   *testing.T
	ctx context.Context
	c   *govmomi.Client
	cns *cns.Client
	fcd *vslm.ObjectManager
	ds  types.ManagedObjectReference
	vms []types.ManagedObjectReference
}

func newCNSEnv(t *testing.T) *cnsEnv {
	e, _ := newCNSEnvModel(t)
	return e
}

// newCNSEnvModel also returns the simulator's model, for tests that extend it.
func newCNSEnvModel(t *testing.T) (*cnsEnv, *simulator.Model) {
	model, s := startSim(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	c := login(t, ctx, s)
	cc, err := cns.NewClient(ctx, c.Client)
	if err != nil {
		t.Fatal(err)
	}
	e := &cnsEnv{t: t, ctx: ctx, c: c, cns: cc, fcd: vslm.NewObjectManager(c.Client),
		ds: model.Map().Any("Datastore").Reference()}
	for _, vm := range model.Map().All("VirtualMachine") {
		e.vms = append(e.vms, vm.Reference())
	}
	return e, model
}

// result runs a CNS task and returns its first volume result.
func (e *cnsEnv) result(task *object.Task, err error) cnstypes.BaseCnsVolumeOperationResult {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := cns.GetTaskInfo(e.ctx, task)
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := cns.GetTaskResult(e.ctx, info)
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

func (e *cnsEnv) ok(res cnstypes.BaseCnsVolumeOperationResult) cnstypes.BaseCnsVolumeOperationResult {
	e.t.Helper()
	if f := res.GetCnsVolumeOperationResult().Fault; f != nil {
		e.t.Fatalf("volume %s: fault %T: %s", res.GetCnsVolumeOperationResult().VolumeId.Id, f.Fault, f.LocalizedMessage)
	}
	return res
}

func (e *cnsEnv) createVolume(name string, mb int64) string {
	e.t.Helper()
	res := e.ok(e.result(e.cns.CreateVolume(e.ctx, []cnstypes.CnsVolumeCreateSpec{{
		Name:       name,
		VolumeType: string(cnstypes.CnsVolumeTypeBlock),
		Datastores: []types.ManagedObjectReference{e.ds},
		Metadata: cnstypes.CnsVolumeMetadata{ContainerCluster: cnstypes.CnsContainerCluster{
			ClusterType: string(cnstypes.CnsClusterTypeKubernetes), ClusterId: "vcext", VSphereUser: "user",
		}},
		BackingObjectDetails: &cnstypes.CnsBlockBackingDetails{
			CnsBackingObjectDetails: cnstypes.CnsBackingObjectDetails{CapacityInMb: mb},
		},
	}})))
	return res.GetCnsVolumeOperationResult().VolumeId.Id
}

func (e *cnsEnv) attach(id string, vm types.ManagedObjectReference) *cnstypes.CnsVolumeAttachResult {
	e.t.Helper()
	return e.result(e.cns.AttachVolume(e.ctx, []cnstypes.CnsVolumeAttachDetachSpec{
		{VolumeId: cnstypes.CnsVolumeId{Id: id}, Vm: vm},
	})).(*cnstypes.CnsVolumeAttachResult)
}

func (e *cnsEnv) detach(id string, vm types.ManagedObjectReference) cnstypes.BaseCnsVolumeOperationResult {
	e.t.Helper()
	return e.result(e.cns.DetachVolume(e.ctx, []cnstypes.CnsVolumeAttachDetachSpec{
		{VolumeId: cnstypes.CnsVolumeId{Id: id}, Vm: vm},
	}))
}

func (e *cnsEnv) extend(id string, mb int64) cnstypes.BaseCnsVolumeOperationResult {
	e.t.Helper()
	return e.result(e.cns.ExtendVolume(e.ctx, []cnstypes.CnsVolumeExtendSpec{
		{VolumeId: cnstypes.CnsVolumeId{Id: id}, CapacityInMb: mb},
	}))
}

// volumeDisks returns the VM's VirtualDisks whose vDiskId is id, read from
// config.hardware.device.
func (e *cnsEnv) volumeDisks(vm types.ManagedObjectReference, id string) []*types.VirtualDisk {
	e.t.Helper()
	devices, err := object.NewVirtualMachine(e.c.Client, vm).Device(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	var disks []*types.VirtualDisk
	for _, dev := range devices.SelectByType((*types.VirtualDisk)(nil)) {
		if d := dev.(*types.VirtualDisk); d.VDiskId != nil && d.VDiskId.Id == id {
			disks = append(disks, d)
		}
	}
	return disks
}

func (e *cnsEnv) fcdObject(id string) *types.VStorageObject {
	e.t.Helper()
	obj, err := e.fcd.Retrieve(e.ctx, e.ds, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return obj
}

func (e *cnsEnv) cnsCapacity(id string) int64 {
	e.t.Helper()
	res, err := e.cns.QueryVolume(e.ctx, &cnstypes.CnsQueryFilter{VolumeIds: []cnstypes.CnsVolumeId{{Id: id}}})
	if err != nil || len(res.Volumes) != 1 {
		e.t.Fatalf("query volume %s: %v (%d volumes)", id, err, len(res.Volumes))
	}
	return res.Volumes[0].BackingObjectDetails.GetCnsBackingObjectDetails().CapacityInMb
}

func wantFault[T types.BaseMethodFault](t *testing.T, what string, res cnstypes.BaseCnsVolumeOperationResult) {
	t.Helper()
	f := res.GetCnsVolumeOperationResult().Fault
	if f == nil {
		t.Fatalf("%s: no fault", what)
	}
	if _, ok := f.Fault.(T); !ok {
		var want T
		t.Fatalf("%s: fault %T (%s), want %T", what, f.Fault, f.LocalizedMessage, want)
	}
}

func TestCNSAttachDetachExtend(t *testing.T) {
	e := newCNSEnv(t)
	vm, other := e.vms[0], e.vms[1]
	id := e.createVolume("pvc-1", 1024)
	fcdPath := e.fcdObject(id).Config.Backing.(*types.BaseConfigInfoDiskFileBackingInfo).FilePath

	// Attach: a VirtualDisk backed by the FCD's own vmdk, vDiskId = volume ID.
	res := e.attach(id, vm)
	e.ok(res)
	disks := e.volumeDisks(vm, id)
	if len(disks) != 1 {
		t.Fatalf("VM has %d disks with vDiskId %s, want 1", len(disks), id)
	}
	disk := disks[0]
	backing := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
	if backing.FileName != fcdPath {
		t.Errorf("disk backing file %q, want the FCD's %q", backing.FileName, fcdPath)
	}
	if res.DiskUUID == "" || res.DiskUUID != backing.Uuid {
		t.Errorf("DiskUUID %q, want the disk's backing UUID %q", res.DiskUUID, backing.Uuid)
	}
	if disk.CapacityInKB != 1024*1024 {
		t.Errorf("disk capacity %d KB, want %d", disk.CapacityInKB, 1024*1024)
	}
	if got := e.fcdObject(id).Config.ConsumerId; len(got) != 1 {
		t.Errorf("FCD consumers %v, want the VM", got)
	}

	// Idempotent on the same VM; ResourceInUse on another.
	again := e.attach(id, vm)
	e.ok(again)
	if again.DiskUUID != res.DiskUUID || len(e.volumeDisks(vm, id)) != 1 {
		t.Errorf("re-attach: DiskUUID %q (want %q), %d disks", again.DiskUUID, res.DiskUUID, len(e.volumeDisks(vm, id)))
	}
	wantFault[*types.ResourceInUse](t, "attach to another VM", e.attach(id, other))
	if n := len(e.volumeDisks(other, id)); n != 0 {
		t.Errorf("other VM got %d disks", n)
	}

	// An attached volume's disk cannot be deleted.
	wantFault[*types.ResourceInUse](t, "delete attached volume",
		e.result(e.cns.DeleteVolume(e.ctx, []cnstypes.CnsVolumeId{{Id: id}}, true)))

	// Extend while attached: FCD, VM disk and CNS record grow.
	e.ok(e.extend(id, 2048))
	if got := e.fcdObject(id).Config.CapacityInMB; got != 2048 {
		t.Errorf("FCD capacity %d MB after extend, want 2048", got)
	}
	if got := e.volumeDisks(vm, id)[0].CapacityInKB; got != 2048*1024 {
		t.Errorf("VM disk capacity %d KB after extend, want %d", got, 2048*1024)
	}
	if got := e.cnsCapacity(id); got != 2048 {
		t.Errorf("CNS capacity %d MB, want 2048", got)
	}
	wantFault[*types.InvalidArgument](t, "shrink", e.extend(id, 1024))

	// Detach: the device goes, the FCD (and its vmdk) stays.
	e.ok(e.detach(id, vm))
	if n := len(e.volumeDisks(vm, id)); n != 0 {
		t.Fatalf("VM still has %d disks with vDiskId %s after detach", n, id)
	}
	ids, err := e.fcd.List(e.ctx, e.ds)
	if err != nil {
		t.Fatal(err)
	}
	listed := false
	for _, x := range ids {
		listed = listed || x.Id == id
	}
	if !listed {
		t.Error("FCD not listed by VStorageObjectManager after detach")
	}
	if got := e.fcdObject(id).Config.ConsumerId; len(got) != 0 { // Retrieve also checks the vmdk exists
		t.Errorf("FCD consumers %v after detach, want none", got)
	}
	wantFault[*types.NotFound](t, "detach again", e.detach(id, vm))

	// Extend while detached grows the FCD.
	e.ok(e.extend(id, 3072))
	if got := e.fcdObject(id).Config.CapacityInMB; got != 3072 {
		t.Errorf("FCD capacity %d MB after detached extend, want 3072", got)
	}

	// Re-attach elsewhere, with the new size; then delete once detached.
	res = e.attach(id, other)
	e.ok(res)
	if got := e.volumeDisks(other, id); len(got) != 1 || got[0].CapacityInKB != 3072*1024 {
		t.Fatalf("re-attach to other VM: %d disks", len(got))
	}
	e.ok(e.detach(id, other))
	e.ok(e.result(e.cns.DeleteVolume(e.ctx, []cnstypes.CnsVolumeId{{Id: id}}, true)))
	if _, err := e.fcd.Retrieve(e.ctx, e.ds, id); err == nil {
		t.Error("FCD still exists after CnsDeleteVolume(deleteDisk)")
	}
}

func TestCNSAttachFaults(t *testing.T) {
	e := newCNSEnv(t)
	id := e.createVolume("pvc-faults", 10)
	gone := types.ManagedObjectReference{Type: "VirtualMachine", Value: "vm-gone"}

	wantFault[*types.ManagedObjectNotFound](t, "attach to missing VM", e.attach(id, gone))
	wantFault[*types.ManagedObjectNotFound](t, "detach from missing VM", e.detach(id, gone))
	wantFault[*types.NotFound](t, "attach missing volume", e.attach("no-such-volume", e.vms[0]))
	wantFault[*types.NotFound](t, "extend missing volume", e.extend("no-such-volume", 20))
}

// TestCNSAttachFillsSCSISlots: volumes take free units on the VM's SCSI
// controller (never unit 7, the controller's own) until none is left.
func TestCNSAttachFillsSCSISlots(t *testing.T) {
	e := newCNSEnv(t)
	vm := e.vms[0]
	used := map[int32]bool{}
	for i := 0; ; i++ {
		id := e.createVolume(fmt.Sprintf("pvc-slot-%d", i), 1)
		res := e.attach(id, vm)
		if f := res.Fault; f != nil {
			if _, ok := f.Fault.(*cnstypes.CnsFault); !ok {
				t.Fatalf("attach %d: fault %T (%s), want CnsFault", i, f.Fault, f.LocalizedMessage)
			}
			if i == 0 {
				t.Fatal("first attach failed")
			}
			t.Logf("%d volumes attached, then: %s", i, f.LocalizedMessage)
			break
		}
		d := e.volumeDisks(vm, id)[0]
		if *d.UnitNumber == 7 || used[*d.UnitNumber] {
			t.Fatalf("attach %d used unit %d (taken: %v)", i, *d.UnitNumber, used)
		}
		used[*d.UnitNumber] = true
		if i > 20 {
			t.Fatal("more volumes attached than SCSI slots exist")
		}
	}
}

// TestCNSVolumeOutlivesVM: destroying a VM keeps its attached FCD (CNS
// creates them keepAfterDeleteVm) and frees it, so the volume can be deleted.
func TestCNSVolumeOutlivesVM(t *testing.T) {
	e := newCNSEnv(t)
	vmRef := e.vms[0]
	id := e.createVolume("pvc-vm-destroy", 10)
	e.ok(e.attach(id, vmRef))

	vm := object.NewVirtualMachine(e.c.Client, vmRef)
	for _, op := range []func(context.Context) (*object.Task, error){vm.PowerOff, vm.Destroy} {
		task, err := op(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := task.WaitEx(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	if obj := e.fcdObject(id); len(obj.Config.ConsumerId) != 0 {
		t.Errorf("FCD consumers %v after its VM was destroyed", obj.Config.ConsumerId)
	}
	wantFault[*types.ManagedObjectNotFound](t, "detach from destroyed VM", e.detach(id, vmRef))
	e.ok(e.result(e.cns.DeleteVolume(e.ctx, []cnstypes.CnsVolumeId{{Id: id}}, true)))
}

// TestCNSConcurrentSessions: sessions attach, extend, detach and delete their
// own volumes on the same VMs at once, as the CSI controller does.
func TestCNSConcurrentSessions(t *testing.T) {
	model, s := startSim(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ds := model.Map().Any("Datastore").Reference()
	vms := model.Map().All("VirtualMachine")

	const n = 4
	clients := make([]*govmomi.Client, n)
	for i := range clients {
		clients[i] = login(t, ctx, s)
	}
	errs := make(chan error, n)
	for i, c := range clients {
		go func() {
			errs <- cnsLifecycle(ctx, c, ds, vms[i%2].Reference(), fmt.Sprintf("pvc-conc-%d", i))
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// cnsLifecycle creates, attaches, extends, detaches and deletes a volume.
func cnsLifecycle(ctx context.Context, c *govmomi.Client, ds, vm types.ManagedObjectReference, name string) error {
	cc, err := cns.NewClient(ctx, c.Client)
	if err != nil {
		return err
	}
	run := func(op string, start func() (*object.Task, error)) (cnstypes.BaseCnsVolumeOperationResult, error) {
		task, err := start()
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", name, op, err)
		}
		info, err := cns.GetTaskInfo(ctx, task)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", name, op, err)
		}
		res, err := cns.GetTaskResult(ctx, info)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", name, op, err)
		}
		if f := res.GetCnsVolumeOperationResult().Fault; f != nil {
			return nil, fmt.Errorf("%s %s: %T %s", name, op, f.Fault, f.LocalizedMessage)
		}
		return res, nil
	}

	res, err := run("create", func() (*object.Task, error) {
		return cc.CreateVolume(ctx, []cnstypes.CnsVolumeCreateSpec{{
			Name:       name,
			VolumeType: string(cnstypes.CnsVolumeTypeBlock),
			Datastores: []types.ManagedObjectReference{ds},
			BackingObjectDetails: &cnstypes.CnsBlockBackingDetails{
				CnsBackingObjectDetails: cnstypes.CnsBackingObjectDetails{CapacityInMb: 10},
			},
		}})
	})
	if err != nil {
		return err
	}
	id := res.GetCnsVolumeOperationResult().VolumeId
	spec := []cnstypes.CnsVolumeAttachDetachSpec{{VolumeId: id, Vm: vm}}
	steps := []struct {
		op    string
		start func() (*object.Task, error)
	}{
		{"attach", func() (*object.Task, error) { return cc.AttachVolume(ctx, spec) }},
		{"extend", func() (*object.Task, error) {
			return cc.ExtendVolume(ctx, []cnstypes.CnsVolumeExtendSpec{{VolumeId: id, CapacityInMb: 20}})
		}},
		{"detach", func() (*object.Task, error) { return cc.DetachVolume(ctx, spec) }},
		{"delete", func() (*object.Task, error) { return cc.DeleteVolume(ctx, []cnstypes.CnsVolumeId{id}, true) }},
	}
	for _, step := range steps {
		if _, err := run(step.op, step.start); err != nil {
			return err
		}
		// Queries run while the other sessions' tasks change the volumes.
		if _, err := cc.QueryVolume(ctx, &cnstypes.CnsQueryFilter{}); err != nil {
			return fmt.Errorf("%s query: %w", name, err)
		}
		if _, err := cc.QueryAllVolume(ctx, cnstypes.CnsQueryFilter{}, cnstypes.CnsQuerySelection{}); err != nil {
			return fmt.Errorf("%s query all: %w", name, err)
		}
	}
	return nil
}
