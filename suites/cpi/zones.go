package cpi

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vapi/tags"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// The CPI reads a node's zone and region from tags of the categories its
// config names (target config cpi.zoneCategory / cpi.regionCategory): first
// on the VM's host and the host's ancestors (cluster, folders, datacenter),
// nearest first; then on its resource pool and the pool's ancestors; then on
// its VM folders. Zone and region must come from the same chain.
var _ = Describe("Zones and regions from vSphere tags", Label(labels.CPI, labels.Zones), func() {
	var t *target.Target

	BeforeEach(func() {
		t = target.Current()
		if t.Config.CPI.ZoneCategory == "" || t.Config.CPI.RegionCategory == "" {
			Skip("target " + t.Config.Name + " names no cpi.zoneCategory and cpi.regionCategory: the CPI sets no zones")
		}
	})

	It("labels every node with the zone and region tagged on its VM's host, cluster or datacenter", func(ctx SpecContext) {
		for _, n := range initialisedNodes(ctx, t) {
			vm := nodeVM(ctx, t, n.Name)
			host, err := vm.HostSystem(ctx)
			Expect(err).NotTo(HaveOccurred())
			zone, region := tagsOnChain(ctx, t, host.Reference())
			Expect(zone).NotTo(BeEmpty(), "no %s tag on the host of node %s or its ancestors", t.Config.CPI.ZoneCategory, n.Name)
			Expect(region).NotTo(BeEmpty(), "no %s tag on the host of node %s or its ancestors", t.Config.CPI.RegionCategory, n.Name)
			Expect(n.Labels).To(HaveKeyWithValue(labelZone, zone), "node %s: %s must be the %s tag %q of its host's chain", n.Name, labelZone, t.Config.CPI.ZoneCategory, zone)
			Expect(n.Labels).To(HaveKeyWithValue(labelRegion, region), "node %s: %s must be the %s tag %q of its host's chain", n.Name, labelRegion, t.Config.CPI.RegionCategory, region)
		}
	}, SpecTimeout(2*time.Minute))

	It("finds the zone of VMs in nested resource pools and nested folders when their cluster has none", func(ctx SpecContext) {
		cluster := untaggedCluster(ctx, t)
		_, region := tagsOnChain(ctx, t, cluster.Reference())
		zone := createZoneTag(ctx, t)

		By("tagging the outer of two nested resource pools")
		outer := createResourcePool(ctx, t, clusterPool(ctx, cluster), "vsconform-outer-"+rand.String(4))
		inner := createResourcePool(ctx, t, outer, "vsconform-inner")
		attachTag(ctx, t, zone, outer.Reference())
		inPool := fakeNodeName()
		createFakeNode(ctx, t, inPool, guestIP(1), vmFolder(ctx, t), inner)

		By("tagging the outer of two nested VM folders")
		fOuter := createFolder(ctx, t, vmFolder(ctx, t), "vsconform-outer-"+rand.String(4))
		fInner := createFolder(ctx, t, fOuter, "vsconform-inner")
		attachTag(ctx, t, zone, fOuter.Reference())
		inFolder := fakeNodeName()
		createFakeNode(ctx, t, inFolder, guestIP(2), fInner, clusterPool(ctx, cluster))

		for _, name := range []string{inPool, inFolder} {
			n := waitInitialised(ctx, t, name)
			Expect(n.Labels).To(HaveKeyWithValue(labelZone, zone.Name), "node %s", name)
			Expect(n.Labels).To(HaveKeyWithValue(labelRegion, region), "node %s", name)
		}
	}, SpecTimeout(4*time.Minute))

	It("gives a VM with no zone tag anywhere no zone label rather than a wrong one", func(ctx SpecContext) {
		cluster := untaggedCluster(ctx, t)
		untagged := fakeNodeName()
		createFakeNode(ctx, t, untagged, guestIP(3), vmFolder(ctx, t), clusterPool(ctx, cluster))

		By("initialising a tagged node registered after it, so the CPI has seen both")
		zone := createZoneTag(ctx, t)
		pool := createResourcePool(ctx, t, clusterPool(ctx, cluster), "vsconform-tagged-"+rand.String(4))
		attachTag(ctx, t, zone, pool.Reference())
		control := fakeNodeName()
		createFakeNode(ctx, t, control, guestIP(4), vmFolder(ctx, t), pool)
		Expect(waitInitialised(ctx, t, control).Labels).To(HaveKeyWithValue(labelZone, zone.Name))

		Consistently(func(ctx context.Context) (map[string]string, error) {
			n, err := t.Kube.CoreV1().Nodes().Get(ctx, untagged, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return n.Labels, nil
		}).WithContext(ctx).WithTimeout(5*time.Second).ShouldNot(Or(HaveKey(labelZone), HaveKey(labelRegion)),
			"node %s has a zone or region although no %s tag is on its host, pool or folders", untagged, t.Config.CPI.ZoneCategory)
	}, SpecTimeout(4*time.Minute))
})

// tagsOnChain returns the first zone and region tag names on ref and its
// ancestors, nearest first.
func tagsOnChain(ctx context.Context, t *target.Target, ref types.ManagedObjectReference) (zone, region string) {
	GinkgoHelper()
	chain, err := mo.Ancestors(ctx, t.VC.Client, t.VC.ServiceContent.PropertyCollector, ref)
	Expect(err).NotTo(HaveOccurred())
	for i := len(chain) - 1; i >= 0; i-- {
		attached, err := t.Tags.GetAttachedTags(ctx, chain[i].Self)
		Expect(err).NotTo(HaveOccurred())
		for _, tag := range attached {
			cat, err := t.Tags.GetCategory(ctx, tag.CategoryID)
			Expect(err).NotTo(HaveOccurred())
			switch {
			case cat.Name == t.Config.CPI.ZoneCategory && zone == "":
				zone = tag.Name
			case cat.Name == t.Config.CPI.RegionCategory && region == "":
				region = tag.Name
			}
		}
	}
	return zone, region
}

// untaggedCluster finds a cluster with no zone tag on it or its ancestors
// (so only a pool or folder tag can give its VMs a zone), or skips.
func untaggedCluster(ctx context.Context, t *target.Target) *object.ClusterComputeResource {
	GinkgoHelper()
	clusters, err := t.Finder.ClusterComputeResourceList(ctx, "*")
	Expect(err).NotTo(HaveOccurred())
	for _, c := range clusters {
		zone, region := tagsOnChain(ctx, t, c.Reference())
		if zone != "" || region == "" {
			continue
		}
		var hosts mo.ClusterComputeResource
		Expect(c.Properties(ctx, c.Reference(), []string{"host"}, &hosts)).To(Succeed())
		tagged := false
		for _, h := range hosts.Host {
			if z, _ := tagsOnChain(ctx, t, h); z != "" {
				tagged = true
			}
		}
		if !tagged && len(hosts.Host) > 0 {
			return c
		}
	}
	Skip("no cluster of datacenter " + t.Datacenter.Name() + " has a region but no zone tag")
	return nil
}

// createZoneTag makes a tag in the CPI's zone category and registers its
// deletion (which detaches it everywhere).
func createZoneTag(ctx context.Context, t *target.Target) *tags.Tag {
	GinkgoHelper()
	cat, err := t.Tags.GetCategory(ctx, t.Config.CPI.ZoneCategory)
	Expect(err).NotTo(HaveOccurred(), "zone category %q", t.Config.CPI.ZoneCategory)
	name := "vsconform-zone-" + rand.String(5)
	id, err := t.Tags.CreateTag(ctx, &tags.Tag{Name: name, CategoryID: cat.ID, Description: "vsconform spec; safe to delete"})
	Expect(err).NotTo(HaveOccurred())
	t.Track("tag "+name, func(ctx context.Context) error {
		return t.Tags.DeleteTag(ctx, &tags.Tag{ID: id})
	})
	tag, err := t.Tags.GetTag(ctx, id)
	Expect(err).NotTo(HaveOccurred())
	return tag
}

func attachTag(ctx context.Context, t *target.Target, tag *tags.Tag, ref types.ManagedObjectReference) {
	GinkgoHelper()
	Expect(t.Tags.AttachTag(ctx, tag.ID, ref)).To(Succeed(), "attach tag %s to %s", tag.Name, ref)
	t.Track("tag "+tag.Name+" on "+ref.Value, func(ctx context.Context) error {
		return t.Tags.DetachTag(ctx, tag.ID, ref)
	})
}
