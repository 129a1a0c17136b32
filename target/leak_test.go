package target

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/vim25/types"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

// invWith is an inventory holding one object of kind (CNS volumes and FCDs
// in their own fields, as Inventory fills them).
func invWith(kind, id, name string) Inventory {
	var inv Inventory
	switch kind {
	case KindCNSVolume:
		inv.CNSVolumes = []VolumeRef{{ID: id, Name: name, Datastore: "ds:///vmfs/volumes/1/"}}
	case KindFCD:
		inv.FCDs = []VolumeRef{{ID: id, Datastore: "LocalDS_0"}}
	default:
		inv.Objects = []Object{{Kind: kind, ID: id, Name: name}}
	}
	return inv
}

func TestLeakedEveryKind(t *testing.T) {
	ids := map[string]string{
		KindCNSVolume: "6c1a6f3e-0000-4000-8000-000000000001", KindFCD: "6c1a6f3e-0000-4000-8000-000000000002",
		KindCNSSnapshot: "vol-1+snap-1", KindFCDSnapshot: "fcd-1/snap-1", KindVMDisk: "k8s-node-1:fcd-1",
		KindVM: "vm-42", KindFolder: "group-v7", KindResourcePool: "resgroup-9",
		KindTagCategory: "urn:vmomi:InventoryServiceCategory:c1:GLOBAL", KindTag: "urn:vmomi:InventoryServiceTag:t1:GLOBAL",
		KindSPBMProfile: "aa6d5a82-1c88-45da-85d3-3d74b91a5bad", KindNamespace: "csi-abcde", KindPVC: "csi-abcde/data",
		KindPV: "pvc-1", KindVolumeAttach: "csi-0123", KindStorageClass: "vsconform-x1y2z", KindNode: "k8s-node-9",
		KindLBService: "lb-abcde/hello", KindSnapshot: "csi-snapshot-x/snap", KindSnapContent: "snapcontent-1",
		KindSnapClass: "vsphere-snapshots-2", KindIPAddressPool: "metallb-system/extra",
	}
	if len(ids) != len(Kinds) {
		t.Fatalf("the test covers %d kinds, Kinds has %d", len(ids), len(Kinds))
	}
	empty := Inventory{}
	for _, kind := range Kinds {
		id := ids[kind]
		one := invWith(kind, id, "a name")
		other := invWith(kind, id+"-other", "a name")
		for _, tc := range []struct {
			name          string
			before, after Inventory
			want          []string // leaked IDs
		}{
			{"new object", empty, one, []string{id}},
			{"removed object", one, empty, nil},
			{"same object", one, one, nil},
			{"same ID, other name", one, invWith(kind, id, "renamed"), nil},
			{"one replaced by another", one, other, []string{id + "-other"}},
		} {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				leaks := tc.before.Leaked(tc.after)
				var got []string
				for _, l := range leaks {
					if l.Kind != kind {
						t.Errorf("leak of kind %q, want %q", l.Kind, kind)
					}
					got = append(got, l.ID)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("leaked %v, want %v", got, tc.want)
				}
				if leaks.Empty() != (len(tc.want) == 0) {
					t.Errorf("Empty() = %t with %d leaks", leaks.Empty(), len(leaks))
				}
			})
		}
	}
}

func TestLeakedKindsAreApart(t *testing.T) {
	// The same ID in two kinds is two objects: a CNS volume and its FCD,
	// a namespace and a node of one name.
	before := Inventory{CNSVolumes: []VolumeRef{{ID: "v1"}}, Objects: []Object{{Kind: KindNamespace, ID: "x"}}}
	after := Inventory{
		CNSVolumes: []VolumeRef{{ID: "v1"}},
		FCDs:       []VolumeRef{{ID: "v1", Datastore: "LocalDS_0"}},
		Objects:    []Object{{Kind: KindNamespace, ID: "x"}, {Kind: KindNode, ID: "x"}},
	}
	if got, want := before.Leaked(after).String(), "FCD v1 (datastore LocalDS_0)\nnode x"; got != want {
		t.Errorf("leaks:\n%s\nwant:\n%s", got, want)
	}
}

func TestLeakedOrderAndDuplicates(t *testing.T) {
	after := Inventory{
		FCDs: []VolumeRef{{ID: "f2", Datastore: "ds"}, {ID: "f1", Datastore: "ds"}},
		Objects: []Object{
			{Kind: KindPV, ID: "pvc-2"}, {Kind: KindNamespace, ID: "b"}, {Kind: KindNamespace, ID: "a"},
			{Kind: KindVMDisk, ID: "vm:f1"}, {Kind: KindVMDisk, ID: "vm:f1"}, // a disk seen twice
			{Kind: "future kind", ID: "z"},
		},
		CNSVolumes: []VolumeRef{{ID: "f9"}},
	}
	want := []string{"CNS volume f9", "FCD f1 (datastore ds)", "FCD f2 (datastore ds)", "VM disk vm:f1",
		"namespace a", "namespace b", "PV pvc-2", "future kind z"}
	if got := (Inventory{}).Leaked(after).String(); got != strings.Join(want, "\n") {
		t.Errorf("leaks:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func TestLeakString(t *testing.T) {
	for _, tc := range []struct {
		leak Leak
		want string
	}{
		{Leak{Kind: KindNamespace, ID: "csi-abcde"}, "namespace csi-abcde"},
		{Leak{Kind: KindCNSVolume, ID: "v1", Name: "pvc-1", Datastore: "ds:///x/"}, "CNS volume v1 (name pvc-1, datastore ds:///x/)"},
		{Leak{Kind: KindFCD, ID: "v1", Datastore: "LocalDS_0"}, "FCD v1 (datastore LocalDS_0)"},
		{Leak{Kind: KindVM, ID: "vm-42", Name: "k8s-node-9"}, "VM vm-42 (name k8s-node-9)"},
		{Leak{Kind: KindVMDisk, ID: "n1:f1", Detail: "file [ds] fcd/f1.vmdk, VM vm-42"}, "VM disk n1:f1 (file [ds] fcd/f1.vmdk, VM vm-42)"},
		{Leak{Kind: KindFCDSnapshot, ID: "f1/s1", Name: "snap", Datastore: "ds", Detail: "x"}, "FCD snapshot f1/s1 (name snap, datastore ds, x)"},
	} {
		if got := tc.leak.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.leak, got, tc.want)
		}
	}
	if got := (Leaks{}).String(); got != "" {
		t.Errorf("no leaks: %q", got)
	}
}

func TestInventoryJSON(t *testing.T) {
	in := Inventory{
		Taken: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Took: 42 * time.Millisecond,
		CNSVolumes: []VolumeRef{{ID: "v1", Name: "pvc-1", Datastore: "ds:///x/"}},
		FCDs:       []VolumeRef{{ID: "v1", Datastore: "LocalDS_0"}},
		Objects:    []Object{{Kind: KindVM, ID: "vm-1", Name: "n1"}, {Kind: KindPV, ID: "pv-1", Detail: "claim a/b"}},
		Unlisted:   map[string]string{KindIPAddressPool: "not served"},
	}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Inventory
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip:\n%+v\nwant\n%+v", out, in)
	}
	if in.Count() != 4 || len(in.Of(KindFCD)) != 1 || len(in.Of(KindVM)) != 1 || len(in.Of(KindTag)) != 0 {
		t.Errorf("Count %d, Of(FCD) %v, Of(VM) %v", in.Count(), in.Of(KindFCD), in.Of(KindVM))
	}
}

func vmDisk(key int32, file, fcd string) *types.VirtualDisk {
	d := &types.VirtualDisk{VirtualDevice: types.VirtualDevice{
		Key: key,
		Backing: &types.VirtualDiskFlatVer2BackingInfo{
			VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: file},
		},
	}}
	if fcd != "" {
		d.VDiskId = &types.ID{Id: fcd}
	}
	return d
}

func TestDiskKey(t *testing.T) {
	for _, tc := range []struct {
		name      string
		disk      *types.VirtualDisk
		key, file string
	}{
		{"FCD", vmDisk(1, "[ds] fcd/abc.vmdk", "abc"), "abc", "[ds] fcd/abc.vmdk"},
		{"FCD with a snapshot's delta file", vmDisk(1, "[ds] fcd/abc-000001.vmdk", "abc"), "abc", "[ds] fcd/abc-000001.vmdk"},
		{"plain disk", vmDisk(1, "[ds] vm/vm.vmdk", ""), "[ds] vm/vm.vmdk", "[ds] vm/vm.vmdk"},
		{"empty VDiskId", vmDisk(1, "[ds] vm/vm_1.vmdk", ""), "[ds] vm/vm_1.vmdk", "[ds] vm/vm_1.vmdk"},
		{"no file backing", &types.VirtualDisk{}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, file := diskKey(tc.disk)
			if key != tc.key || file != tc.file {
				t.Errorf("diskKey = %q, %q; want %q, %q", key, file, tc.key, tc.file)
			}
		})
	}
}

func ref(kind, value string) types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: kind, Value: value}
}

func TestEntityObjects(t *testing.T) {
	dc := ref("Datacenter", "datacenter-2")
	vmFolder, hostFolder := ref("Folder", "group-v3"), ref("Folder", "group-h4")
	k8s, vcls := ref("Folder", "group-v10"), ref("Folder", "group-v11")
	cluster, rootPool, pool := ref("ClusterComputeResource", "domain-c7"), ref("ResourcePool", "resgroup-8"), ref("ResourcePool", "resgroup-20")
	ents := []entity{
		{ref: vmFolder, name: "vm", parent: &dc},
		{ref: hostFolder, name: "host", parent: &dc},
		{ref: k8s, name: "k8s", parent: &vmFolder},
		{ref: vcls, name: "vCLS", parent: &vmFolder},
		{ref: cluster, name: "C0", parent: &hostFolder},
		{ref: rootPool, name: "Resources", parent: &cluster},
		{ref: pool, name: "p1", parent: &rootPool},
		{ref: ref("VirtualApp", "resgroup-v30"), name: "app", parent: &rootPool},
		{ref: ref("VirtualMachine", "vm-40"), name: "k8s-node-1", devices: []types.BaseVirtualDevice{
			vmDisk(2000, "[LocalDS_0] k8s-node-1/k8s-node-1.vmdk", ""),
			vmDisk(2001, "[LocalDS_0] fcd/f1.vmdk", "f1"),
			&types.VirtualE1000{},
		}},
		{ref: ref("VirtualMachine", "vm-41"), name: "vCLS-4c4c", managedBy: eamExtension,
			devices: []types.BaseVirtualDevice{vmDisk(2000, "[LocalDS_0] vCLS-4c4c/vCLS.vmdk", "")}},
		{ref: ref("VirtualMachine", "vm-42"), name: "other", managedBy: "com.example.solution"},
		{ref: ref("Datastore", "datastore-5"), name: "LocalDS_0", accessible: true},
	}
	got := entityObjects("DC0", ents)
	sortObjects(got)
	want := []Object{
		{Kind: KindVMDisk, ID: "k8s-node-1:[LocalDS_0] k8s-node-1/k8s-node-1.vmdk", Detail: "VM vm-40"},
		{Kind: KindVMDisk, ID: "k8s-node-1:f1", Detail: "file [LocalDS_0] fcd/f1.vmdk, VM vm-40"},
		{Kind: KindVM, ID: "vm-40", Name: "k8s-node-1"},
		{Kind: KindVM, ID: "vm-42", Name: "other"},
		{Kind: KindFolder, ID: "group-h4", Name: "/DC0/host"},
		{Kind: KindFolder, ID: "group-v10", Name: "/DC0/vm/k8s"},
		{Kind: KindFolder, ID: "group-v3", Name: "/DC0/vm"},
		{Kind: KindResourcePool, ID: "resgroup-20", Name: "/DC0/host/C0/Resources/p1"},
		{Kind: KindResourcePool, ID: "resgroup-8", Name: "/DC0/host/C0/Resources"},
		{Kind: KindResourcePool, ID: "resgroup-v30", Name: "/DC0/host/C0/Resources/app"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entityObjects:\n%s\nwant:\n%s", objectLines(got), objectLines(want))
	}
}

func TestEntityObjectsParentLoop(t *testing.T) {
	a, b := ref("Folder", "a"), ref("Folder", "b")
	got := entityObjects("DC0", []entity{{ref: a, name: "a", parent: &b}, {ref: b, name: "b", parent: &a}})
	if len(got) != 2 || !strings.HasPrefix(got[0].Name, "/DC0/") {
		t.Errorf("entityObjects with a parent loop: %v", got)
	}
}

func objectLines(objs []Object) string {
	var lines []string
	for _, o := range objs {
		lines = append(lines, Leak(o).String())
	}
	return strings.Join(lines, "\n")
}

func TestParseEntities(t *testing.T) {
	vm := ref("VirtualMachine", "vm-1")
	parent := ref("Folder", "group-v3")
	contents := []types.ObjectContent{
		{Obj: vm, PropSet: []types.DynamicProperty{
			{Name: "name", Val: "n1"},
			{Name: "config.hardware.device", Val: types.ArrayOfVirtualDevice{VirtualDevice: []types.BaseVirtualDevice{vmDisk(1, "[ds] a.vmdk", "")}}},
			{Name: "config.managedBy", Val: types.ManagedByInfo{ExtensionKey: eamExtension, Type: "cluster-agent"}},
		}},
		{Obj: parent, PropSet: []types.DynamicProperty{{Name: "name", Val: "vm"}, {Name: "parent", Val: ref("Datacenter", "dc-1")}}},
		{Obj: ref("Datastore", "ds-1"), PropSet: []types.DynamicProperty{{Name: "name", Val: "LocalDS_0"}, {Name: "summary.accessible", Val: true}}},
		// Gone between the view and the retrieve: left out of nothing, no error.
		{Obj: ref("VirtualMachine", "vm-2"), MissingSet: []types.MissingProperty{{Path: "name", Fault: types.LocalizedMethodFault{Fault: &types.ManagedObjectNotFound{}}}}},
	}
	got, err := parseEntities(contents)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0].name != "n1" || len(got[0].devices) != 1 || got[0].managedBy != eamExtension ||
		got[1].parent == nil || got[1].parent.Value != "dc-1" || !got[2].accessible {
		t.Errorf("parseEntities = %+v", got)
	}
	_, err = parseEntities([]types.ObjectContent{{Obj: vm, MissingSet: []types.MissingProperty{
		{Path: "config.hardware.device", Fault: types.LocalizedMethodFault{Fault: &types.NotAuthenticated{}}},
	}}})
	if err == nil || !strings.Contains(err.Error(), "config.hardware.device") {
		t.Errorf("a property unreadable for want of a session: %v", err)
	}
}

func TestKubeObjects(t *testing.T) {
	now := metav1.Now()
	meta := func(ns, name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: ns, Name: name}
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "csi-abcde", DeletionTimestamp: &now,
		Finalizers: []string{"kubernetes"}, Labels: map[string]string{LabelRun: "r1"}}}
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: meta("csi-abcde", "data"),
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To("sc1"), VolumeName: "pvc-1"}}
	pv := &corev1.PersistentVolume{ObjectMeta: meta("", "pvc-1"), Spec: corev1.PersistentVolumeSpec{
		ClaimRef:                      &corev1.ObjectReference{Namespace: "csi-abcde", Name: "data"},
		PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
		PersistentVolumeSource:        corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: CSIDriverName, VolumeHandle: "v1"}},
	}}
	legacy := &corev1.PersistentVolume{ObjectMeta: meta("", "legacy"), Spec: corev1.PersistentVolumeSpec{
		PersistentVolumeSource: corev1.PersistentVolumeSource{VsphereVolume: &corev1.VsphereVirtualDiskVolumeSource{VolumePath: "[ds] kubevols/x.vmdk"}},
	}}
	va := &storagev1.VolumeAttachment{ObjectMeta: meta("", "csi-0123"), Spec: storagev1.VolumeAttachmentSpec{
		NodeName: "n1", Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: ptr.To("pvc-1")}},
		Status: storagev1.VolumeAttachmentStatus{Attached: true}}
	lb := &corev1.Service{ObjectMeta: meta("lb", "hello"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "10.0.0.5"}}}}}
	for _, tc := range []struct {
		got  Object
		want string
	}{
		{namespaceObject(ns), "namespace csi-abcde (run r1, being deleted (finalizers kubernetes))"},
		{pvcObject(pvc), "PVC csi-abcde/data (StorageClass sc1, volume pvc-1)"},
		{pvObject(pv), "PV pvc-1 (claim csi-abcde/data, handle v1, reclaim Retain)"},
		{pvObject(legacy), "PV legacy (handle [ds] kubevols/x.vmdk)"},
		{volumeAttachmentObject(va), "VolumeAttachment csi-0123 (PV pvc-1, node n1, attached true)"},
		{storageClassObject(&storagev1.StorageClass{ObjectMeta: meta("", "sc1"), Provisioner: CSIDriverName}), "StorageClass sc1 (provisioner csi.vsphere.vmware.com)"},
		{nodeObject(&corev1.Node{ObjectMeta: meta("", "n1"), Spec: corev1.NodeSpec{ProviderID: "vsphere://4201"}}), "node n1 (providerID vsphere://4201)"},
	} {
		if got := Leak(tc.got).String(); got != tc.want {
			t.Errorf("%q, want %q", got, tc.want)
		}
	}
	if o, ok := serviceObject(lb); !ok || Leak(o).String() != "LoadBalancer Service lb/hello (ingress 10.0.0.5)" {
		t.Errorf("serviceObject(LoadBalancer) = %v, %t", Leak(o), ok)
	}
	if _, ok := serviceObject(&corev1.Service{ObjectMeta: meta("default", "kubernetes")}); ok {
		t.Error("a ClusterIP Service is inventoried")
	}
}

func TestCustomListers(t *testing.T) {
	ctx := context.Background()
	snapshot := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
		"metadata": map[string]any{"namespace": "ns1", "name": "snap"},
		"status":   map[string]any{"boundVolumeSnapshotContentName": "snapcontent-1"},
	}}
	content := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
		"metadata": map[string]any{"name": "snapcontent-1"},
		"spec":     map[string]any{"volumeSnapshotRef": map[string]any{"namespace": "ns1", "name": "snap"}},
		"status":   map[string]any{"snapshotHandle": "v1+s1"},
	}}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		inventorySnapshotGVR:        "VolumeSnapshotList",
		inventorySnapshotContentGVR: "VolumeSnapshotContentList",
		inventorySnapshotClassGVR:   "VolumeSnapshotClassList",
		inventoryIPAddressPoolGVR:   "IPAddressPoolList",
	}, snapshot, content)
	// A cluster without MetalLB answers 404 for its resources.
	dyn.PrependReactor("list", "ipaddresspools", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Group: "metallb.io", Resource: "ipaddresspools"}, "")
	})
	tg := &Target{Dynamic: dyn}
	var objs []Object
	unlisted := map[string]string{}
	for _, c := range customKinds {
		got, u, err := tg.customLister(c.kind, c.gvr, c.detail)(ctx)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, got...)
		for k, v := range u {
			unlisted[k] = v
		}
	}
	if got, want := objectLines(objs), "VolumeSnapshot ns1/snap (content snapcontent-1)\nVolumeSnapshotContent snapcontent-1 (snapshot ns1/snap, handle v1+s1)"; got != want {
		t.Errorf("objects:\n%s\nwant:\n%s", got, want)
	}
	if want := map[string]string{KindIPAddressPool: "metallb.io/v1beta1 ipaddresspools not served"}; !reflect.DeepEqual(unlisted, want) {
		t.Errorf("unlisted %v, want %v", unlisted, want)
	}

	// Any other error is one.
	dyn.PrependReactor("list", "volumesnapshots", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "volumesnapshots"}, "", errors.New("no"))
	})
	c := customKinds[0]
	if _, _, err := tg.customLister(c.kind, c.gvr, c.detail)(ctx); err == nil || !strings.Contains(err.Error(), "list VolumeSnapshots") {
		t.Errorf("forbidden list: %v", err)
	}
	// Without clients, kinds are unlisted, not errors.
	for _, l := range (&Target{}).kubeListers() {
		if objs, u, err := l(ctx); err != nil || len(objs) != 0 || len(u) != 1 {
			t.Errorf("lister without clients: %v, %v, %v", objs, u, err)
		}
	}
}

func TestForEach(t *testing.T) {
	ctx := context.Background()
	seen := make([]bool, 50)
	if err := forEach(ctx, len(seen), func(_ context.Context, i int) error { seen[i] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	for i, s := range seen {
		if !s {
			t.Fatalf("forEach skipped %d", i)
		}
	}
	boom := errors.New("boom")
	if err := forEach(ctx, 50, func(_ context.Context, i int) error {
		if i == 3 {
			return boom
		}
		return nil
	}); !errors.Is(err, boom) {
		t.Errorf("forEach error %v", err)
	}
	if err := forEach(ctx, 0, nil); err != nil {
		t.Errorf("forEach of nothing: %v", err)
	}
}

func TestLeaksIDsOf(t *testing.T) {
	before := Inventory{CNSVolumes: []VolumeRef{{ID: "a"}}, FCDs: []VolumeRef{{ID: "a"}}}
	after := Inventory{CNSVolumes: []VolumeRef{{ID: "a"}, {ID: "b"}}, FCDs: []VolumeRef{{ID: "a"}, {ID: "b"}, {ID: "c"}}}
	leaks := before.Leaked(after)
	if got := leaks.IDsOf(KindCNSVolume); len(got) != 1 || got[0] != "b" {
		t.Errorf("CNS volumes: %v, want [b]", got)
	}
	if got := leaks.IDsOf(KindFCD); len(got) != 2 || got[0] != "b" || got[1] != "c" {
		t.Errorf("FCDs: %v, want [b c]", got)
	}
	if got := leaks.IDsOf(KindVM); got != nil {
		t.Errorf("VMs: %v, want none", got)
	}
}
