package migration

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// migrationGVR is the driver's record of a registered in-tree volume
// (named by volume ID; spec.volumepath -> spec.volumeid, lower case in JSON).
var migrationGVR = schema.GroupVersionResource{Group: "cns.vmware.com", Version: "v1alpha1", Resource: "cnsvspherevolumemigrations"}

// createLegacyVMDK makes a vmdk as the in-tree provisioner did,
// "[DS] kubevols/NAME.vmdk", through the vSphere API (FileManager.
// MakeDirectory, VirtualDiskManager.CreateVirtualDisk_Task), and registers
// its removal: the CNS volume and FCD it may have become, else the file.
func createLegacyVMDK(ctx SpecContext, t *target.Target, ds target.Datastore, name string, capacityMB int64) string {
	GinkgoHelper()
	dir := fmt.Sprintf("[%s] kubevols", ds.Name)
	path := dir + "/" + name + ".vmdk"
	err := object.NewFileManager(t.VC.Client).MakeDirectory(ctx, dir, t.Datacenter, true)
	Expect(err).NotTo(HaveOccurred(), "make directory %s", dir)
	vdm := object.NewVirtualDiskManager(t.VC.Client)
	task, err := vdm.CreateVirtualDisk(ctx, path, t.Datacenter, &types.FileBackedVirtualDiskSpec{
		VirtualDiskSpec: types.VirtualDiskSpec{
			AdapterType: string(types.VirtualDiskAdapterTypeLsiLogic),
			DiskType:    string(types.VirtualDiskTypeThin),
		},
		CapacityKb: capacityMB * 1024,
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(task.Wait(ctx)).To(Succeed(), "create virtual disk %s", path)
	t.Track("legacy vmdk "+path, func(ctx context.Context) error {
		return removeLegacyVMDK(ctx, t, path)
	})
	return path
}

// removeLegacyVMDK undoes what the spec and the driver made of a legacy
// vmdk: the migration record, the CNS volume (keeping the disk), the FCD,
// and the file.
func removeLegacyVMDK(ctx context.Context, t *target.Target, path string) error {
	id, err := migratedVolumeID(ctx, t, path)
	if err != nil {
		return err
	}
	if id == "" { // the record goes with the PV; the FCD may stay
		if id, err = fcdWithPath(ctx, t, path); err != nil {
			return err
		}
	}
	if id != "" {
		if err := t.Dynamic.Resource(migrationGVR).Delete(ctx, id, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if vol, err := t.CNSVolume(ctx, id); err != nil {
			return err
		} else if vol != nil {
			if err := t.DeleteVolumeAndDisk(ctx, id); err != nil {
				return err
			}
		}
		if fcd, err := t.FCD(ctx, id); err != nil {
			return err
		} else if fcd != nil {
			return t.DeleteFCD(ctx, id)
		}
	}
	task, err := object.NewVirtualDiskManager(t.VC.Client).DeleteVirtualDisk(ctx, path, t.Datacenter)
	if err != nil {
		return err
	}
	if err := task.Wait(ctx); err != nil && !strings.Contains(err.Error(), "not found") && !strings.Contains(err.Error(), "FileNotFound") {
		return fmt.Errorf("delete %s: %w", path, err)
	}
	return nil
}

// migratedVolumeID is the CNS volume ID the driver recorded for an in-tree
// volume path ("" if none yet).
func migratedVolumeID(ctx context.Context, t *target.Target, path string) (string, error) {
	list, err := t.Dynamic.Resource(migrationGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", fmt.Errorf("list %s: %w", migrationGVR.Resource, err)
	}
	for _, item := range list.Items {
		p, _, _ := unstructuredString(item.Object, "spec", "volumepath")
		if p == path {
			id, _, _ := unstructuredString(item.Object, "spec", "volumeid")
			return id, nil
		}
	}
	return "", nil
}

func unstructuredString(obj map[string]any, fields ...string) (string, bool, error) {
	cur := any(obj)
	for _, f := range fields {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false, nil
		}
		cur = m[f]
	}
	s, ok := cur.(string)
	return s, ok, nil
}

// waitMigrated waits (bounded) until the driver has registered the in-tree
// volume path in CNS and returns the volume ID.
func waitMigrated(ctx SpecContext, t *target.Target, path string) string {
	GinkgoHelper()
	var id string
	err := target.WaitFor(ctx, "the driver to register "+path+" in CNS (CnsVSphereVolumeMigration)", 2*time.Minute,
		func(ctx context.Context) (bool, string, error) {
			got, err := migratedVolumeID(ctx, t, path)
			if err != nil {
				return false, err.Error(), nil
			}
			id = got
			return id != "", "no CnsVSphereVolumeMigration for the path", nil
		})
	Expect(err).NotTo(HaveOccurred())
	return id
}

// expectCNSBacking checks that CNS and the FCD catalog know the volume and
// that its disk file is still the given path; it returns the CNS volume.
func expectCNSBacking(ctx SpecContext, t *target.Target, id, path string) *cnstypes.CnsVolume {
	GinkgoHelper()
	vol, err := t.CNSVolume(ctx, id)
	Expect(err).NotTo(HaveOccurred())
	Expect(vol).NotTo(BeNil(), "CNS has no volume %s for %s", id, path)
	Expect(string(vol.VolumeType)).To(Equal(string(cnstypes.CnsVolumeTypeBlock)))
	fcd, err := t.FCD(ctx, id)
	Expect(err).NotTo(HaveOccurred())
	Expect(fcd).NotTo(BeNil(), "volume %s is not a first-class disk in vCenter", id)
	backing, ok := fcd.Config.Backing.(*types.BaseConfigInfoDiskFileBackingInfo)
	Expect(ok).To(BeTrue(), "FCD %s has no file backing", id)
	Expect(backing.FilePath).To(Equal(path), "the volume's disk file moved: FCD %s is backed by %s, not the registered vmdk %s", id, backing.FilePath, path)
	return vol
}

// vmDiskFiles maps FCD IDs of a VM's disks to their backing file names.
func vmDiskFiles(ctx SpecContext, t *target.Target, node string) map[string]string {
	GinkgoHelper()
	vm, err := t.VMByName(ctx, node)
	Expect(err).NotTo(HaveOccurred())
	disks, err := t.AttachedDisks(ctx, vm)
	Expect(err).NotTo(HaveOccurred())
	out := map[string]string{}
	for _, d := range disks {
		if d.VDiskId == nil || d.VDiskId.Id == "" {
			continue
		}
		if b, ok := d.Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
			out[d.VDiskId.Id] = b.GetVirtualDeviceFileBackingInfo().FileName
		} else {
			out[d.VDiskId.Id] = ""
		}
	}
	return out
}

// fcdWithPath is the ID of the first-class disk whose file is path, if any.
func fcdWithPath(ctx context.Context, t *target.Target, path string) (string, error) {
	refs, err := t.ListFCDs(ctx)
	if err != nil {
		return "", err
	}
	for _, r := range refs {
		fcd, err := t.FCD(ctx, r.ID)
		if err != nil || fcd == nil {
			continue
		}
		if b, ok := fcd.Config.Backing.(*types.BaseConfigInfoDiskFileBackingInfo); ok && b.FilePath == path {
			return r.ID, nil
		}
	}
	return "", nil
}

// createPV creates a PersistentVolume and registers its deletion.
func createPV(ctx SpecContext, t *target.Target, pv *corev1.PersistentVolume) *corev1.PersistentVolume {
	GinkgoHelper()
	pv, err := t.Kube.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	t.Track("PV "+pv.Name, func(ctx context.Context) error { return deletePV(ctx, t, pv.Name) })
	return pv
}

// deletePV deletes a PersistentVolume and waits until it is gone.
func deletePV(ctx context.Context, t *target.Target, name string) error {
	err := t.Kube.CoreV1().PersistentVolumes().Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return t.WaitForPVDeleted(ctx, name)
}
