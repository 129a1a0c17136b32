package target

import (
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stypes "k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

var _ = Describe("the CSI registration of a fake node", Ordered, func() {
	const uuid = "4211a1b2-0000-4000-8000-00000000c0de"
	var (
		tg  *Target
		dyn *dynamicfake.FakeDynamicClient
		// crd: the cluster serves CSINodeTopology; else a create answers 404.
		crd = true
	)

	BeforeAll(func() {
		kube := fakeKube()
		for _, name := range []string{"fake-1", "fake-2"} {
			Expect(kube.Tracker().Add(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, UID: k8stypes.UID("uid-" + name)}})).To(Succeed())
		}
		dyn = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
			map[schema.GroupVersionResource]string{csiNodeTopologyGVR: "CSINodeTopologyList"})
		// The syncer's part: the CR it completes from the VM's tags.
		dyn.PrependReactor("create", "csinodetopologies", func(action k8stesting.Action) (bool, runtime.Object, error) {
			if !crd {
				return true, nil, apierrors.NewNotFound(csiNodeTopologyGVR.GroupResource(), "")
			}
			obj := action.(k8stesting.CreateAction).GetObject().(*unstructured.Unstructured)
			obj.Object["status"] = map[string]any{"status": "Success", "topologyLabels": []any{
				map[string]any{"key": "topology.csi.vmware.com/k8s-zone", "value": "zone-a"},
				map[string]any{"key": "topology.csi.vmware.com/k8s-region", "value": "region-1"},
			}}
			return false, nil, nil
		})
		tg = &Target{
			Config:  &Config{Name: "fake", Capabilities: Capabilities{FakeNodes: true, MaxVolumesPerNode: 59}},
			Kube:    kube,
			Dynamic: dyn,
		}
	})

	It("adds the driver to the node's CSINode with the VM's UUID and topology, as its node plugin and kubelet would", func(ctx SpecContext) {
		cn := tg.RegisterFakeCSINode(ctx, "fake-1", uuid)
		Expect(cn.Spec.Drivers).To(ConsistOf(storagev1.CSINodeDriver{
			Name:         CSIDriverName,
			NodeID:       uuid,
			TopologyKeys: []string{"topology.csi.vmware.com/k8s-region", "topology.csi.vmware.com/k8s-zone"},
			Allocatable:  &storagev1.VolumeNodeResources{Count: ptr.To[int32](59)},
		}))
		Expect(cn.OwnerReferences).To(ConsistOf(HaveField("UID", BeEquivalentTo("uid-fake-1"))))

		node, err := tg.Kube.CoreV1().Nodes().Get(ctx, "fake-1", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(node.Labels).To(HaveKeyWithValue("topology.csi.vmware.com/k8s-zone", "zone-a"))
		Expect(node.Labels).To(HaveKeyWithValue("topology.csi.vmware.com/k8s-region", "region-1"))
		Expect(node.Annotations).To(HaveKeyWithValue(controllerManagedAttach, "true"))
		var ids map[string]string
		Expect(json.Unmarshal([]byte(node.Annotations[csiNodeIDAnnotation]), &ids)).To(Succeed())
		Expect(ids).To(Equal(map[string]string{CSIDriverName: uuid}))

		u, err := dyn.Resource(csiNodeTopologyGVR).Get(ctx, "fake-1", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(u.Object["spec"]).To(Equal(map[string]any{"nodeID": "fake-1", "nodeuuid": uuid}))
	})

	It("removes the CSINode and CSINodeTopology once the spec ends", func(ctx SpecContext) {
		_, err := tg.Kube.StorageV1().CSINodes().Get(ctx, "fake-1", metav1.GetOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "CSINode: %v", err)
		_, err = dyn.Resource(csiNodeTopologyGVR).Get(ctx, "fake-1", metav1.GetOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "CSINodeTopology: %v", err)
	})

	It("registers no topology where the cluster serves no CSINodeTopology", func(ctx SpecContext) {
		crd = false
		DeferCleanup(func() { crd = true })
		cn := tg.RegisterFakeCSINode(ctx, "fake-2", uuid)
		Expect(cn.Spec.Drivers).To(HaveLen(1))
		Expect(cn.Spec.Drivers[0].TopologyKeys).To(BeEmpty())
		Expect(cn.Spec.Drivers[0].NodeID).To(Equal(uuid))
	})
})
