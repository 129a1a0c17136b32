package preflight

import (
	"context"
	"crypto/x509"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/pbm"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vapi/rest"
	"github.com/vmware/govmomi/vapi/tags"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/vsphere-conformance/vsphere-conformance/fixtures"
	"github.com/vsphere-conformance/vsphere-conformance/sim/vcenter"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

const hermeticPassword = "preflight-test-pw"

// hermeticTarget starts the hermetic target's vCenter simulator from its
// model, edited by seed, and returns a Target on it whose cluster holds a
// Node per model node VM (providerID from the VM's BIOS UUID, as the CPI
// sets it) and the default StorageClass.
func hermeticTarget(t *testing.T, seed func(*vcenter.Model)) *target.Target {
	t.Helper()
	data, err := fixtures.FS.ReadFile("vcsim/hermetic.yaml")
	must(t, err)
	m, err := vcenter.LoadModel(data)
	must(t, err)
	if seed != nil {
		seed(m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := vcenter.Start(ctx, m, vcenter.Options{Password: hermeticPassword})
	must(t, err)
	t.Cleanup(func() { _ = srv.Close() })

	sc := soap.NewClient(srv.URL(), false)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(srv.CACertPEM())
	sc.DefaultTransport().TLSClientConfig.RootCAs = pool
	c, err := vim25.NewClient(context.Background(), sc)
	must(t, err)
	user := url.UserPassword(srv.Username(), hermeticPassword)
	must(t, session.NewManager(c).Login(context.Background(), user))
	pbmc, err := pbm.NewClient(context.Background(), c)
	must(t, err)
	rc := rest.NewClient(c)
	must(t, rc.Login(context.Background(), user))
	finder := find.NewFinder(c, true)
	dc, err := finder.Datacenter(context.Background(), m.Datacenters[0].Name)
	must(t, err)
	finder.SetDatacenter(dc)

	kube := fake.NewClientset()
	for _, n := range srv.Nodes() {
		if n.Datacenter != m.Datacenters[0].Name {
			continue
		}
		_, err := kube.CoreV1().Nodes().Create(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.Name},
			Spec: corev1.NodeSpec{ProviderID: "vsphere://" + n.BIOSUUID}}, metav1.CreateOptions{})
		must(t, err)
	}
	policy := m.StoragePolicies[0].Name
	_, err = kube.StorageV1().StorageClasses().Create(context.Background(), &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{Name: "vsphere-default"}, Provisioner: csiProvisioner,
		Parameters: map[string]string{"storagepolicyname": policy}}, metav1.CreateOptions{})
	must(t, err)
	return &target.Target{
		Config: &target.Config{Name: "hermetic", VCenter: target.VCenter{Username: srv.Username()},
			CSI:     target.CSI{Namespace: target.DefaultCSINamespace},
			Storage: target.Storage{DefaultStorageClass: "vsphere-default", Policies: []string{policy}},
			CPI:     target.CPI{ZoneCategory: "k8s-zone", RegionCategory: "k8s-region"}},
		Kube: kube, VC: &govmomi.Client{Client: c, SessionManager: session.NewManager(c)},
		PBM: pbmc, Tags: tags.NewManager(rc), Datacenter: dc, Finder: finder,
	}
}

// The hermetic target is set up as the documentation asks, and each
// misconfiguration its model can seed gives its finding.
func TestHermeticModelSeeds(t *testing.T) {
	off := false
	for _, c := range []struct {
		name string
		seed func(*vcenter.Model)
		want string // finding ID; "" = no error or warning
		in   string // text the finding's object or message names
	}{
		{"clean", nil, "", ""},
		{"a node VM without disk.EnableUUID", func(m *vcenter.Model) { m.Nodes[0].DiskEnableUUID = &off }, "PF021", "node-a1"},
		{"an old hardware version", func(m *vcenter.Model) { m.Nodes[0].HardwareVersion = "vmx-13" }, "PF022", "vmx-13"},
		{"a user without a privilege", func(m *vcenter.Model) { m.VCenter.MissingPrivileges = []string{"Cns.Searchable"} }, "PF010", "Cns.Searchable"},
		{"a zone category without tags", dropCategoryTags("k8s-region"), "PF041", "k8s-region"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := Run(context.Background(), hermeticTarget(t, c.seed))
			var got []string
			for _, f := range r.Findings {
				if f.Severity == SeverityInfo {
					continue
				}
				got = append(got, f.ID)
				if f.ID == c.want && !strings.Contains(f.Object+" "+f.Message, c.in) {
					t.Errorf("%s does not name %q: %s", f.ID, c.in, f)
				}
			}
			if c.want == "" && len(got) > 0 {
				t.Errorf("clean hermetic target: findings %v\n%v", got, r.Findings)
			}
			if c.want != "" && (!slices.Contains(got, c.want) || slices.ContainsFunc(got, func(id string) bool { return id != c.want })) {
				t.Errorf("findings %v, want only %s\n%v", got, c.want, r.Findings)
			}
		})
	}
}

// dropCategoryTags removes a category's tags and their attachments.
func dropCategoryTags(category string) func(*vcenter.Model) {
	keep := func(refs []vcenter.TagRef) []vcenter.TagRef {
		return slices.DeleteFunc(refs, func(r vcenter.TagRef) bool { return r.Category == category })
	}
	return func(m *vcenter.Model) {
		m.Tags = slices.DeleteFunc(m.Tags, func(tg vcenter.Tag) bool { return tg.Category == category })
		for i := range m.Datacenters {
			dc := &m.Datacenters[i]
			dc.Tags = keep(dc.Tags)
			for j := range dc.Clusters {
				cl := &dc.Clusters[j]
				cl.Tags = keep(cl.Tags)
				for h, refs := range cl.HostTags {
					cl.HostTags[h] = keep(refs)
				}
			}
			for j := range dc.Datastores {
				dc.Datastores[j].Tags = keep(dc.Datastores[j].Tags)
			}
		}
	}
}
