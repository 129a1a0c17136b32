package csi

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// csiTopologyPrefix is the vSphere CSI driver's topology label prefix: a
// label topology.csi.vmware.com/<tag category> per topology category.
const csiTopologyPrefix = "topology.csi.vmware.com/"

var _ = Describe("Volume topology from vSphere zones and regions", Label(labels.CSI, labels.Topology), func() {
	var (
		t    *target.Target
		ns   string
		topo *clusterTopology
	)

	BeforeEach(func(ctx SpecContext) {
		t = target.Current()
		t.Require(target.BlockVolumes, target.Topology)
		topo = discoverTopology(ctx, t)
		ns = t.CreateNamespace(ctx, "csi-topology").Name
	})

	It("labels every node with the zone and region tags of its VM's host, cluster and datacenter", func(ctx SpecContext) {
		for _, node := range topo.nodes {
			By("reading the vSphere tags above node " + node.Name + "'s VM")
			vm, err := t.VMForNode(ctx, node)
			Expect(err).NotTo(HaveOccurred())
			tags := vmAncestorTags(ctx, t, vm)

			By("finding each CSI topology label of the node among those tags")
			keys := topo.keys[node.Name]
			Expect(keys).NotTo(BeEmpty(), "CSINode %s lists no topology keys for %s", node.Name, driverName)
			for _, key := range keys {
				Expect(key).To(HavePrefix(csiTopologyPrefix), "CSINode %s: topology key %q is not the driver's", node.Name, key)
				category := strings.TrimPrefix(key, csiTopologyPrefix)
				want, ok := tags[category]
				Expect(ok).To(BeTrue(), "node %s has label %s but no tag of category %q is attached to its VM, host, cluster or datacenter (tags: %v)", node.Name, key, category, tags)
				Expect(node.Labels).To(HaveKeyWithValue(key, want), "node %s: label %s does not match the %q tag of its VM's inventory", node.Name, key, category)
			}

			By("finding the cloud provider's zone and region labels of the node among those tags")
			// Each label from the tag of its own category: a zone label
			// holding the region's tag (categories swapped) is wrong.
			for key, category := range map[string]string{corev1.LabelTopologyZone: t.Config.CPI.ZoneCategory, corev1.LabelTopologyRegion: t.Config.CPI.RegionCategory} {
				Expect(category).NotTo(BeEmpty(), "target %s declares topology but its config names no cpi category for %s", t.Config.Name, key)
				Expect(node.Labels).To(HaveKey(key), "node %s has no %s label from the vSphere cloud provider", node.Name, key)
				want, ok := tags[category]
				Expect(ok).To(BeTrue(), "node %s has %s=%q but no tag of category %q is attached to its VM's inventory (tags: %v)", node.Name, key, node.Labels[key], category, tags)
				Expect(node.Labels[key]).To(Equal(want), "node %s: %s is not the %q tag of its VM's inventory (tags: %v)", node.Name, key, category, tags)
			}
		}
	}, SpecTimeout(2*time.Minute))

	It("places a volume restricted to one zone on a datastore of that zone, and its PV and pod stay in that zone", labels.Catches("placement-ignores-datastores", "attach-wrong-vm"), func(ctx SpecContext) {
		for _, zone := range topo.zones {
			By("provisioning a claim from a StorageClass allowed only in " + topo.zoneKey + "=" + zone)
			sc := target.NewStorageClass("vsconform-zone", nil)
			sc.AllowedTopologies = []corev1.TopologySelectorTerm{{MatchLabelExpressions: []corev1.TopologySelectorLabelRequirement{
				{Key: topo.zoneKey, Values: []string{zone}},
			}}}
			sc = t.CreateStorageClass(ctx, sc)
			claim := t.CreatePVC(ctx, ns, target.NewPVC("data-"+zone, sc.Name, "1Gi"))
			claim, err := t.WaitForPVCBound(ctx, ns, claim.Name)
			Expect(err).NotTo(HaveOccurred())
			pv, err := t.Kube.CoreV1().PersistentVolumes().Get(ctx, claim.Spec.VolumeName, metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(pv.Spec.CSI).NotTo(BeNil(), "PV %s is not a CSI volume", pv.Name)
			id := pv.Spec.CSI.VolumeHandle

			By("requiring the zone in the PV's node affinity")
			expectAffinityToZone(pv, topo.zoneKey, zone)

			By("finding the first-class disk on a datastore mounted by every host of the zone")
			expectDatastoreServesZone(ctx, t, topo, id, zone)

			By("scheduling a pod of the claim into the zone and attaching the disk to its node VM")
			pod := t.CreatePod(ctx, ns, target.NewPod("app-"+zone, claim.Name))
			// vCenter's side first: a disk on the wrong VM leaves a real
			// node's pod waiting for its device, which says less.
			node := scheduledNode(ctx, t, ns, pod.Name)
			Expect(topo.zoneOf[node]).To(Equal(zone), "pod %s scheduled to node %s outside zone %s", pod.Name, node, zone)
			expectAttachedToNode(ctx, t, pv.Name, id, node)
			_, err = t.WaitForPodRunning(ctx, ns, pod.Name)
			Expect(err).NotTo(HaveOccurred())
		}
	}, SpecTimeout(5*time.Minute))

	It("provisions a WaitForFirstConsumer claim in the zone of the node its pod is scheduled to", labels.Catches("placement-ignores-datastores", "attach-adds-no-disk"), func(ctx SpecContext) {
		zone := topo.zones[len(topo.zones)-1]
		node := topo.nodesByZone[zone][0]
		sc := target.NewStorageClass("vsconform-wffc", nil)
		sc.VolumeBindingMode = ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)
		sc = t.CreateStorageClass(ctx, sc)
		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc.Name, "1Gi"))

		By("leaving the claim unbound while no pod uses it")
		Consistently(func(ctx SpecContext) (string, error) {
			c, err := t.Kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim.Name, metav1.GetOptions{})
			if err != nil {
				return "", err
			}
			return c.Spec.VolumeName, nil
		}).WithContext(ctx).WithTimeout(3*time.Second).Should(BeEmpty(), "claim %s bound before any pod used it", claim.Name)

		By("running a pod pinned to node " + node + " of zone " + zone)
		pod := target.NewPod("app", claim.Name)
		pod.Spec.NodeSelector = map[string]string{corev1.LabelHostname: topo.hostnameOf[node]}
		pod = t.CreatePod(ctx, ns, pod)
		pod, err := t.WaitForPodRunning(ctx, ns, pod.Name)
		Expect(err).NotTo(HaveOccurred())
		Expect(pod.Spec.NodeName).To(Equal(node))

		By("binding the claim to a PV whose node affinity names the pod's zone")
		claim, err = t.WaitForPVCBound(ctx, ns, claim.Name)
		Expect(err).NotTo(HaveOccurred())
		Expect(claim.Annotations).To(HaveKeyWithValue("volume.kubernetes.io/selected-node", node))
		pv, err := t.Kube.CoreV1().PersistentVolumes().Get(ctx, claim.Spec.VolumeName, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(pv.Spec.CSI).NotTo(BeNil(), "PV %s is not a CSI volume", pv.Name)
		id := pv.Spec.CSI.VolumeHandle
		expectAffinityToZone(pv, topo.zoneKey, zone)

		By("finding the first-class disk on a datastore of that zone, attached to the node's VM")
		expectDatastoreServesZone(ctx, t, topo, id, zone)
		expectAttachedToNode(ctx, t, pv.Name, id, node)
	}, SpecTimeout(5*time.Minute))
})

// clusterTopology is how the nodes with the vSphere CSI driver split into
// zones, as the driver reported them (CSINode topology keys, node labels).
type clusterTopology struct {
	nodes       []*corev1.Node
	keys        map[string][]string // node -> CSINode topology keys
	zoneKey     string              // the key that splits nodes into the most domains
	zones       []string            // its values, sorted
	zoneOf      map[string]string   // node -> zone
	nodesByZone map[string][]string // zone -> nodes, sorted
	hostnameOf  map[string]string   // node -> kubernetes.io/hostname label
}

// discoverTopology reads the nodes' topology and fails the spec when there
// are fewer than two zones to tell apart (the target declares topology).
func discoverTopology(ctx SpecContext, t *target.Target) *clusterTopology {
	GinkgoHelper()
	nodes, err := t.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	Expect(err).NotTo(HaveOccurred())
	csiNodes, err := t.Kube.StorageV1().CSINodes().List(ctx, metav1.ListOptions{})
	Expect(err).NotTo(HaveOccurred())
	topo := &clusterTopology{keys: map[string][]string{}, zoneOf: map[string]string{},
		nodesByZone: map[string][]string{}, hostnameOf: map[string]string{}}
	for _, cn := range csiNodes.Items {
		for _, d := range cn.Spec.Drivers {
			if d.Name == driverName {
				topo.keys[cn.Name] = d.TopologyKeys
			}
		}
	}
	domains := map[string]map[string]bool{} // key -> values
	for i := range nodes.Items {
		n := &nodes.Items[i]
		keys, ok := topo.keys[n.Name]
		if !ok {
			continue // the driver is not registered there
		}
		topo.nodes = append(topo.nodes, n)
		topo.hostnameOf[n.Name] = n.Labels[corev1.LabelHostname]
		for _, k := range keys {
			if domains[k] == nil {
				domains[k] = map[string]bool{}
			}
			domains[k][n.Labels[k]] = true
		}
	}
	Expect(topo.nodes).NotTo(BeEmpty(), "no CSINode lists driver %s", driverName)
	for _, k := range slices.Sorted(maps.Keys(domains)) {
		if topo.zoneKey == "" || len(domains[k]) > len(domains[topo.zoneKey]) {
			topo.zoneKey = k
		}
	}
	if topo.zoneKey == "" || len(domains[topo.zoneKey]) < 2 {
		// A declared capability that cannot be exercised is a failure, not a
		// skip: the report would otherwise show zones as checked.
		Fail(fmt.Sprintf("target %s declares capability topology but its nodes span fewer than 2 zones (CSINode topology keys: %v): "+
			"the zone checks cannot run; tag a second zone, or declare topology: false", t.Config.Name, slices.Sorted(maps.Keys(domains))))
	}
	topo.zones = slices.Sorted(maps.Keys(domains[topo.zoneKey]))
	for _, n := range topo.nodes {
		z := n.Labels[topo.zoneKey]
		Expect(z).NotTo(BeEmpty(), "node %s lists topology key %s in its CSINode but has no such label", n.Name, topo.zoneKey)
		topo.zoneOf[n.Name] = z
		topo.nodesByZone[z] = append(topo.nodesByZone[z], n.Name)
	}
	for _, z := range topo.zones {
		slices.Sort(topo.nodesByZone[z])
	}
	return topo
}

// vmAncestorTags returns, per tag category, the tag nearest to the VM among
// the VM itself, its host and the host's ancestors (cluster, folders,
// datacenter): where the CPI and the CSI driver look for zones and regions.
func vmAncestorTags(ctx SpecContext, t *target.Target, vm *object.VirtualMachine) map[string]string {
	GinkgoHelper()
	var o mo.VirtualMachine
	Expect(vm.Properties(ctx, vm.Reference(), []string{"runtime.host"}, &o)).To(Succeed())
	Expect(o.Runtime.Host).NotTo(BeNil(), "VM %s has no host", vm.Reference().Value)
	chain := []types.ManagedObjectReference{vm.Reference()}
	for ref := o.Runtime.Host; ref != nil; {
		chain = append(chain, *ref)
		var e mo.ManagedEntity
		Expect(t.VC.RetrieveOne(ctx, *ref, []string{"parent"}, &e)).To(Succeed())
		ref = e.Parent
	}
	categories := map[string]string{} // id -> name
	out := map[string]string{}
	for _, ref := range chain {
		attached, err := t.Tags.GetAttachedTags(ctx, ref)
		Expect(err).NotTo(HaveOccurred())
		for _, tag := range attached {
			name, ok := categories[tag.CategoryID]
			if !ok {
				cat, err := t.Tags.GetCategory(ctx, tag.CategoryID)
				Expect(err).NotTo(HaveOccurred())
				name = cat.Name
				categories[tag.CategoryID] = name
			}
			if _, nearer := out[name]; !nearer {
				out[name] = tag.Name
			}
		}
	}
	return out
}

// expectAffinityToZone checks that every term of the PV's required node
// affinity confines it to exactly the zone.
func expectAffinityToZone(pv *corev1.PersistentVolume, key, zone string) {
	GinkgoHelper()
	Expect(pv.Spec.NodeAffinity).NotTo(BeNil(), "PV %s has no node affinity", pv.Name)
	Expect(pv.Spec.NodeAffinity.Required).NotTo(BeNil(), "PV %s has no required node affinity", pv.Name)
	terms := pv.Spec.NodeAffinity.Required.NodeSelectorTerms
	Expect(terms).NotTo(BeEmpty(), "PV %s has no node selector terms", pv.Name)
	for _, term := range terms {
		var values []string
		for _, e := range term.MatchExpressions {
			if e.Key == key && e.Operator == corev1.NodeSelectorOpIn {
				values = append(values, e.Values...)
			}
		}
		Expect(values).To(ConsistOf(zone), "PV %s: node affinity term %v does not confine it to %s=%s", pv.Name, term, key, zone)
	}
}

// expectDatastoreServesZone checks in vCenter that the volume's first-class
// disk is on a datastore mounted by every host that runs a node VM of the
// zone, so any node of the zone can attach it.
func expectDatastoreServesZone(ctx SpecContext, t *target.Target, topo *clusterTopology, volumeID, zone string) {
	GinkgoHelper()
	fcd, err := t.FCD(ctx, volumeID)
	Expect(err).NotTo(HaveOccurred())
	Expect(fcd).NotTo(BeNil(), "no first-class disk %s in vCenter", volumeID)
	ds, err := t.DatastoreOf(ctx, fcd)
	Expect(err).NotTo(HaveOccurred())
	var dso mo.Datastore
	Expect(ds.Properties(ctx, ds.Reference(), []string{"host"}, &dso)).To(Succeed())
	mounted := map[string]bool{}
	for _, m := range dso.Host {
		if m.MountInfo.Mounted == nil || *m.MountInfo.Mounted {
			mounted[m.Key.Value] = true
		}
	}
	for _, name := range topo.nodesByZone[zone] {
		node, err := t.Kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		vm, err := t.VMForNode(ctx, node)
		Expect(err).NotTo(HaveOccurred())
		var o mo.VirtualMachine
		Expect(vm.Properties(ctx, vm.Reference(), []string{"runtime.host"}, &o)).To(Succeed())
		Expect(o.Runtime.Host).NotTo(BeNil())
		Expect(mounted).To(HaveKey(o.Runtime.Host.Value),
			"FCD %s is on datastore %s, which host %s of node %s (zone %s) does not mount (mounted on %v)",
			volumeID, ds.Name(), o.Runtime.Host.Value, name, zone, slices.Sorted(maps.Keys(mounted)))
	}
}

// expectAttachedToNode waits for the PV's VolumeAttachment on the node and
// finds the first-class disk among the node VM's disks.
func expectAttachedToNode(ctx SpecContext, t *target.Target, pvName, volumeID, nodeName string) {
	GinkgoHelper()
	_, err := t.WaitForVolumeAttachment(ctx, pvName, nodeName, true)
	Expect(err).NotTo(HaveOccurred())
	vm, err := t.VMByName(ctx, nodeName)
	Expect(err).NotTo(HaveOccurred())
	Expect(attachedDiskIDs(ctx, t, vm)).To(ContainElement(volumeID), "VM %s has no disk backed by FCD %s", nodeName, volumeID)
}
