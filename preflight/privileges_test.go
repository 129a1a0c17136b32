package preflight

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

func ents(kind string, n int) []entity {
	var out []entity
	for i := range n {
		out = append(out, entity{types.ManagedObjectReference{Type: kind, Value: fmt.Sprintf("%s-%d", kind, i)}, fmt.Sprintf("%s%d", kind, i)})
	}
	return out
}

// answer grants every privilege of r on every entity except those in deny
// ("entity name/privilege"), and leaves out the entities in omit.
func answer(r privilegeRequest, deny map[string]bool, omit ...string) privilegeAnswer {
	a := privilegeAnswer{Request: r}
	for _, e := range r.Entities {
		if strings.Contains(strings.Join(omit, ","), e.Name) {
			continue
		}
		ep := types.EntityPrivilege{Entity: e.Ref}
		for _, p := range r.Role.checked() {
			ep.PrivAvailability = append(ep.PrivAvailability, types.PrivilegeAvailability{PrivId: p, IsGranted: !deny[e.Name+"/"+p]})
		}
		a.Answers = append(a.Answers, ep)
	}
	return a
}

func denyAll(es []entity, priv string) map[string]bool {
	m := map[string]bool{}
	for _, e := range es {
		m[e.Name+"/"+priv] = true
	}
	return m
}

func TestEvaluatePrivileges(t *testing.T) {
	vms := privilegeRequest{Kind: "node VM", Role: roleCNSVM, Why: "attach", Entities: ents("VirtualMachine", 5)}
	dc := privilegeRequest{Kind: "datacenter", Role: roleReadOnly, Why: "read", Entities: ents("Datacenter", 1)}
	shared := privilegeRequest{Kind: "shared datastore", Role: roleCNSDatastore, SkipsWithout: true, Why: "place", Entities: ents("Datastore", 2)}
	named := privilegeRequest{Kind: "datastore", Role: roleCNSDatastore, Why: "named", Entities: ents("Datastore", 2)}
	root := privilegeRequest{Kind: "vCenter", Role: roleCNSSearchAndSPBM, Why: "search", Entities: ents("Folder", 1)}

	type want struct {
		id     string
		object string
		text   []string
	}
	cases := []struct {
		name    string
		answers []privilegeAnswer
		want    []want
	}{
		{"all granted", []privilegeAnswer{answer(vms, nil), answer(dc, nil), answer(shared, nil), answer(root, nil)}, nil},
		{
			"one privilege missing on five VMs: one grouped finding",
			[]privilegeAnswer{answer(vms, denyAll(vms.Entities, "VirtualMachine.Config.AddRemoveDevice"))},
			[]want{{"PF010", "node VM VirtualMachine0, VirtualMachine1, VirtualMachine2 and 2 more",
				[]string{`user "csi@vsphere.local"`, "VirtualMachine.Config.AddRemoveDevice", "role CNS-VM", "5 of 5 node VMs"}}},
		},
		{
			"two privileges missing: one finding each",
			[]privilegeAnswer{answer(root, map[string]bool{"Folder0/Cns.Searchable": true, "Folder0/StorageProfile.View": true})},
			[]want{
				{"PF010", "vCenter Folder0", []string{"Cns.Searchable", "role CNS-SEARCH-AND-SPBM", "on vCenter Folder0"}},
				{"PF010", "vCenter Folder0", []string{"StorageProfile.View"}},
			},
		},
		{
			"no role on the datacenter",
			[]privilegeAnswer{answer(dc, map[string]bool{"Datacenter0/System.Read": true})},
			[]want{{"PF010", "datacenter Datacenter0", []string{"System.Read", "role ReadOnly"}}},
		},
		{
			"FileManagement on some shared datastores: the driver skips the rest",
			[]privilegeAnswer{answer(shared, map[string]bool{"Datastore1/Datastore.FileManagement": true})},
			[]want{{"PF011", "shared datastore Datastore1", []string{"1 of 2 shared datastores", "Datastore.FileManagement"}}},
		},
		{
			"FileManagement on no shared datastore",
			[]privilegeAnswer{answer(shared, denyAll(shared.Entities, "Datastore.FileManagement"))},
			[]want{{"PF010", "shared datastore Datastore0, Datastore1", []string{"2 of 2 shared datastores"}}},
		},
		{
			"FileManagement missing on a datastore a StorageClass names",
			[]privilegeAnswer{answer(named, map[string]bool{"Datastore0/Datastore.FileManagement": true})},
			[]want{{"PF010", "datastore Datastore0", []string{"1 of 2 datastores"}}},
		},
		{
			"an entity the answer leaves out counts as not granted",
			[]privilegeAnswer{answer(dc, nil, "Datacenter0")},
			[]want{{"PF010", "datacenter Datacenter0", []string{"System.Read"}}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := evaluatePrivileges("csi@vsphere.local", c.answers)
			if len(got) != len(c.want) {
				t.Fatalf("got %d findings, want %d: %v", len(got), len(c.want), got)
			}
			for i, w := range c.want {
				f := got[i]
				if f.ID != w.id || f.Object != w.object {
					t.Errorf("finding %d = %s %q, want %s %q", i, f.ID, f.Object, w.id, w.object)
				}
				for _, s := range w.text {
					if !strings.Contains(f.Message, s) {
						t.Errorf("finding %d does not mention %q:\n%s", i, s, f)
					}
				}
			}
		})
	}
}

// TestPrivilegeRequestsOnVcsim: the privilege check asks about every kind
// of object the documentation names; vcsim grants them all.
func TestPrivilegeRequestsOnVcsim(t *testing.T) {
	model := simulator.VPX()
	supportedAbout(&model.ServiceContent.About)
	simulator.Test(func(ctx context.Context, c *vim25.Client) {
		s := newSim(t, ctx, c)
		s.tg.Config.Capabilities.FileVolumes = true
		e := &env{t: s.tg, cfg: s.tg.Config}
		reqs, notRun := privilegeRequests(ctx, e)
		if len(notRun) != 0 {
			t.Fatalf("not run: %v", notRun)
		}
		got := map[string]int{}
		for _, r := range reqs {
			got[r.Kind+"/"+r.Role.Name] = len(r.Entities)
		}
		want := map[string]int{
			"vCenter/CNS-SEARCH-AND-SPBM":     1,
			"datacenter/ReadOnly":             1,
			"node VM/CNS-VM":                  2,
			"host/ReadOnly":                   2, // DC0_H0 and one host of DC0_C0
			"cluster/ReadOnly":                1,
			"cluster/CNS-HOST-CONFIG-STORAGE": 1,
			"datastore/CNS-DATASTORE":         1, // LocalDS_0, named by StorageClass gold
			"shared datastore/CNS-DATASTORE":  0,
		}
		for k, n := range want {
			if got[k] != n {
				t.Errorf("%s: %d entities, want %d (all: %v)", k, got[k], n, got)
			}
		}
		if fs := checkPrivileges(ctx, e); len(fs) != 0 {
			t.Errorf("vcsim grants every privilege, got %v", fs)
		}
	})
}

func TestListNames(t *testing.T) {
	for n, want := range map[int]string{0: "", 1: "a", 3: "a, b, c", 4: "a, b, c and 1 more", 6: "a, b, c and 3 more"} {
		if got := listNames([]string{"a", "b", "c", "d", "e", "f"}[:n]); got != want {
			t.Errorf("listNames(%d) = %q, want %q", n, got, want)
		}
	}
}
