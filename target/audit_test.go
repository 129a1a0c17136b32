package target

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func csiPV(name, handle string) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{
			CSI: &corev1.CSIPersistentVolumeSource{Driver: CSIDriverName, VolumeHandle: handle},
		}},
	}
}

func findingLines(fs Findings) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Kind+" "+f.ID)
	}
	return out
}

func TestAuditOnVcsim(t *testing.T) {
	simulator.Test(func(ctx context.Context, c *vim25.Client) {
		tg := simTarget(t, ctx, c)
		audit := func(want ...string) {
			t.Helper()
			got, err := tg.Audit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if lines := findingLines(got); !slices.Equal(lines, want) {
				t.Fatalf("Audit() =\n%s\nwant %v", got, want)
			}
		}
		audit() // an empty target

		ours := createCNSVolume(t, ctx, tg, "pvc-ours", simClusterID)
		createCNSVolume(t, ctx, tg, "pvc-theirs", "another-cluster") // another cluster's: never reported
		audit(FindingCNSVolume + " " + ours)

		if _, err := tg.Kube.CoreV1().PersistentVolumes().Create(ctx, csiPV("pv-ours", ours), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		audit()

		// A disk CNS does not track (what CnsDeleteVolume(deleteDisk=false) leaves).
		ds, err := tg.Finder.DefaultDatastore(ctx)
		if err != nil {
			t.Fatal(err)
		}
		task, err := tg.VSLM.CreateDisk(ctx, types.VslmCreateSpec{
			Name: "orphan", CapacityInMB: 16,
			BackingSpec: &types.VslmCreateSpecDiskFileBackingSpec{
				VslmCreateSpecBackingSpec: types.VslmCreateSpecBackingSpec{Datastore: ds.Reference()},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		res, err := task.WaitForResult(ctx)
		if err != nil {
			t.Fatal(err)
		}
		orphan := res.Result.(types.VStorageObject)
		audit(FindingFCD + " " + orphan.Config.Id.Id)

		// The volume of pv-ours on a node's VM: explained only by a VolumeAttachment.
		vm, err := tg.VMByName(ctx, "DC0_H0_VM0")
		if err != nil {
			t.Fatal(err)
		}
		addFCDDisk(t, ctx, vm, ours)
		var props mo.VirtualMachine
		if err := vm.Properties(ctx, vm.Reference(), []string{"config.uuid"}, &props); err != nil {
			t.Fatal(err)
		}
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}, Spec: corev1.NodeSpec{ProviderID: "vsphere://" + props.Config.Uuid}}
		if _, err := tg.Kube.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		audit(FindingFCD+" "+orphan.Config.Id.Id, FindingAttachedDisk+" "+ours) // sorted by kind

		pvName := "pv-ours"
		va := &storagev1.VolumeAttachment{
			ObjectMeta: metav1.ObjectMeta{Name: "va-1"},
			Spec: storagev1.VolumeAttachmentSpec{Attacher: CSIDriverName, NodeName: "node-1",
				Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: &pvName}},
		}
		if _, err := tg.Kube.StorageV1().VolumeAttachments().Create(ctx, va, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		audit(FindingFCD + " " + orphan.Config.Id.Id)

		// A vSphere node whose VM is gone is named, not left out, and so is
		// a node without a providerID that the driver attached a volume to;
		// a node of another provider is not the audit's business.
		for _, n := range []*corev1.Node{
			{ObjectMeta: metav1.ObjectMeta{Name: "node-ghost"}, Spec: corev1.NodeSpec{ProviderID: "vsphere://4217a0ff-0000-0000-0000-000000000000"}},
			{ObjectMeta: metav1.ObjectMeta{Name: "node-elsewhere"}, Spec: corev1.NodeSpec{ProviderID: "aws:///us-east-1a/i-0abc"}},
			{ObjectMeta: metav1.ObjectMeta{Name: "node-uninitialised"}},
		} {
			if _, err := tg.Kube.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		audit(FindingFCD+" "+orphan.Config.Id.Id, FindingNodeWithoutVM+" node-ghost")
		va2 := &storagev1.VolumeAttachment{
			ObjectMeta: metav1.ObjectMeta{Name: "va-2"},
			Spec: storagev1.VolumeAttachmentSpec{Attacher: CSIDriverName, NodeName: "node-uninitialised",
				Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: &pvName}},
		}
		if _, err := tg.Kube.StorageV1().VolumeAttachments().Create(ctx, va2, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		audit(FindingFCD+" "+orphan.Config.Id.Id, FindingNodeWithoutVM+" node-ghost", FindingNodeWithoutVM+" node-uninitialised")
		if err := tg.Kube.StorageV1().VolumeAttachments().Delete(ctx, "va-2", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"node-ghost", "node-elsewhere", "node-uninitialised"} {
			if err := tg.Kube.CoreV1().Nodes().Delete(ctx, n, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}

		got, _ := tg.Audit(ctx)
		if s := got.String(); !strings.Contains(s, "datastore "+ds.Name()) {
			t.Errorf("finding %q does not name the datastore", s)
		}
	})
}

// addFCDDisk adds a disk with VDiskId = id to the VM, as CNS attach does.
func addFCDDisk(t *testing.T, ctx context.Context, vm *object.VirtualMachine, id string) {
	t.Helper()
	devices, err := vm.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ctrl, err := devices.FindDiskController("")
	if err != nil {
		t.Fatal(err)
	}
	disk := devices.CreateDisk(ctrl, types.ManagedObjectReference{}, "")
	disk.CapacityInKB = 1024
	disk.VDiskId = &types.ID{Id: id}
	if err := vm.AddDevice(ctx, disk); err != nil {
		t.Fatal(err)
	}
}
