package defects

import (
	"net/url"
	"path"
	"strings"

	"github.com/vmware/govmomi/cns"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// vmProfiles break what vCenter does to VMs and their disks.
var vmProfiles = []Profile{
	{
		Name: "register-copies-vmdk",
		Breaks: "vSphere CNS API reference, CnsBlockBackingDetails.backingDiskUrlPath: CNS registers the existing " +
			"virtual disk as the volume, in place (the in-tree to CSI migration path); here it copies the vmdk to " +
			"the datastore's fcd folder and registers the copy.",
		Symptom: `disk file moved`,
		install: func(m *simulator.Model) error {
			around(m.Service.Context.For(cns.Path).Map, "CnsCreateVolume", func(ctx *simulator.Context, req any, next func() soap.HasFault) soap.HasFault {
				r := req.(*cnstypes.CnsCreateVolume)
				if len(r.CreateSpecs) != 1 {
					return next()
				}
				d, ok := r.CreateSpecs[0].BackingObjectDetails.(*cnstypes.CnsBlockBackingDetails)
				if !ok || d.BackingDiskId != "" || d.BackingDiskUrlPath == "" {
					return next()
				}
				if copied, ok := vmCopyDisk(ctx.For(vim25.Path), d.BackingDiskUrlPath); ok {
					d.BackingDiskUrlPath = copied
				}
				return next()
			})
			return nil
		},
	},
	{
		Name: "poweroff-does-nothing",
		Breaks: "vSphere Web Services API reference, VirtualMachine.PowerOffVM_Task: powers off the virtual machine " +
			"(runtime.powerState becomes poweredOff); here the task succeeds and the VM stays poweredOn.",
		Symptom: `still reports VM \S+ powered on`,
		install: func(m *simulator.Model) error {
			vmAround(m.Map(), "PowerOffVM_Task", func(ctx *simulator.Context, req any, _ func() soap.HasFault) soap.HasFault {
				r := req.(*types.PowerOffVM_Task)
				return &methods.PowerOffVM_TaskBody{
					Res: &types.PowerOffVM_TaskResponse{Returnval: ncSucceed(ctx, r.This, "PowerOffVM_Task", nil)},
				}
			})
			return nil
		},
	},
	{
		Name: "destroy-does-nothing",
		Breaks: "vSphere Web Services API reference, ManagedEntity.Destroy_Task: destroys the virtual machine and " +
			"removes it from the inventory; here the task succeeds and the VM stays.",
		Symptom: `still finds VM \S+ \(\S+, BIOS UUID \S+\) after its Destroy task succeeded`,
		install: func(m *simulator.Model) error {
			vmAround(m.Map(), "Destroy_Task", func(ctx *simulator.Context, req any, _ func() soap.HasFault) soap.HasFault {
				r := req.(*types.Destroy_Task)
				return &methods.Destroy_TaskBody{
					Res: &types.Destroy_TaskResponse{Returnval: ncSucceed(ctx, r.This, "Destroy_Task", nil)},
				}
			})
			return nil
		},
	},
	{
		Name: "destroy-deletes-attached-fcd",
		Breaks: "vSphere Web Services API reference, BaseConfigInfo.keepAfterDeleteVm: a first class disk with it " +
			"set (CNS creates them so) is detached and kept when the VM it is attached to is destroyed; here " +
			"Destroy_Task deletes the FCDs attached to the VM with it (the in-tree volume data-loss bug).",
		Symptom: `FCD \S+ of claim \S+ is gone after (its node )?VM \S+ was destroyed`,
		install: func(m *simulator.Model) error {
			vmThrough(m.Map(), "Destroy_Task", func(ctx *simulator.Context, call *simulator.Method) func(*simulator.Context, soap.HasFault) soap.HasFault {
				ids := vmFCDs(ctx, call.This) // before sim/vcext detaches them
				if len(ids) == 0 {
					return nil
				}
				return func(ctx *simulator.Context, body soap.HasFault) soap.HasFault {
					if _, fault := ncWait(ctx, body); fault != nil {
						return body // a failed destroy keeps the VM and its disks
					}
					for _, id := range ids {
						vmDeleteFCD(ctx, id)
					}
					return body
				}
			})
			return nil
		},
	},
}

// vmFCDs are the IDs of the first class disks attached to the VM
// (VirtualDisk.vDiskId).
func vmFCDs(ctx *simulator.Context, ref types.ManagedObjectReference) []string {
	vm, ok := ctx.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return nil
	}
	var ids []string
	ctx.WithLock(vm, func() {
		if vm.Config == nil {
			return
		}
		for _, dev := range vm.Config.Hardware.Device {
			if d, ok := dev.(*types.VirtualDisk); ok && d.VDiskId != nil {
				ids = append(ids, d.VDiskId.Id)
			}
		}
	})
	return ids
}

// vmDeleteFCD deletes a first class disk with
// VStorageObjectManager.DeleteVStorageObject_Task, served as the dispatcher
// serves a client's call (the registry's hooks, then the session's view), so
// sim/vcext's deleter removes the disk's bytes too. A disk that is gone, or
// that another VM still uses (consumerId), stays as it is.
func vmDeleteFCD(ctx *simulator.Context, id string) {
	vsom := ctx.Map.VStorageObjectManager()
	var ds types.ManagedObjectReference
	ctx.WithLock(vsom, func() {
		for d, objs := range vsom.Catalog() {
			if _, ok := objs[types.ID{Id: id}]; ok {
				ds = d
			}
		}
	})
	if ds.Value == "" {
		return
	}
	m := &simulator.Method{
		Name: "DeleteVStorageObject_Task",
		This: vsom.Self,
		Body: &types.DeleteVStorageObject_Task{This: vsom.Self, Id: types.ID{Id: id}, Datastore: ds},
	}
	var handler mo.Reference = vsom
	if ctx.Map.Handler != nil {
		h, fault := ctx.Map.Handler(ctx, m)
		if fault != nil {
			return
		}
		if h != nil {
			handler = h
		}
	}
	if ctx.Session != nil {
		if h := ctx.Session.Get(vsom.Self); h != nil {
			handler = h
		}
	}
	var body soap.HasFault
	ctx.WithLock(handler, func() { body = dispatch(ctx, m, handler) })
	ncWait(ctx, body)
}

// vmAround is around for a method of VirtualMachines. For vim25 objects
// vcsim's dispatcher prefers the session's view of the object over the
// handler a registry hook picks, so around's stand never serves them; here
// the answer goes into the session's registry for the one call, as a
// vmStand embedding the VM, which property reads see through meanwhile.
// The earlier hooks (sim/vcext's) run only if the defect calls next: a
// destroy answered in place must not detach the VM's disks first.
func vmAround(r *simulator.Registry, method string, f serve) {
	prev := r.Handler
	r.Handler = func(ctx *simulator.Context, m *simulator.Method) (mo.Reference, types.BaseMethodFault) {
		vm, ok := ctx.Map.Get(m.This).(*simulator.VirtualMachine)
		if m.Name != method || !ok || ctx.Session == nil {
			if prev != nil {
				return prev(ctx, m)
			}
			return nil, nil
		}
		reg := ctx.Session.Registry
		orig := reg.Get(m.This)
		s := &vmStand{VirtualMachine: vm}
		s.serve = func(c *simulator.Context, req any) soap.HasFault {
			if orig != nil {
				reg.Put(orig)
			} else {
				reg.Remove(c, m.This)
			}
			return f(c, req, func() soap.HasFault {
				if prev != nil {
					if _, fault := prev(c, m); fault != nil {
						return &serverFault{fault: fault}
					}
				}
				if orig != nil {
					return dispatch(c, m, orig) // the session's view wins, as in vcsim
				}
				return dispatch(c, m, vm)
			})
		}
		reg.Put(s) // Registry.Put keeps Self
		return nil, nil
	}
}

// vmThrough is for a defect that lets a method of VirtualMachines run as
// it would and then damages the outcome. before runs ahead of every hook
// (sim/vcext's), outside any lock, and returns what to do with the answer
// (nil: nothing). The call is then served as without the defect: the
// hooks, then the session's view of the VM (as in vcsim). after gets the
// answer inside the dispatcher's lock of the VM, so whatever it runs that
// needs that lock (the call's task) must run on ctx, the lock's owner.
// method must be one of vmStand's methods.
func vmThrough(r *simulator.Registry, method string, before func(ctx *simulator.Context, m *simulator.Method) func(ctx *simulator.Context, body soap.HasFault) soap.HasFault) {
	prev := r.Handler
	r.Handler = func(ctx *simulator.Context, m *simulator.Method) (mo.Reference, types.BaseMethodFault) {
		vm, ok := ctx.Map.Get(m.This).(*simulator.VirtualMachine)
		var after func(*simulator.Context, soap.HasFault) soap.HasFault
		if m.Name == method && ok && ctx.Session != nil {
			after = before(ctx, m)
		}
		var handler mo.Reference
		if prev != nil {
			h, fault := prev(ctx, m)
			if fault != nil || after == nil {
				return h, fault
			}
			handler = h
		}
		if after == nil {
			return nil, nil
		}
		reg := ctx.Session.Registry
		orig := reg.Get(m.This)
		switch {
		case orig != nil:
			handler = orig // the session's view wins, as in vcsim
		case handler == nil:
			handler = vm
		}
		s := &vmStand{VirtualMachine: vm}
		s.serve = func(c *simulator.Context, _ any) soap.HasFault {
			if orig != nil {
				reg.Put(orig)
			} else {
				reg.Remove(c, m.This)
			}
			return after(c, dispatch(c, m, handler))
		}
		reg.Put(s) // Registry.Put keeps Self
		return nil, nil
	}
}

// vmStand is a VM whose intercepted methods a defect answers. The VM comes
// first: the property collector reads a wrapper's first embedded field.
type vmStand struct {
	*simulator.VirtualMachine
	serve func(ctx *simulator.Context, req any) soap.HasFault
}

func (s *vmStand) PowerOffVMTask(ctx *simulator.Context, req *types.PowerOffVM_Task) soap.HasFault {
	return s.serve(ctx, req)
}

func (s *vmStand) DestroyTask(ctx *simulator.Context, req *types.Destroy_Task) soap.HasFault {
	return s.serve(ctx, req)
}

// vmCopyDisk copies the vmdk at a datastore URL (https://VC/folder/PATH?
// dcPath=DC&dsName=DS) into the datastore's fcd folder with the
// VirtualDiskManager and returns the copy's URL; false if it cannot.
func vmCopyDisk(ctx *simulator.Context, raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || !strings.HasPrefix(u.Path, "/folder/") {
		return "", false
	}
	q := u.Query()
	var dc *simulator.Datacenter
	for _, e := range ctx.Map.All("Datacenter") {
		if d, ok := e.(*simulator.Datacenter); ok && d.Name == path.Base(q.Get("dcPath")) {
			dc = d
		}
	}
	if dc == nil {
		return "", false
	}
	src := strings.TrimPrefix(u.Path, "/folder/")
	dst := "fcd/" + strings.TrimSuffix(path.Base(src), ".vmdk") + "-copy.vmdk"
	ds := q.Get("dsName")
	dir := (&object.DatastorePath{Datastore: ds, Path: "fcd"}).String()
	fm := ctx.Map.FileManager()
	if body := fm.MakeDirectory(ctx, &types.MakeDirectory{
		This: fm.Self, Name: dir, Datacenter: &dc.Self, CreateParentDirectories: types.NewBool(true),
	}); body.Fault() != nil {
		return "", false
	}
	vdm := ctx.Map.VirtualDiskManager()
	body := vdm.CopyVirtualDiskTask(ctx, &types.CopyVirtualDisk_Task{
		This:             vdm.Reference(),
		SourceName:       (&object.DatastorePath{Datastore: ds, Path: src}).String(),
		SourceDatacenter: &dc.Self,
		DestName:         (&object.DatastorePath{Datastore: ds, Path: dst}).String(),
		DestDatacenter:   &dc.Self,
		Force:            types.NewBool(true),
	})
	if _, fault := ncWait(ctx, body); fault != nil {
		return "", false
	}
	c := *u
	c.Path = "/folder/" + dst
	return c.String(), true
}
