package defects_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi/cns"
	cnssim "github.com/vmware/govmomi/cns/simulator"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/pbm"
	pbmsim "github.com/vmware/govmomi/pbm/simulator"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vslm"

	"github.com/vsphere-conformance/vsphere-conformance/fixtures"
	"github.com/vsphere-conformance/vsphere-conformance/sim/defects"
	"github.com/vsphere-conformance/vsphere-conformance/sim/vcenter"
	"github.com/vsphere-conformance/vsphere-conformance/sim/vcext"
)

// A case drives one operation through the public APIs, each call asserted
// to answer success, and says whether the outcome is wrong (and what it saw):
// wrong under its profile, right on a clean vCenter.
type defectCase struct {
	profile string
	check   func(e *env, name string) (wrong bool, saw string)
	// sample is a failure message of the catching spec, as the spec
	// formats it: the profile's Symptom must match it.
	sample string
}

const testPassword = "defects test"

var (
	modelOnce sync.Once
	model     *vcenter.Model
)

func hermeticModel(t *testing.T) *vcenter.Model {
	t.Helper()
	modelOnce.Do(func() {
		data, err := fixtures.FS.ReadFile("vcsim/hermetic.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if model, err = vcenter.LoadModel(data); err != nil {
			t.Fatal(err)
		}
	})
	if model == nil {
		t.Fatal("no hermetic model")
	}
	return model
}

// env is a client of one simulated vCenter, started in process.
type env struct {
	t      *testing.T
	ctx    context.Context
	s      *vcenter.Server
	vc     *vim25.Client
	cns    *cns.Client
	fcd    *vslm.ObjectManager
	ds     map[string]types.ManagedObjectReference // by name
	vm     map[string]types.ManagedObjectReference // by name
	gold   string                                  // vsconform-gold's ID
	silver string                                  // vsconform-silver's ID (tag rule: LocalDS_0)
	finder *find.Finder                            // in datacenter DC0
	dc     *object.Datacenter
}

func start(t *testing.T, defect string) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	s, err := vcenter.Start(ctx, hermeticModel(t), vcenter.Options{Password: testPassword, Defect: defect})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })

	sc := soap.NewClient(s.URL(), false)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CACertPEM())
	sc.DefaultTransport().TLSClientConfig.RootCAs = pool
	vc, err := vim25.NewClient(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := session.NewManager(vc).Login(ctx, url.UserPassword(s.Username(), s.Password())); err != nil {
		t.Fatal(err)
	}
	cc, err := cns.NewClient(ctx, vc)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := pbm.NewClient(ctx, vc)
	if err != nil {
		t.Fatal(err)
	}
	gold, err := pc.ProfileIDByName(ctx, "vsconform-gold")
	if err != nil {
		t.Fatal(err)
	}
	silver, err := pc.ProfileIDByName(ctx, "vsconform-silver")
	if err != nil {
		t.Fatal(err)
	}
	finder := find.NewFinder(vc, true)
	dc, err := finder.Datacenter(ctx, "DC0")
	if err != nil {
		t.Fatal(err)
	}
	finder.SetDatacenter(dc)
	e := &env{t: t, ctx: ctx, s: s, vc: vc, cns: cc, fcd: vslm.NewObjectManager(vc), gold: gold, silver: silver,
		ds: map[string]types.ManagedObjectReference{}, vm: map[string]types.ManagedObjectReference{}, finder: finder, dc: dc}
	// Only the morefs are read from the model; every check goes through the API.
	for _, o := range s.Sim().Map().All("Datastore") {
		e.ds[o.(*simulator.Datastore).Name] = o.Reference()
	}
	for _, o := range s.Sim().Map().All("VirtualMachine") {
		e.vm[o.(*simulator.VirtualMachine).Name] = o.Reference()
	}
	return e
}

// datastore is the moref of the datastore with this name.
func (e *env) datastore(name string) types.ManagedObjectReference {
	e.t.Helper()
	ds, ok := e.ds[name]
	if !ok {
		e.t.Fatalf("no datastore %q", name)
	}
	return ds
}

// done waits for a CNS task and returns its first result, failing on any
// fault: the defects answer success.
func (e *env) done(what string, task *object.Task, err error) cnstypes.BaseCnsVolumeOperationResult {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("%s: %v", what, err)
	}
	info, err := cns.GetTaskInfo(e.ctx, task)
	if err != nil {
		e.t.Fatalf("%s: %v", what, err)
	}
	res, err := cns.GetTaskResult(e.ctx, info)
	if err != nil {
		e.t.Fatalf("%s: %v", what, err)
	}
	if f := res.GetCnsVolumeOperationResult().Fault; f != nil {
		e.t.Fatalf("%s: fault %T: %s", what, f.Fault, f.LocalizedMessage)
	}
	return res
}

type createOpts struct {
	mb      int64
	ds      string // default ds-zone-a
	also    string // a second datastore CNS may place on
	policy  string
	cluster string // default "vsconform"
}

func (e *env) create(name string, o createOpts) string {
	e.t.Helper()
	if o.mb == 0 {
		o.mb = 1024
	}
	if o.ds == "" {
		o.ds = "ds-zone-a"
	}
	if o.cluster == "" {
		o.cluster = "vsconform"
	}
	spec := cnstypes.CnsVolumeCreateSpec{
		Name:       name,
		VolumeType: string(cnstypes.CnsVolumeTypeBlock),
		Datastores: []types.ManagedObjectReference{e.ds[o.ds]},
		Metadata: cnstypes.CnsVolumeMetadata{ContainerCluster: cnstypes.CnsContainerCluster{
			ClusterType: string(cnstypes.CnsClusterTypeKubernetes), ClusterId: o.cluster, VSphereUser: "user",
		}},
		BackingObjectDetails: &cnstypes.CnsBlockBackingDetails{
			CnsBackingObjectDetails: cnstypes.CnsBackingObjectDetails{CapacityInMb: o.mb},
		},
	}
	if o.also != "" {
		spec.Datastores = append(spec.Datastores, e.ds[o.also])
	}
	if o.policy != "" {
		spec.Profile = []types.BaseVirtualMachineProfileSpec{&types.VirtualMachineDefinedProfileSpec{ProfileId: o.policy}}
	}
	task, err := e.cns.CreateVolume(e.ctx, []cnstypes.CnsVolumeCreateSpec{spec})
	return e.done("create "+name, task, err).GetCnsVolumeOperationResult().VolumeId.Id
}

// volume is the CNS volume with this ID, nil if CNS has none.
func (e *env) volume(id string) *cnstypes.CnsVolume {
	e.t.Helper()
	res, err := e.cns.QueryVolume(e.ctx, &cnstypes.CnsQueryFilter{VolumeIds: []cnstypes.CnsVolumeId{{Id: id}}})
	if err != nil {
		e.t.Fatal(err)
	}
	for i := range res.Volumes {
		if res.Volumes[i].VolumeId.Id == id {
			return &res.Volumes[i]
		}
	}
	return nil
}

// fcdOn finds a first class disk on any datastore: the disk and its
// datastore's name, nil if none holds it.
func (e *env) fcdOn(id string) (*types.VStorageObject, string) {
	e.t.Helper()
	for name, ds := range e.ds {
		ids, err := e.fcd.List(e.ctx, ds)
		if err != nil {
			e.t.Fatal(err)
		}
		if !slices.Contains(ids, types.ID{Id: id}) {
			continue
		}
		obj, err := e.fcd.Retrieve(e.ctx, ds, id)
		if err != nil {
			e.t.Fatal(err)
		}
		return obj, name
	}
	return nil, ""
}

// fcdsNamed counts the first class disks with this name.
func (e *env) fcdsNamed(name string) int {
	e.t.Helper()
	n := 0
	for _, ds := range e.ds {
		ids, err := e.fcd.List(e.ctx, ds)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, id := range ids {
			obj, err := e.fcd.Retrieve(e.ctx, ds, id.Id)
			if err == nil && obj.Config.Name == name {
				n++
			}
		}
	}
	return n
}

func (e *env) fcdMB(id string) int64 {
	e.t.Helper()
	obj, _ := e.fcdOn(id)
	if obj == nil {
		e.t.Fatalf("no FCD %s", id)
	}
	return obj.Config.CapacityInMB
}

func cnsMB(v *cnstypes.CnsVolume) int64 {
	if v == nil || v.BackingObjectDetails == nil {
		return 0
	}
	return v.BackingObjectDetails.GetCnsBackingObjectDetails().CapacityInMb
}

func (e *env) delete(id string) {
	e.t.Helper()
	task, err := e.cns.DeleteVolume(e.ctx, []cnstypes.CnsVolumeId{{Id: id}}, true)
	e.done("delete "+id, task, err)
}

func (e *env) extend(id string, mb int64) {
	e.t.Helper()
	task, err := e.cns.ExtendVolume(e.ctx, []cnstypes.CnsVolumeExtendSpec{{VolumeId: cnstypes.CnsVolumeId{Id: id}, CapacityInMb: mb}})
	e.done("extend "+id, task, err)
}

func kube(kind, ns, name, cluster string) *cnstypes.CnsKubernetesEntityMetadata {
	return &cnstypes.CnsKubernetesEntityMetadata{
		CnsEntityMetadata: cnstypes.CnsEntityMetadata{EntityName: name, ClusterID: cluster},
		EntityType:        kind, Namespace: ns,
	}
}

func (e *env) updateMetadata(id string, entities ...cnstypes.BaseCnsEntityMetadata) {
	e.t.Helper()
	task, err := e.cns.UpdateVolumeMetadata(e.ctx, []cnstypes.CnsVolumeMetadataUpdateSpec{{
		VolumeId: cnstypes.CnsVolumeId{Id: id},
		Metadata: cnstypes.CnsVolumeMetadata{
			ContainerCluster: cnstypes.CnsContainerCluster{
				ClusterType: string(cnstypes.CnsClusterTypeKubernetes), ClusterId: "vsconform", VSphereUser: "user",
			},
			EntityMetadata: entities,
		},
	}})
	e.done("update metadata of "+id, task, err)
}

// entities renders a volume's Kubernetes entities as "TYPE name @cluster".
func (e *env) entities(id string) []string {
	e.t.Helper()
	v := e.volume(id)
	if v == nil {
		e.t.Fatalf("no CNS volume %s", id)
	}
	var out []string
	for _, m := range v.Metadata.EntityMetadata {
		if k, ok := m.(*cnstypes.CnsKubernetesEntityMetadata); ok {
			out = append(out, fmt.Sprintf("%s %s @%s", k.EntityType, k.EntityName, k.ClusterID))
		}
	}
	slices.Sort(out)
	return out
}

var blockCases = []defectCase{
	{
		profile: "delete-leaves-fcd",
		check: func(e *env, name string) (bool, string) {
			id := e.create(name, createOpts{})
			e.delete(id)
			obj, _ := e.fcdOn(id)
			return e.volume(id) == nil && obj != nil, fmt.Sprintf("CNS volume present %t, FCD present %t", e.volume(id) != nil, obj != nil)
		},
		sample: "FCD 0b7d8b34-3bd5-4bb1-8a2b-7b7a4bfa8f1c still exists after its claim was deleted\nExpected\n    <*types.VStorageObject | 0xc000>: {...}\nto be nil",
	},
	{
		profile: "delete-does-nothing",
		check: func(e *env, name string) (bool, string) {
			id := e.create(name, createOpts{})
			e.delete(id)
			obj, _ := e.fcdOn(id)
			return e.volume(id) != nil && obj != nil, fmt.Sprintf("CNS volume present %t, FCD present %t", e.volume(id) != nil, obj != nil)
		},
		sample: "timed out after 2m0s waiting for CNS volume 0b7d8b34-3bd5 to be gone; last state: present (name \"pvc-1\", health green)",
	},
	{
		profile: "create-ignores-policy",
		check: func(e *env, name string) (bool, string) {
			v := e.volume(e.create(name, createOpts{policy: e.gold}))
			return v.StoragePolicyId != e.gold, fmt.Sprintf("policy %q, asked %q", v.StoragePolicyId, e.gold)
		},
		sample: `CNS volume 0b7d8b34 has policy "", want "c1f1b2a3" (vsconform-gold)` + "\nExpected\n    <string>: \nto equal\n    <string>: c1f1b2a3",
	},
	{
		profile: "create-smaller-disk",
		check: func(e *env, name string) (bool, string) {
			id := e.create(name, createOpts{mb: 1024})
			c, f := cnsMB(e.volume(id)), e.fcdMB(id)
			return c != 1024 || f != 1024, fmt.Sprintf("CNS %d MB, FCD %d MB, asked 1024 MB", c, f)
		},
		sample: "CNS volume 0b7d8b34 is not the size the claim asked for (MB)\nExpected\n    <int64>: 512\nto equal\n    <int64>: 1024",
	},
	{
		profile: "placement-ignores-datastores",
		check: func(e *env, name string) (bool, string) {
			_, ds := e.fcdOn(e.create(name, createOpts{ds: "ds-zone-a"}))
			return ds != "ds-zone-a", "FCD on " + ds + ", asked ds-zone-a"
		},
		sample: "FCD 0b7d8b34 is on datastore ds-untagged, which host host-21 of node node-a1 (zone zone-a) does not mount (mounted on [host-30])",
	},
	{
		profile: "placement-ignores-policy",
		check: func(e *env, name string) (bool, string) {
			id := e.create(name, createOpts{policy: e.silver, also: "LocalDS_0"})
			_, ds := e.fcdOn(id)
			return ds != "LocalDS_0" || e.volume(id).ComplianceStatus != "compliant",
				fmt.Sprintf("FCD on %s (compliance %q), policy allows only LocalDS_0", ds, e.volume(id).ComplianceStatus)
		},
		sample: `FCD 0b7d8b34 is on datastore datastore-61, which carries none of the tags [silver] of category "vsconform-tier" that policy "vsconform-silver" requires` +
			"\nExpected\n    <[]string | len:0, cap:0>: nil\nto contain element matching\n    <*matchers.BeElementOfMatcher>",
	},
	{
		profile: "create-leaves-stray-fcd",
		check: func(e *env, name string) (bool, string) {
			e.create(name, createOpts{})
			n := e.fcdsNamed(name)
			return n != 1, fmt.Sprintf("%d FCDs named %s", n, name)
		},
		sample: "FCDs created for one claim\nExpected\n    <[]string | len:2>: [\"a\", \"b\"]\nto consist of\n    <[]interface {} | len:1>: [\"a\"]",
	},
	{
		profile: "metadata-dropped",
		check: func(e *env, name string) (bool, string) {
			id := e.create(name, createOpts{})
			e.updateMetadata(id, kube("PERSISTENT_VOLUME_CLAIM", "ns", name, "vsconform"))
			got := e.entities(id)
			return len(got) == 0, fmt.Sprint(got)
		},
		sample: "CNS volume 0b7d8b34 lacks the PV/PVC entity metadata of cluster \"vsconform\"\nExpected\n    <[]string | len:0>: nil\nto contain elements ...",
	},
	{
		profile: "metadata-drops-pod",
		check: func(e *env, name string) (bool, string) {
			id := e.create(name, createOpts{})
			e.updateMetadata(id, kube("PERSISTENT_VOLUME_CLAIM", "ns", name, "vsconform"), kube("POD", "ns", name+"-pod", "vsconform"))
			got := e.entities(id)
			return !slices.Contains(got, "POD "+name+"-pod @vsconform") && len(got) == 1, fmt.Sprint(got)
		},
		sample: "Timed out after 90.001s.\nCNS volume 0b7d8b34 lacks the pod entity metadata\nExpected\n    <[]string | len:2>: [...]\nto contain element matching\n    <string>: POD ns/first @vsconform",
	},
	{
		profile: "metadata-wrong-cluster",
		check: func(e *env, name string) (bool, string) {
			id := e.create(name, createOpts{cluster: "vsconform"})
			e.updateMetadata(id, kube("PERSISTENT_VOLUME_CLAIM", "ns", name, "vsconform"))
			cc, got := e.volume(id).Metadata.ContainerCluster.ClusterId, e.entities(id)
			return cc != "vsconform" || !slices.Contains(got, "PERSISTENT_VOLUME_CLAIM "+name+" @vsconform"),
				fmt.Sprintf("container cluster %q, entities %v", cc, got)
		},
		sample: `CNS volume 0b7d8b34 belongs to container cluster "vsconform-defect-other-cluster", want "vsconform"` + "\nExpected ...",
	},
	{
		profile: "extend-cns-only",
		check: func(e *env, name string) (bool, string) {
			id := e.create(name, createOpts{mb: 1024})
			e.extend(id, 2048)
			c, f := cnsMB(e.volume(id)), e.fcdMB(id)
			return c == 2048 && f != 2048, fmt.Sprintf("CNS %d MB, FCD %d MB after extend to 2048", c, f)
		},
		sample: "FCD 0b7d8b34 did not grow to the resized claim's size (MB)\nExpected\n    <int64>: 1024\nto equal\n    <int64>: 2048",
	},
	{
		profile: "extend-does-nothing",
		check: func(e *env, name string) (bool, string) {
			id := e.create(name, createOpts{mb: 1024})
			e.extend(id, 2048)
			c, f := cnsMB(e.volume(id)), e.fcdMB(id)
			return c != 2048 && f != 2048, fmt.Sprintf("CNS %d MB, FCD %d MB after extend to 2048", c, f)
		},
		sample: "Timed out after 120s.\nCNS volume 0b7d8b34 did not grow to the resized claim's size (MB)\nExpected\n    <int64>: 1024\nto equal\n    <int64>: 2048",
	},
}

// mine are the profiles of block.go and attach.go.
func mine() []defectCase { return slices.Concat(blockCases, attachCases) }

// TestProfiles runs each case against its profile and against one clean
// vCenter: wrong under the defect, right without it.
func TestProfiles(t *testing.T) {
	clean := start(t, "")
	for _, c := range mine() {
		t.Run(c.profile, func(t *testing.T) {
			name := "vol-" + c.profile
			clean.t = t
			if wrong, saw := c.check(clean, name); wrong {
				t.Errorf("clean vCenter: the outcome is wrong already: %s", saw)
			}
			e := start(t, c.profile)
			if wrong, saw := c.check(e, name); !wrong {
				t.Errorf("defect %s: every call succeeded and the outcome is right: %s", c.profile, saw)
			}
		})
	}
}

// TestProfilesWellFormed: every profile of these groups is registered,
// says what it breaks, has a Symptom that compiles and matches its
// catcher's message (and not a bare timeout), and installs on a model with
// the extensions.
func TestProfilesWellFormed(t *testing.T) {
	kebab := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	for _, c := range mine() {
		t.Run(c.profile, func(t *testing.T) {
			p, ok := defects.Lookup(c.profile)
			if !ok {
				t.Fatalf("no profile %s", c.profile)
			}
			if !kebab.MatchString(p.Name) {
				t.Errorf("name %q is not kebab-case", p.Name)
			}
			if len(strings.TrimSpace(p.Breaks)) < 40 || !strings.Contains(p.Breaks, "reference") {
				t.Errorf("Breaks does not cite the documented behaviour: %q", p.Breaks)
			}
			if _, err := regexp.Compile("(?is)" + p.Symptom); err != nil {
				t.Fatalf("Symptom %q: %v", p.Symptom, err)
			}
			if !p.Matches(c.sample) {
				t.Errorf("Symptom %q does not match the catcher's message %q", p.Symptom, c.sample)
			}
			if p.Matches("timed out after 2m0s waiting for pod ns/app to be Running; last state: phase Pending") {
				t.Errorf("Symptom %q matches a bare timeout", p.Symptom)
			}

			m := simulator.VPX()
			if err := m.Create(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(m.Remove)
			m.Service.RegisterSDK(cnssim.New())
			if err := vcext.Install(m); err != nil {
				t.Fatal(err)
			}
			if err := defects.Install(m, c.profile); err != nil {
				t.Fatalf("Install: %v", err)
			}
		})
	}
	if len(mine()) != 17 {
		t.Errorf("%d cases, want one per profile of block.go and attach.go (17)", len(mine()))
	}
}

// encryption is the built-in VM Encryption Policy's ID.
const encryption = pbmsim.DefaultEncryptionProfileID
