package csi

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vsan"
	vsanmethods "github.com/vmware/govmomi/vsan/methods"
	vsantypes "github.com/vmware/govmomi/vsan/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// What the vSphere CSI driver (v3.3.1, vanilla) does with ReadWriteMany
// claims: a CNS file volume, i.e. a vSAN file share on a vsan datastore of a
// cluster with vSAN file service, whose NFSv4.1 access point
// ControllerPublishVolume hands to each node (publish context key
// Nfsv4AccessPoint) instead of attaching a disk.
const (
	// nfsv41 is the access point key CNS reports and the driver reads.
	nfsv41 = "NFSv4.1"
	// nfsv4PublishKey is the driver's publish context key for it, which the
	// external-attacher stores as VolumeAttachment attachment metadata.
	nfsv4PublishKey = "Nfsv4AccessPoint"
)

// fileServiceSystem is vCenter's vSAN file service system (vSAN Management
// API, MOID "vsan-cluster-file-service-system").
var fileServiceSystem = types.ManagedObjectReference{Type: "VsanFileServiceSystem", Value: "vsan-cluster-file-service-system"}

var _ = Describe("ReadWriteMany file volumes on vSAN file service", Label(labels.CSI, labels.RWX), func() {
	var (
		t  *target.Target
		ns string
	)

	BeforeEach(func(ctx SpecContext) {
		t = target.Current()
		t.Require(target.FileVolumes)
		ns = t.CreateNamespace(ctx, "csi-rwx").Name
	})

	It("provisions a CNS file share with an NFSv4.1 access point, serves it to pods on two nodes at once, and removes the share with the claim", labels.Catches("file-share-read-only", "file-share-no-access-point", "file-delete-leaves-share"), func(ctx SpecContext) {
		sc := t.CreateStorageClass(ctx, target.NewStorageClass("vsconform-file", nil))
		claim := t.CreatePVC(ctx, ns, target.NewPVC("shared", sc.Name, "1Gi", corev1.ReadWriteMany))

		By("binding the claim to a ReadWriteMany PV backed by a CNS file volume")
		_, pv, vol := boundVolume(ctx, t, ns, claim.Name)
		Expect(pv.Spec.AccessModes).To(ContainElement(corev1.ReadWriteMany))
		id := vol.VolumeId.Id
		Expect(vol.VolumeType).To(Equal("FILE"), "CNS volume %s", id)
		share, ok := vol.BackingObjectDetails.(*cnstypes.CnsVsanFileShareBackingDetails)
		Expect(ok).To(BeTrue(), "CNS volume %s has backing details %T, want a vSAN file share", id, vol.BackingObjectDetails)
		Expect(share.CapacityInMb).To(Equal(int64(1024)))
		access := accessPoint(share.AccessPoints, nfsv41)
		Expect(access).NotTo(BeEmpty(), "file share %s of volume %s has no %s access point: %+v", share.Name, id, nfsv41, share.AccessPoints)

		By("finding the share on a vsan datastore, in the vSAN file service of its cluster, with the driver's default net permissions")
		ds, err := t.DatastoreByURL(ctx, vol.DatastoreUrl)
		Expect(err).NotTo(HaveOccurred())
		Expect(ds.Type).To(Equal("vsan"), "file volume %s is on datastore %s of type %s", id, ds.Name, ds.Type)
		fs := vsanFileShare(ctx, t, ds.Ref, share.Name)
		Expect(fs).NotTo(BeNil(), "vSAN file service lists no share %s", share.Name)
		Expect(accessPoint(fs.Runtime.AccessPoints, nfsv41)).To(Equal(access), "vSAN and CNS disagree on the NFSv4.1 access point")
		// The driver's config has no [NetPermissions] section, so every
		// client may read and write, root included (GetDefaultNetPermission).
		Expect(netPermissions(fs)).To(ConsistOf("*:READ_WRITE:root"),
			"net permissions of share %s are %v, want every client read-write, root included", share.Name, netPermissions(fs))

		nodeA, nodeB := fileVolumeNodePair(ctx, t)
		By(fmt.Sprintf("running pods on nodes %s and %s that use the volume at the same time", nodeA.Name, nodeB.Name))
		for _, p := range []struct {
			name string
			node *corev1.Node
		}{{"app-a", nodeA}, {"app-b", nodeB}} {
			t.CreatePod(ctx, ns, pinnedPod(p.name, p.node, claim.Name))
			_, err := t.WaitForPodRunning(ctx, ns, p.name)
			Expect(err).NotTo(HaveOccurred())
		}
		for _, node := range []*corev1.Node{nodeA, nodeB} {
			va, err := t.WaitForVolumeAttachment(ctx, pv.Name, node.Name, true)
			Expect(err).NotTo(HaveOccurred())
			Expect(va.Status.AttachmentMetadata).To(HaveKeyWithValue(nfsv4PublishKey, access),
				"VolumeAttachment %s does not carry the share's NFSv4.1 access point", va.Name)
			vm, err := t.VMByName(ctx, node.Name)
			Expect(err).NotTo(HaveOccurred())
			Expect(attachedDiskIDs(ctx, t, vm)).NotTo(ContainElement(id), "a file volume became a disk of VM %s", node.Name)
		}
		first, err := t.WaitForVolumeAttachment(ctx, pv.Name, nodeA.Name, true)
		Expect(err).NotTo(HaveOccurred(), "the first node lost the volume when the second got it")
		Expect(first.Status.Attached).To(BeTrue())

		By("detaching from both nodes when the pods are deleted")
		for _, p := range []struct {
			name string
			node *corev1.Node
		}{{"app-a", nodeA}, {"app-b", nodeB}} {
			Expect(t.Kube.CoreV1().Pods(ns).Delete(ctx, p.name, metav1.DeleteOptions{})).To(Succeed())
			Expect(t.WaitForPodDeleted(ctx, ns, p.name)).To(Succeed())
			_, err := t.WaitForVolumeAttachment(ctx, pv.Name, p.node.Name, false)
			Expect(err).NotTo(HaveOccurred())
		}

		By("removing the CNS volume and the file share when the claim is deleted")
		Expect(t.Kube.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, claim.Name, metav1.DeleteOptions{})).To(Succeed())
		Expect(t.WaitForPVDeleted(ctx, pv.Name)).To(Succeed())
		_, err = t.WaitForCNSVolume(ctx, id, false)
		Expect(err).NotTo(HaveOccurred())
		// Polled with errors returned, not asserted: a failed query retries.
		cluster := datastoreCluster(ctx, t, ds.Ref)
		Eventually(func(ctx SpecContext) (*vsantypes.VsanFileShare, error) {
			return queryFileShare(ctx, t, cluster, share.Name)
		}).WithContext(ctx).WithTimeout(time.Minute).Should(BeNil(), "file share %s still exists after its claim was deleted", share.Name)
	}, SpecTimeout(5*time.Minute))

	It("leaves a ReadWriteMany claim Pending with a ProvisioningFailed event when its datastore has no vSAN file service", Label(labels.Negative), func(ctx SpecContext) {
		dss, err := t.Datastores(ctx)
		Expect(err).NotTo(HaveOccurred())
		var plain *target.Datastore
		for i := range dss {
			if dss[i].Type != "vsan" {
				plain = &dss[i]
				break
			}
		}
		if plain == nil {
			Skip("every datastore of target " + t.Config.Name + " is a vsan datastore")
		}
		sc := t.CreateStorageClass(ctx, target.NewStorageClass("vsconform-file-plain", map[string]string{"datastoreurl": plain.URL}))
		claim := t.CreatePVC(ctx, ns, target.NewPVC("shared", sc.Name, "1Gi", corev1.ReadWriteMany))

		Eventually(func(ctx SpecContext) ([]string, error) {
			return eventMessages(ctx, t, ns, "PersistentVolumeClaim", claim.Name, "ProvisioningFailed")
		}).WithContext(ctx).WithTimeout(2*time.Minute).Should(ContainElement(ContainSubstring(plain.URL)),
			"no ProvisioningFailed event naming datastore %s (%s, type %s)", plain.Name, plain.URL, plain.Type)
		claim, err = t.Kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim.Name, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(claim.Status.Phase).To(Equal(corev1.ClaimPending))
		Expect(claim.Spec.VolumeName).To(BeEmpty())
	}, SpecTimeout(3*time.Minute))
})

func accessPoint(points []types.KeyValue, key string) string {
	for _, kv := range points {
		if kv.Key == key {
			return kv.Value
		}
	}
	return ""
}

// vsanFileShare is the vSAN file share of that name on the datastore's
// cluster, or nil.
func vsanFileShare(ctx SpecContext, t *target.Target, datastore types.ManagedObjectReference, name string) *vsantypes.VsanFileShare {
	GinkgoHelper()
	share, err := queryFileShare(ctx, t, datastoreCluster(ctx, t, datastore), name)
	Expect(err).NotTo(HaveOccurred())
	return share
}

// queryFileShare asks the cluster's vSAN file service for the share named
// name (vSAN Management API, VsanFileServiceSystem.VsanClusterQueryFileShares);
// nil when there is none.
func queryFileShare(ctx context.Context, t *target.Target, cluster types.ManagedObjectReference, name string) (*vsantypes.VsanFileShare, error) {
	vc, err := vsan.NewClient(ctx, t.VC.Client)
	if err != nil {
		return nil, err
	}
	res, err := vsanmethods.VsanClusterQueryFileShares(ctx, vc, &vsantypes.VsanClusterQueryFileShares{
		This:      fileServiceSystem,
		QuerySpec: vsantypes.VsanFileShareQuerySpec{Names: []string{name}},
		Cluster:   &cluster,
	})
	if err != nil {
		return nil, fmt.Errorf("query vSAN file shares of cluster %s: %w", cluster.Value, err)
	}
	if res.Returnval == nil {
		return nil, nil
	}
	for i := range res.Returnval.FileShares {
		if s := &res.Returnval.FileShares[i]; s.Config != nil && s.Config.Name == name {
			return s, nil
		}
	}
	return nil, nil
}

func datastoreCluster(ctx SpecContext, t *target.Target, ref types.ManagedObjectReference) types.ManagedObjectReference {
	GinkgoHelper()
	var ds mo.Datastore
	Expect(t.VC.RetrieveOne(ctx, ref, []string{"host"}, &ds)).To(Succeed())
	Expect(ds.Host).NotTo(BeEmpty(), "datastore %s is mounted on no host", ref.Value)
	var host mo.HostSystem
	Expect(t.VC.RetrieveOne(ctx, ds.Host[0].Key, []string{"parent"}, &host)).To(Succeed())
	Expect(host.Parent).NotTo(BeNil())
	Expect(host.Parent.Type).To(Equal("ClusterComputeResource"), "host %s of datastore %s is in no cluster", ds.Host[0].Key.Value, ref.Value)
	return *host.Parent
}

// netPermissions renders a share's net permissions as "ips:access[:root]".
func netPermissions(s *vsantypes.VsanFileShare) []string {
	var out []string
	if s.Config == nil {
		return out
	}
	for _, p := range s.Config.Permission {
		r := p.Ips + ":" + p.Permissions
		if p.AllowRoot != nil && *p.AllowRoot {
			r += ":root"
		}
		out = append(out, r)
	}
	return out
}

// fileVolumeNodePair picks two nodes of one zone whose pods can use a file
// share at once: any two where the target's nodes can mount its shares
// (capability fileVolumeMounts), else two kwok nodes, whose pods run without
// mounting, so only the controller side (the VolumeAttachments with the
// access point) is exercised there.
func fileVolumeNodePair(ctx SpecContext, t *target.Target) (*corev1.Node, *corev1.Node) {
	GinkgoHelper()
	selector := ""
	if !t.Config.Capabilities.Has(target.FileVolumeMounts) {
		selector = "type=kwok"
	}
	a, b, _ := nodePairWhere(ctx, t, selector)
	if a == nil {
		Fail(fmt.Sprintf("target %s declares fileVolumes but has no two nodes in one zone to serve a share to (nodes %q)", t.Config.Name, selector))
	}
	return a, b
}
