package preflight

import (
	"context"
	"strings"
	"testing"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/pbm"
	_ "github.com/vmware/govmomi/pbm/simulator" // registers PBM with VPX models
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vapi/rest"
	_ "github.com/vmware/govmomi/vapi/simulator" // the /rest tagging endpoint
	"github.com/vmware/govmomi/vapi/tags"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// The simulated cluster: two nodes on vcsim's VPX model VMs, one on the
// standalone host DC0_H0 and one on a host of cluster DC0_C0, so a
// datastore can be mounted on one node's host and not the other's.
const (
	nodeA      = "node-a"
	nodeB      = "node-b"
	goodPolicy = "vSAN Default Storage Policy" // one of vcsim's PBM profiles
	zoneCat    = "k8s-zone"
	regionCat  = "k8s-region"
)

var nodeVMNames = map[string]string{nodeA: "DC0_H0_VM0", nodeB: "DC0_C0_RP0_VM0"}

// sim is a Target on vcsim set up the way the documentation asks, which
// each case then breaks in one place.
type sim struct {
	t      *testing.T
	ctx    context.Context
	tg     *target.Target
	kube   *fake.Clientset
	finder *find.Finder
	vms    map[string]*object.VirtualMachine // by node name
	dsURL  string                            // LocalDS_0, on every host
}

func newSim(t *testing.T, ctx context.Context, c *vim25.Client) *sim {
	t.Helper()
	finder := find.NewFinder(c, true)
	dc, err := finder.DefaultDatacenter(ctx)
	must(t, err)
	finder.SetDatacenter(dc)
	pbmc, err := pbm.NewClient(ctx, c)
	must(t, err)
	rc := rest.NewClient(c)
	must(t, rc.Login(ctx, simulator.DefaultLogin))
	kube := fake.NewClientset()
	s := &sim{t: t, ctx: ctx, kube: kube, finder: finder, vms: map[string]*object.VirtualMachine{}}
	s.tg = &target.Target{
		Config: &target.Config{
			Name:    "sim",
			VCenter: target.VCenter{Username: "administrator@vsphere.local"},
			CSI:     target.CSI{Namespace: target.DefaultCSINamespace},
			Storage: target.Storage{DefaultStorageClass: "gold", Policies: []string{goodPolicy}},
			CPI:     target.CPI{ZoneCategory: zoneCat, RegionCategory: regionCat},
		},
		Kube:       kube,
		VC:         &govmomi.Client{Client: c, SessionManager: session.NewManager(c)},
		PBM:        pbmc,
		Tags:       tags.NewManager(rc),
		Datacenter: dc,
		Finder:     finder,
	}

	for node, name := range nodeVMNames {
		vm, err := finder.VirtualMachine(ctx, name)
		must(t, err)
		s.vms[node] = vm
		// vmx keys are case insensitive: govc writes disk.enableUUID, the
		// docs disk.EnableUUID.
		key := map[string]string{nodeA: "disk.enableUUID", nodeB: "disk.EnableUUID"}[node]
		s.reconfigure(node, types.VirtualMachineConfigSpec{
			Version:     "vmx-19",
			ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: key, Value: "TRUE"}},
		})
		var m mo.VirtualMachine
		must(t, vm.Properties(ctx, vm.Reference(), []string{"config.uuid"}, &m))
		s.addNode(node, "vsphere://"+m.Config.Uuid)
	}

	ds, err := finder.Datastore(ctx, "LocalDS_0")
	must(t, err)
	var dsm mo.Datastore
	must(t, ds.Properties(ctx, ds.Reference(), []string{"summary"}, &dsm))
	s.dsURL = dsm.Summary.Url
	s.addClass("gold", map[string]string{"storagepolicyname": goodPolicy, "datastoreURL": s.dsURL})
	// Not the driver's: never checked.
	_, err = kube.StorageV1().StorageClasses().Create(ctx, &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{Name: "other"}, Provisioner: "example.com/other",
		Parameters: map[string]string{"storagepolicyname": "no such policy"},
	}, metav1.CreateOptions{})
	must(t, err)

	s.addCategory(zoneCat, "zone-a")
	s.addCategory(regionCat, "region-1")
	return s
}

func (s *sim) reconfigure(node string, spec types.VirtualMachineConfigSpec) {
	s.t.Helper()
	task, err := s.vms[node].Reconfigure(s.ctx, spec)
	must(s.t, err)
	must(s.t, task.Wait(s.ctx))
}

func (s *sim) addNode(name, providerID string) {
	s.t.Helper()
	_, err := s.kube.CoreV1().Nodes().Create(s.ctx, &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.NodeSpec{ProviderID: providerID},
	}, metav1.CreateOptions{})
	must(s.t, err)
}

func (s *sim) addClass(name string, params map[string]string) {
	s.t.Helper()
	_, err := s.kube.StorageV1().StorageClasses().Create(s.ctx, &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: csiProvisioner, Parameters: params,
	}, metav1.CreateOptions{})
	must(s.t, err)
}

func (s *sim) addCategory(name string, tagNames ...string) {
	s.t.Helper()
	id, err := s.tg.Tags.CreateCategory(s.ctx, &tags.Category{Name: name, Cardinality: "SINGLE", AssociableTypes: []string{"Datacenter", "ClusterComputeResource"}})
	must(s.t, err)
	for _, tn := range tagNames {
		_, err := s.tg.Tags.CreateTag(s.ctx, &tags.Tag{Name: tn, CategoryID: id})
		must(s.t, err)
	}
}

// hostOf returns the host that runs a node's VM.
func (s *sim) hostOf(node string) *object.HostSystem {
	s.t.Helper()
	h, err := s.vms[node].HostSystem(s.ctx)
	must(s.t, err)
	return h
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// supportedAbout makes the model report vCenter 8.0.3; vcsim's VPX model
// reports 6.5, below the driver's minimum.
func supportedAbout(a *types.AboutInfo) {
	a.Version, a.ApiVersion, a.Build = "8.0.3", "8.0.3.0", "24022515"
	a.FullName = "VMware vCenter Server 8.0.3 build-24022515"
}

func TestRunOnVcsim(t *testing.T) {
	const ghostUUID = "4223e5b1-6c0f-4c4e-9d5a-0e7a1f3b2c99" // no VM has it
	cases := []struct {
		name  string
		about func(*types.AboutInfo) // after supportedAbout
		setup func(s *sim)
		want  string // the one finding's ID; "" for none
		text  []string
	}{
		{name: "documented environment"},
		{
			name:  "vCenter below the minimum",
			about: func(a *types.AboutInfo) { a.Version, a.ApiVersion = "6.7.0", "6.7.2" },
			want:  "PF001", text: []string{"apiVersion 6.7.2", "6.7.3"},
		},
		{
			name:  "disk.EnableUUID unset",
			setup: func(s *sim) { s.reconfigure(nodeB, enableUUID("")) },
			want:  "PF021", text: []string{"disk.EnableUUID is not set"},
		},
		{
			name:  "disk.EnableUUID FALSE",
			setup: func(s *sim) { s.reconfigure(nodeB, enableUUID("FALSE")) },
			want:  "PF021", text: []string{`"FALSE"`},
		},
		{
			name:  "old hardware version",
			setup: func(s *sim) { s.reconfigure(nodeA, types.VirtualMachineConfigSpec{Version: "vmx-13"}) },
			want:  "PF022", text: []string{"vmx-13", "vmx-15 or later"},
		},
		{
			name: "LSI Logic controller",
			setup: func(s *sim) {
				var devices object.VirtualDeviceList
				c, err := devices.CreateSCSIController("lsilogic")
				must(s.t, err)
				spec := types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
					&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: c},
				}}
				s.reconfigure(nodeB, spec)
			},
			want: "PF023", text: []string{"VirtualLsiLogicController"},
		},
		{
			name:  "node without VM",
			setup: func(s *sim) { s.addNode("ghost", "vsphere://"+ghostUUID) },
			want:  "PF020", text: []string{"node ghost", ghostUUID},
		},
		{
			name:  "StorageClass policy missing",
			setup: func(s *sim) { s.addClass("bronze", map[string]string{"StoragePolicyName": "No Such Policy"}) },
			want:  "PF030", text: []string{`"No Such Policy"`},
		},
		{
			name:  "config policy missing",
			setup: func(s *sim) { s.tg.Config.Storage.Policies = append(s.tg.Config.Storage.Policies, "Gold Missing") },
			want:  "PF030", text: []string{`"Gold Missing"`},
		},
		{
			name:  "datastoreurl names no datastore",
			setup: func(s *sim) { s.addClass("lost", map[string]string{"datastoreurl": "ds:///vmfs/volumes/nope/"}) },
			want:  "PF031", text: []string{"ds:///vmfs/volumes/nope/"},
		},
		{
			name: "datastoreurl not mounted on a node's host",
			setup: func(s *sim) {
				dss, err := s.hostOf(nodeB).ConfigManager().DatastoreSystem(s.ctx)
				must(s.t, err)
				ds, err := dss.CreateLocalDatastore(s.ctx, "OnlyB", s.t.TempDir())
				must(s.t, err)
				var m mo.Datastore
				must(s.t, ds.Properties(s.ctx, ds.Reference(), []string{"summary"}, &m))
				s.addClass("local-b", map[string]string{"datastoreurl": m.Summary.Url})
			},
			want: "PF032", text: []string{"OnlyB", "1 of the 2 hosts", "DC0_H0"},
		},
		{
			name:  "zone category missing",
			setup: func(s *sim) { s.tg.Config.CPI.ZoneCategory = "k8s-zones" },
			want:  "PF040", text: []string{`"k8s-zones"`, "cpi.zoneCategory"},
		},
		{
			name: "region category without tags",
			setup: func(s *sim) {
				s.addCategory("k8s-empty")
				s.tg.Config.CPI.RegionCategory = "k8s-empty"
			},
			want: "PF041", text: []string{`"k8s-empty"`, "no tags"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			model := simulator.VPX()
			supportedAbout(&model.ServiceContent.About)
			if c.about != nil {
				c.about(&model.ServiceContent.About)
			}
			simulator.Test(func(ctx context.Context, vc *vim25.Client) {
				s := newSim(t, ctx, vc)
				if c.setup != nil {
					c.setup(s)
				}
				r := Run(ctx, s.tg)
				var other []Finding
				var got *Finding
				for i, f := range r.Findings {
					if f.ID == c.want && got == nil {
						got = &r.Findings[i]
					} else if f.Severity != SeverityInfo {
						other = append(other, f)
					}
				}
				for _, f := range other {
					t.Errorf("unexpected finding:\n%s", f)
				}
				if c.want == "" {
					if r.Errors() != 0 {
						t.Errorf("Errors() = %d, want 0", r.Errors())
					}
					return
				}
				if got == nil {
					t.Fatalf("no %s finding; findings: %v", c.want, r.Findings)
				}
				t.Logf("%s", got)
				for _, s := range c.text {
					if !strings.Contains(got.Message, s) && !strings.Contains(got.Object, s) {
						t.Errorf("%s does not mention %q:\n%s", c.want, s, got)
					}
				}
				if got.Fix == "" || !strings.Contains(got.String(), "\n    fix: ") {
					t.Errorf("finding has no fix line:\n%s", got)
				}
			}, model)
		})
	}
}

func enableUUID(value string) types.VirtualMachineConfigSpec {
	return types.VirtualMachineConfigSpec{ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: "disk.EnableUUID", Value: value}}}
}

// TestRunCannotRead: what a check cannot read is a not-run finding for
// that check, never a panic and never silence.
func TestRunCannotRead(t *testing.T) {
	if r := Run(context.Background(), nil); len(r.Findings) != 1 || r.Findings[0].ID != RuleCheckNotRun.ID {
		t.Errorf("Run(nil) = %v, want one %s", r.Findings, RuleCheckNotRun.ID)
	}

	kube := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	tg := &target.Target{
		Config: &target.Config{Name: "no-vcenter", CPI: target.CPI{ZoneCategory: zoneCat}, Storage: target.Storage{Policies: []string{goodPolicy}}},
		Kube:   kube,
	}
	r := Run(context.Background(), tg)
	notRunChecks := map[string]bool{}
	for _, f := range r.Findings {
		if f.ID != RuleCheckNotRun.ID {
			t.Errorf("unexpected finding without vCenter:\n%s", f)
			continue
		}
		notRunChecks[strings.SplitN(f.Message, ":", 2)[0]] = true
	}
	for _, want := range []string{"vcenter version", "node VMs", "privileges", "storage policies", "tag categories"} {
		if !notRunChecks[want] {
			t.Errorf("no not-run finding for check %q; findings: %v", want, r.Findings)
		}
	}
	if r.Errors() != len(r.Findings) {
		t.Errorf("Errors() = %d, want %d", r.Errors(), len(r.Findings))
	}
}
