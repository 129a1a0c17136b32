package target

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/cns"
	_ "github.com/vmware/govmomi/cns/simulator" // registers CNS with VPX models
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/pbm"
	_ "github.com/vmware/govmomi/pbm/simulator" // registers PBM with VPX models
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vslm"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

const simClusterID = "vsconform-test"

// simTarget builds a Target on a vcsim client the way Connect would,
// with a fake Kubernetes.
func simTarget(t *testing.T, ctx context.Context, c *vim25.Client) *Target {
	t.Helper()
	finder := find.NewFinder(c, true)
	dc, err := finder.DefaultDatacenter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	finder.SetDatacenter(dc)
	cnsc, err := cns.NewClient(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	pbmc, err := pbm.NewClient(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	return &Target{
		Config:     &Config{Name: "sim", CSI: CSI{Namespace: DefaultCSINamespace, ClusterID: simClusterID}},
		Kube:       fake.NewClientset(),
		VC:         &govmomi.Client{Client: c, SessionManager: session.NewManager(c)},
		CNS:        cnsc,
		PBM:        pbmc,
		VSLM:       vslm.NewObjectManager(c),
		Datacenter: dc,
		Finder:     finder,
	}
}

// createCNSVolume makes a block volume the way the CSI driver does.
func createCNSVolume(t *testing.T, ctx context.Context, tg *Target, name, clusterID string) string {
	t.Helper()
	ds, err := tg.Finder.DefaultDatastore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	task, err := tg.CNS.CreateVolume(ctx, []cnstypes.CnsVolumeCreateSpec{{
		Name:       name,
		VolumeType: "BLOCK",
		Datastores: []types.ManagedObjectReference{ds.Reference()},
		Metadata: cnstypes.CnsVolumeMetadata{ContainerCluster: cnstypes.CnsContainerCluster{
			ClusterType: "KUBERNETES", ClusterId: clusterID, VSphereUser: "user",
		}},
		BackingObjectDetails: &cnstypes.CnsBlockBackingDetails{
			CnsBackingObjectDetails: cnstypes.CnsBackingObjectDetails{CapacityInMb: 1024},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cns.GetTaskInfo(ctx, task)
	if err != nil {
		t.Fatal(err)
	}
	res, err := cns.GetTaskResult(ctx, info)
	if err != nil {
		t.Fatal(err)
	}
	r := res.GetCnsVolumeOperationResult()
	if r.Fault != nil {
		t.Fatalf("create volume: %v", r.Fault.LocalizedMessage)
	}
	return r.VolumeId.Id
}

func deleteCNSVolume(t *testing.T, ctx context.Context, tg *Target, id string) {
	t.Helper()
	task, err := tg.CNS.DeleteVolume(ctx, []cnstypes.CnsVolumeId{{Id: id}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cns.GetTaskInfo(ctx, task); err != nil {
		t.Fatal(err)
	}
}

func TestVSphereHelpersOnVcsim(t *testing.T) {
	simulator.Test(func(ctx context.Context, c *vim25.Client) {
		tg := simTarget(t, ctx, c)

		before, err := tg.Inventory(ctx)
		if err != nil {
			t.Fatal(err)
		}

		id := createCNSVolume(t, ctx, tg, "pvc-1111", simClusterID)
		otherID := createCNSVolume(t, ctx, tg, "pvc-other", "another-cluster")

		// CNS side.
		vol, err := tg.CNSVolume(ctx, id)
		if err != nil || vol == nil {
			t.Fatalf("CNSVolume(%s) = %v, %v", id, vol, err)
		}
		if vol.Name != "pvc-1111" || vol.Metadata.ContainerCluster.ClusterId != simClusterID {
			t.Errorf("CNSVolume returned %q of cluster %q", vol.Name, vol.Metadata.ContainerCluster.ClusterId)
		}
		if vol, err := tg.CNSVolume(ctx, "no-such-volume"); vol != nil || err != nil {
			t.Errorf("CNSVolume(absent) = %v, %v; want nil, nil", vol, err)
		}
		vols, err := tg.ListCNSVolumes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(vols) != 1 || vols[0].ID != id || vols[0].Name != "pvc-1111" || vols[0].Datastore == "" {
			t.Errorf("ListCNSVolumes = %+v, want only %s of cluster %s", vols, id, simClusterID)
		}

		// FCD side: CNS block volumes are first-class disks with the same ID.
		fcd, err := tg.FCD(ctx, id)
		if err != nil || fcd == nil {
			t.Fatalf("FCD(%s) = %v, %v", id, fcd, err)
		}
		if fcd.Config.Name != "pvc-1111" || fcd.Config.CapacityInMB != 1024 {
			t.Errorf("FCD = %q %d MB", fcd.Config.Name, fcd.Config.CapacityInMB)
		}
		if fcd, err := tg.FCD(ctx, "no-such-disk"); fcd != nil || err != nil {
			t.Errorf("FCD(absent) = %v, %v; want nil, nil", fcd, err)
		}
		ds, err := tg.DatastoreOf(ctx, fcd)
		if err != nil || ds.Name() != "LocalDS_0" {
			t.Errorf("DatastoreOf = %v, %v", ds, err)
		}
		fcds, err := tg.ListFCDs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !containsRef(fcds, VolumeRef{ID: id, Name: "pvc-1111", Datastore: "LocalDS_0"}) {
			t.Errorf("ListFCDs = %+v lacks %s", fcds, id)
		}

		// The leak check sees both the CNS volume and its FCD, and the other
		// cluster's FCD (FCDs carry no cluster), but not its CNS volume.
		if _, err := tg.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name: "csi-abcde", Labels: map[string]string{LabelSpec: "true"},
		}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		after, err := tg.Inventory(ctx)
		if err != nil {
			t.Fatal(err)
		}
		leaks := before.Leaked(after)
		want := []string{
			"CNS volume " + id + " (name pvc-1111, datastore " + vols[0].Datastore + ")",
			sortedFCDLines(id, otherID),
			"namespace csi-abcde",
		}
		if got := leaks.String(); got != strings.Join(want, "\n") {
			t.Errorf("leaks:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
		}
		if leaks.Empty() {
			t.Error("Empty() with leaks")
		}

		// Deleting the volumes (with their disks) and the namespace leaves nothing.
		deleteCNSVolume(t, ctx, tg, id)
		deleteCNSVolume(t, ctx, tg, otherID)
		if _, err := tg.WaitForCNSVolume(ctx, id, false); err != nil {
			t.Fatal(err)
		}
		if err := tg.Kube.CoreV1().Namespaces().Delete(ctx, "csi-abcde", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		final, err := tg.Inventory(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if leaks := before.Leaked(final); !leaks.Empty() {
			t.Errorf("leaks after cleanup:\n%s", leaks)
		}
		if fcd, err := tg.FCD(ctx, id); fcd != nil || err != nil {
			t.Errorf("FCD after delete = %v, %v", fcd, err)
		}

		// A wait for a volume that never comes says so.
		saved := Timeouts
		defer func() { Timeouts = saved }()
		Timeouts.CNSVolume = 300 * time.Millisecond
		_, err = tg.WaitForCNSVolume(ctx, id, true)
		if err == nil || err.Error() != "timed out after 300ms waiting for CNS volume "+id+" to exist; last state: absent" {
			t.Errorf("WaitForCNSVolume error %v", err)
		}
	})
}

func sortedFCDLines(a, b string) string {
	la := "FCD " + a + " (datastore LocalDS_0)"
	lb := "FCD " + b + " (datastore LocalDS_0)"
	if a > b {
		la, lb = lb, la
	}
	return la + "\n" + lb
}

func containsRef(refs []VolumeRef, want VolumeRef) bool {
	for _, r := range refs {
		if r == want {
			return true
		}
	}
	return false
}

func TestVMAndPolicyHelpersOnVcsim(t *testing.T) {
	simulator.Test(func(ctx context.Context, c *vim25.Client) {
		tg := simTarget(t, ctx, c)

		id, err := tg.PolicyID(ctx, "vSAN Default Storage Policy")
		if err != nil || id == "" {
			t.Errorf("PolicyID = %q, %v", id, err)
		}
		if _, err := tg.PolicyID(ctx, "no-such-policy"); err == nil || !strings.Contains(err.Error(), `storage policy "no-such-policy"`) {
			t.Errorf("PolicyID(absent) error %v", err)
		}

		vm, err := tg.VMByName(ctx, "DC0_H0_VM0")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tg.VMByName(ctx, "no-such-vm"); err == nil || err.Error() != `no VM named "no-such-vm" in datacenter DC0` {
			t.Errorf("VMByName(absent) error %v", err)
		}

		var props mo.VirtualMachine
		if err := vm.Properties(ctx, vm.Reference(), []string{"config.uuid"}, &props); err != nil {
			t.Fatal(err)
		}
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "k8s-node-1"}}
		node.Spec.ProviderID = "vsphere://" + strings.ToUpper(props.Config.Uuid)
		byNode, err := tg.VMForNode(ctx, node)
		if err != nil || byNode.Reference() != vm.Reference() {
			t.Errorf("VMForNode by providerID = %v, %v; want %v", byNode, err, vm.Reference())
		}
		byName, err := tg.VMForNode(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "DC0_H0_VM0"}})
		if err != nil || byName.Reference() != vm.Reference() {
			t.Errorf("VMForNode by name = %v, %v", byName, err)
		}

		disks, err := tg.AttachedDisks(ctx, vm)
		if err != nil || len(disks) == 0 {
			t.Fatalf("AttachedDisks = %d disks, %v", len(disks), err)
		}
		// vcsim's VM disks are plain vmdks, not FCDs.
		if ids := DiskIDs(disks); len(ids) != 0 {
			t.Errorf("DiskIDs of plain disks = %v", ids)
		}
		fcdDisk := &types.VirtualDisk{VDiskId: &types.ID{Id: "fcd-1"}}
		if ids := DiskIDs(append(disks, fcdDisk)); len(ids) != 1 || ids[0] != "fcd-1" {
			t.Errorf("DiskIDs = %v", ids)
		}

		desc := tg.DescribeFCD(ctx, "no-such-disk")
		if desc != "== First-class disk no-such-disk ==\n(absent)\n" {
			t.Errorf("DescribeFCD(absent) = %q", desc)
		}
	})
}

func TestDescribeCNSVolumeOnVcsim(t *testing.T) {
	simulator.Test(func(ctx context.Context, c *vim25.Client) {
		tg := simTarget(t, ctx, c)
		id := createCNSVolume(t, ctx, tg, "pvc-described", simClusterID)
		out := tg.DescribeCNSVolume(ctx, id)
		for _, want := range []string{"== CNS volume " + id + " ==", "name: pvc-described", "clusterId: " + simClusterID} {
			if !strings.Contains(out, want) {
				t.Errorf("DescribeCNSVolume lacks %q:\n%s", want, out)
			}
		}
		out = tg.DescribeFCD(ctx, id)
		if !strings.Contains(out, "name: pvc-described") {
			t.Errorf("DescribeFCD:\n%s", out)
		}
	})
}
