package target

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/object"
	pbmtypes "github.com/vmware/govmomi/pbm/types"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vapi/rest"
	_ "github.com/vmware/govmomi/vapi/simulator" // the tagging endpoint
	"github.com/vmware/govmomi/vapi/tags"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/utils/ptr"
)

// TestInventoryOnVcsim makes one object of every inventoried kind on vcsim
// (and a fake Kubernetes), checks each is reported as a leak, removes them
// all and checks nothing is.
func TestInventoryOnVcsim(t *testing.T) {
	simulator.Test(func(ctx context.Context, c *vim25.Client) {
		tg := simTarget(t, ctx, c)
		rc := rest.NewClient(c)
		if err := rc.Login(ctx, simulator.DefaultLogin); err != nil {
			t.Fatal(err)
		}
		tg.Tags = tags.NewManager(rc)
		tg.Dynamic = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
			inventorySnapshotGVR:        "VolumeSnapshotList",
			inventorySnapshotContentGVR: "VolumeSnapshotContentList",
			inventorySnapshotClassGVR:   "VolumeSnapshotClassList",
			inventoryIPAddressPoolGVR:   "IPAddressPoolList",
		})
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		// The stack's own tag category and policy, there before.
		_, err := tg.Tags.CreateCategory(ctx, &tags.Category{Name: "k8s-zone", Cardinality: "SINGLE"})
		must(err)

		before, err := tg.Inventory(ctx)
		must(err)
		if len(before.Unlisted) != 0 {
			t.Errorf("unlisted: %v", before.Unlisted)
		}
		for _, kind := range []string{KindVM, KindVMDisk, KindFolder, KindResourcePool, KindSPBMProfile, KindTagCategory} {
			if len(before.Of(kind)) == 0 {
				t.Errorf("the vcsim model holds no %s", kind)
			}
		}
		again, err := tg.Inventory(ctx)
		must(err)
		if leaks := before.Leaked(again); !leaks.Empty() {
			t.Fatalf("a target left alone leaks:\n%s", leaks)
		}
		t.Logf("inventory of vcsim's VPX model: %d objects in %s (again, names cached: %s)", before.Count(), before.Took, again.Took)

		// vCenter side.
		finder := tg.Finder
		folders, err := tg.Datacenter.Folders(ctx)
		must(err)
		folder, err := folders.VmFolder.CreateFolder(ctx, "vsconform-folder")
		must(err)
		rootPool, err := finder.ResourcePool(ctx, "DC0_C0/Resources")
		must(err)
		pool, err := rootPool.Create(ctx, "vsconform-pool", types.DefaultResourceConfigSpec())
		must(err)
		task, err := folder.CreateVM(ctx, types.VirtualMachineConfigSpec{
			Name: "vsconform-vm", GuestId: string(types.VirtualMachineGuestOsIdentifierOtherGuest),
			Files: &types.VirtualMachineFileInfo{VmPathName: "[LocalDS_0]"},
		}, pool, nil)
		must(err)
		res, err := task.WaitForResult(ctx, nil)
		must(err)
		newVM := object.NewVirtualMachine(c, res.Result.(types.ManagedObjectReference))

		volID := createCNSVolume(t, ctx, tg, "pvc-inv", simClusterID)
		ds, err := finder.Datastore(ctx, "LocalDS_0")
		must(err)
		node, err := finder.VirtualMachine(ctx, "DC0_H0_VM0")
		must(err)
		// vcsim's AttachDisk adds no device (the hermetic target's does): a
		// plain disk stands in, keyed by its file.
		diskPath := addDisk(t, ctx, node, ds)
		task, err = tg.VSLM.CreateSnapshot(ctx, ds, volID, "fcd-snap")
		must(err)
		snapRes, err := task.WaitForResult(ctx, nil)
		must(err)
		fcdSnap := snapRes.Result.(types.ID).Id
		task, err = tg.CNS.CreateSnapshots(ctx, []cnstypes.CnsSnapshotCreateSpec{{VolumeId: cnstypes.CnsVolumeId{Id: volID}, Description: "cns-snap"}})
		must(err)
		must(task.Wait(ctx))
		cnsSnaps, err := tg.CNSSnapshots(ctx, volID)
		must(err)
		if len(cnsSnaps) != 1 {
			t.Fatalf("CNS snapshots: %v", cnsSnaps)
		}
		catID, err := tg.Tags.CreateCategory(ctx, &tags.Category{Name: "vsconform-cat", Cardinality: "SINGLE"})
		must(err)
		tagID, err := tg.Tags.CreateTag(ctx, &tags.Tag{Name: "vsconform-tag", CategoryID: catID})
		must(err)
		profile, err := tg.PBM.CreateProfile(ctx, pbmtypes.PbmCapabilityProfileCreateSpec{
			Name: "vsconform-policy", Category: string(pbmtypes.PbmProfileCategoryEnumREQUIREMENT),
			ResourceType: pbmtypes.PbmProfileResourceType{ResourceType: string(pbmtypes.PbmProfileResourceTypeEnumSTORAGE)},
			Constraints:  &pbmtypes.PbmCapabilitySubProfileConstraints{},
		})
		must(err)

		// Kubernetes side.
		kube := tg.Kube
		meta := func(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }
		_, err = kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: meta("", "csi-abcde")}, metav1.CreateOptions{})
		must(err)
		_, err = kube.CoreV1().PersistentVolumeClaims("csi-abcde").Create(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: meta("csi-abcde", "data")}, metav1.CreateOptions{})
		must(err)
		_, err = kube.CoreV1().PersistentVolumes().Create(ctx, &corev1.PersistentVolume{ObjectMeta: meta("", "pvc-1")}, metav1.CreateOptions{})
		must(err)
		_, err = kube.StorageV1().VolumeAttachments().Create(ctx, &storagev1.VolumeAttachment{ObjectMeta: meta("", "csi-0123"),
			Spec: storagev1.VolumeAttachmentSpec{NodeName: "n1", Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: ptr.To("pvc-1")}}}, metav1.CreateOptions{})
		must(err)
		_, err = kube.StorageV1().StorageClasses().Create(ctx, &storagev1.StorageClass{ObjectMeta: meta("", "vsconform-sc")}, metav1.CreateOptions{})
		must(err)
		_, err = kube.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: meta("", "n9")}, metav1.CreateOptions{})
		must(err)
		for _, typ := range []corev1.ServiceType{corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeClusterIP} {
			_, err = kube.CoreV1().Services("csi-abcde").Create(ctx, &corev1.Service{ObjectMeta: meta("csi-abcde", strings.ToLower(string(typ))),
				Spec: corev1.ServiceSpec{Type: typ}}, metav1.CreateOptions{})
			must(err)
		}
		for _, c := range customKinds {
			obj := &unstructured.Unstructured{}
			obj.SetAPIVersion(c.gvr.GroupVersion().String())
			obj.SetKind(c.kind)
			obj.SetName("x")
			ri := tg.Dynamic.Resource(c.gvr)
			if c.kind == KindSnapshot || c.kind == KindIPAddressPool {
				obj.SetNamespace("csi-abcde")
				_, err = ri.Namespace("csi-abcde").Create(ctx, obj, metav1.CreateOptions{})
			} else {
				_, err = ri.Create(ctx, obj, metav1.CreateOptions{})
			}
			must(err)
		}

		after, err := tg.Inventory(ctx)
		must(err)
		t.Logf("inventory with one more object of each kind: %d objects in %s", after.Count(), after.Took)
		leaks := before.Leaked(after)
		want := []string{
			"CNS volume " + volID + " (name pvc-inv, datastore " + tg.mustCNSDatastore(t, ctx, volID) + ")",
			"FCD " + volID + " (datastore LocalDS_0)",
			"CNS snapshot " + volID + "+" + cnsSnaps[0].SnapshotId.Id + " (name cns-snap)",
			"FCD snapshot " + volID + "/" + fcdSnap + " (name fcd-snap, datastore LocalDS_0)",
			"VM disk DC0_H0_VM0:" + diskPath + " (VM " + node.Reference().Value + ")",
			"VM " + newVM.Reference().Value + " (name vsconform-vm)",
			"folder " + folder.Reference().Value + " (name /DC0/vm/vsconform-folder)",
			"resource pool " + pool.Reference().Value + " (name /DC0/host/DC0_C0/Resources/vsconform-pool)",
			"tag category " + catID + " (name vsconform-cat)",
			"tag " + tagID + " (name vsconform-tag, category vsconform-cat)",
			"SPBM profile " + profile.UniqueId + " (name vsconform-policy, category REQUIREMENT)",
			"namespace csi-abcde",
			"PVC csi-abcde/data",
			"PV pvc-1",
			"VolumeAttachment csi-0123 (PV pvc-1, node n1, attached false)",
			"StorageClass vsconform-sc",
			"node n9",
			"LoadBalancer Service csi-abcde/loadbalancer",
			"VolumeSnapshot csi-abcde/x",
			"VolumeSnapshotContent x",
			"VolumeSnapshotClass x",
			"IPAddressPool csi-abcde/x",
		}
		if got := leaks.String(); got != strings.Join(want, "\n") {
			t.Errorf("leaks:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
		}
		var kinds []string
		for _, l := range leaks {
			if !slices.Contains(kinds, l.Kind) {
				kinds = append(kinds, l.Kind)
			}
		}
		if !slices.Equal(kinds, Kinds) {
			t.Errorf("leaked kinds %v, want every kind %v", kinds, Kinds)
		}

		// The poll gives up with what is still there.
		got, err := tg.WaitForNoLeaks(ctx, before, 300*time.Millisecond)
		if err != nil || got.String() != leaks.String() {
			t.Errorf("WaitForNoLeaks with leaks = %v, %v", got, err)
		}

		// Remove everything; the node's disk goes last and asynchronously,
		// as a detach does after a pod is gone.
		for _, c := range customKinds {
			ri := tg.Dynamic.Resource(c.gvr)
			if c.kind == KindSnapshot || c.kind == KindIPAddressPool {
				must(ri.Namespace("csi-abcde").Delete(ctx, "x", metav1.DeleteOptions{}))
			} else {
				must(ri.Delete(ctx, "x", metav1.DeleteOptions{}))
			}
		}
		for _, name := range []string{"loadbalancer", "clusterip"} {
			must(kube.CoreV1().Services("csi-abcde").Delete(ctx, name, metav1.DeleteOptions{}))
		}
		must(kube.CoreV1().Nodes().Delete(ctx, "n9", metav1.DeleteOptions{}))
		must(kube.StorageV1().StorageClasses().Delete(ctx, "vsconform-sc", metav1.DeleteOptions{}))
		must(kube.StorageV1().VolumeAttachments().Delete(ctx, "csi-0123", metav1.DeleteOptions{}))
		must(kube.CoreV1().PersistentVolumes().Delete(ctx, "pvc-1", metav1.DeleteOptions{}))
		must(kube.CoreV1().PersistentVolumeClaims("csi-abcde").Delete(ctx, "data", metav1.DeleteOptions{}))
		must(kube.CoreV1().Namespaces().Delete(ctx, "csi-abcde", metav1.DeleteOptions{}))
		_, err = tg.PBM.DeleteProfile(ctx, []pbmtypes.PbmProfileId{*profile})
		must(err)
		must(tg.Tags.DeleteTag(ctx, &tags.Tag{ID: tagID}))
		must(tg.Tags.DeleteCategory(ctx, &tags.Category{ID: catID}))
		task, err = tg.CNS.DeleteSnapshots(ctx, []cnstypes.CnsSnapshotDeleteSpec{{VolumeId: cnstypes.CnsVolumeId{Id: volID}, SnapshotId: cnsSnaps[0].SnapshotId}})
		must(err)
		must(task.Wait(ctx))
		task, err = tg.VSLM.DeleteSnapshot(ctx, ds, volID, fcdSnap)
		must(err)
		must(task.Wait(ctx))
		task, err = newVM.Destroy(ctx)
		must(err)
		must(task.Wait(ctx))
		task, err = pool.Destroy(ctx)
		must(err)
		must(task.Wait(ctx))
		task, err = folder.Destroy(ctx)
		must(err)
		must(task.Wait(ctx))
		detached := make(chan error, 1)
		go func() {
			time.Sleep(500 * time.Millisecond)
			if err := removeDisk(ctx, node, diskPath); err != nil {
				detached <- err
				return
			}
			deleteCNSVolume(t, ctx, tg, volID)
			detached <- nil
		}()
		start := time.Now()
		if got, err := tg.WaitForNoLeaks(ctx, before, time.Minute); err != nil || !got.Empty() {
			t.Errorf("WaitForNoLeaks after cleanup = %v, %v", got, err)
		}
		must(<-detached)
		if waited := time.Since(start); waited < 500*time.Millisecond {
			t.Errorf("WaitForNoLeaks returned after %s, before the disk was detached", waited)
		}
	})
}

// mustCNSDatastore is the datastore URL CNS reports for a volume.
func (t *Target) mustCNSDatastore(tt *testing.T, ctx context.Context, id string) string {
	tt.Helper()
	vol, err := t.CNSVolume(ctx, id)
	if err != nil || vol == nil {
		tt.Fatalf("CNS volume %s: %v, %v", id, vol, err)
	}
	return vol.DatastoreUrl
}

// addDisk adds a new disk to a VM and returns its file.
func addDisk(t *testing.T, ctx context.Context, vm *object.VirtualMachine, ds *object.Datastore) string {
	t.Helper()
	devices, err := vm.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ctrl, err := devices.FindDiskController("")
	if err != nil {
		t.Fatal(err)
	}
	disk := devices.CreateDisk(ctrl, ds.Reference(), "[LocalDS_0] "+vm.Name()+"/vsconform-extra.vmdk")
	disk.CapacityInKB = 1024
	if err := vm.AddDevice(ctx, disk); err != nil {
		t.Fatal(err)
	}
	now, err := vm.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range now.SelectByType((*types.VirtualDisk)(nil)) {
		if devices.FindByKey(d.GetVirtualDevice().Key) == nil {
			_, file := diskKey(d.(*types.VirtualDisk))
			return file
		}
	}
	t.Fatalf("VM %s has no new disk", vm.Name())
	return ""
}

// removeDisk removes the VM's disk with this file, keeping the file.
func removeDisk(ctx context.Context, vm *object.VirtualMachine, file string) error {
	devices, err := vm.Device(ctx)
	if err != nil {
		return err
	}
	for _, d := range devices.SelectByType((*types.VirtualDisk)(nil)) {
		if _, f := diskKey(d.(*types.VirtualDisk)); f == file {
			return vm.RemoveDevice(ctx, true, d)
		}
	}
	return nil
}
