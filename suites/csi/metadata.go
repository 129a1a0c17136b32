package csi

import (
	"fmt"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	cnstypes "github.com/vmware/govmomi/cns/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// What the vCenter UI shows under a container volume: the syncer pushes the
// PV, PVC and pod that use it into CNS as entity metadata.
var _ = Describe("CNS volume metadata", Label(labels.CSI, labels.Metadata), func() {
	// The syncer works from informers and retries; a few seconds is normal.
	const syncTimeout = 90 * time.Second

	It("names the PV, the claim and its namespace, the pod and the cluster, and follows the pod when it changes", labels.Catches("metadata-dropped", "metadata-drops-pod", "metadata-wrong-cluster"), func(ctx SpecContext) {
		t := target.Current()
		t.Require(target.BlockVolumes, target.CNSMetadataSync)
		ns := t.CreateNamespace(ctx, "csi-metadata").Name
		cluster := t.Config.CSI.ClusterID
		sc := t.CreateStorageClass(ctx, target.StorageClassForPolicy(requestedPolicy(t)))
		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc.Name, "1Gi"))
		_, pv, vol := boundVolume(ctx, t, ns, claim.Name)
		id := vol.VolumeId.Id
		if cluster != "" {
			Expect(vol.Metadata.ContainerCluster.ClusterId).To(Equal(cluster),
				"CNS volume %s belongs to container cluster %q, want %q", id, vol.Metadata.ContainerCluster.ClusterId, cluster)
		}
		entities := func(ctx SpecContext) ([]string, error) { return cnsEntities(ctx, t, id) }

		By("carrying the PV and the claim")
		Eventually(entities).WithContext(ctx).WithTimeout(syncTimeout).Should(ContainElements(
			entity("PERSISTENT_VOLUME", "", pv.Name, cluster),
			entity("PERSISTENT_VOLUME_CLAIM", ns, claim.Name, cluster),
		), "CNS volume %s lacks the PV/PVC entity metadata of cluster %q", id, cluster)

		By("adding the claim's labels when they change")
		patch := []byte(`{"metadata":{"labels":{"vsconform.io/app":"metadata-check"}}}`)
		_, err := t.Kube.CoreV1().PersistentVolumeClaims(ns).Patch(ctx, claim.Name, types.MergePatchType, patch, metav1.PatchOptions{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(ctx SpecContext) (map[string]string, error) {
			return cnsEntityLabels(ctx, t, id, "PERSISTENT_VOLUME_CLAIM", claim.Name)
		}).WithContext(ctx).WithTimeout(syncTimeout).Should(HaveKeyWithValue("vsconform.io/app", "metadata-check"),
			"CNS volume %s: the claim's entity lacks its new label", id)

		By("adding the pod that mounts it")
		node := runPodOn(ctx, t, ns, "first", claim.Name, pv)
		Eventually(entities).WithContext(ctx).WithTimeout(syncTimeout).Should(ContainElement(entity("POD", ns, "first", cluster)),
			"CNS volume %s lacks the pod entity metadata", id)

		By("replacing the pod entity when another pod takes the volume over")
		deletePodAndWaitDetached(ctx, t, ns, "first", pv, node)
		runPodOn(ctx, t, ns, "second", claim.Name, pv)
		Eventually(entities).WithContext(ctx).WithTimeout(syncTimeout).Should(And(
			ContainElement(entity("POD", ns, "second", cluster)),
			Not(ContainElement(entity("POD", ns, "first", cluster))),
			ContainElement(entity("PERSISTENT_VOLUME_CLAIM", ns, claim.Name, cluster)),
			ContainElement(entity("PERSISTENT_VOLUME", "", pv.Name, cluster)),
		), "CNS volume %s entity metadata after the pod changed", id)
	}, SpecTimeout(5*time.Minute))
})

// entity renders one Kubernetes entity as "TYPE ns/name @cluster", the
// form cnsEntities lists, so a failure shows every entity CNS holds.
func entity(kind, ns, name, cluster string) string {
	s := kind + " " + name
	if ns != "" {
		s = kind + " " + ns + "/" + name
	}
	if cluster != "" {
		s += " @" + cluster
	}
	return s
}

// cnsEntities lists a CNS volume's Kubernetes entity metadata.
func cnsEntities(ctx SpecContext, t *target.Target, id string) ([]string, error) {
	metas, err := kubernetesEntities(ctx, t, id)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range metas {
		out = append(out, entity(m.EntityType, m.Namespace, m.EntityName, m.ClusterID))
	}
	slices.Sort(out)
	return out, nil
}

// cnsEntityLabels returns the labels CNS holds for one entity.
func cnsEntityLabels(ctx SpecContext, t *target.Target, id, kind, name string) (map[string]string, error) {
	metas, err := kubernetesEntities(ctx, t, id)
	if err != nil {
		return nil, err
	}
	for _, m := range metas {
		if m.EntityType == kind && m.EntityName == name {
			out := map[string]string{}
			for _, kv := range m.Labels {
				out[kv.Key] = kv.Value
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("CNS volume %s has no %s entity %s", id, kind, name)
}

func kubernetesEntities(ctx SpecContext, t *target.Target, id string) ([]*cnstypes.CnsKubernetesEntityMetadata, error) {
	vol, err := t.CNSVolume(ctx, id)
	if err != nil {
		return nil, err
	}
	if vol == nil {
		return nil, fmt.Errorf("CNS has no volume %s", id)
	}
	var out []*cnstypes.CnsKubernetesEntityMetadata
	var other []string
	for _, m := range vol.Metadata.EntityMetadata {
		if k, ok := m.(*cnstypes.CnsKubernetesEntityMetadata); ok {
			out = append(out, k)
		} else {
			other = append(other, fmt.Sprintf("%T", m))
		}
	}
	if len(other) > 0 {
		return out, fmt.Errorf("CNS volume %s has entity metadata of unexpected types %s", id, strings.Join(other, ", "))
	}
	return out, nil
}
