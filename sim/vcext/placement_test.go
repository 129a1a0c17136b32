package vcext

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/cns"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/pbm"
	pbmmethods "github.com/vmware/govmomi/pbm/methods"
	pbmtypes "github.com/vmware/govmomi/pbm/types"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// placementEnv is a simulator with two datastores, the second tagged
// tier/silver, and a policy that requires that tag.
type placementEnv struct {
	*cnsEnv
	model          *simulator.Model
	pbm            *pbm.Client
	plain, tagged  types.ManagedObjectReference
	silver         string
	taggedURL      string
	untaggedSilver bool // the lookup forgets the tag (for compliance)
}

func newPlacementEnv(t *testing.T) *placementEnv {
	model, s := startSimWith(t, true, func(m *simulator.Model) { m.Datastore = 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	c := login(t, ctx, s)
	cc, err := cns.NewClient(ctx, c.Client)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := pbm.NewClient(ctx, c.Client)
	if err != nil {
		t.Fatal(err)
	}
	e := &placementEnv{cnsEnv: &cnsEnv{t: t, ctx: ctx, c: c, cns: cc}, model: model, pbm: pc}
	dss := model.Map().All("Datastore")
	if len(dss) != 2 {
		t.Fatalf("model has %d datastores, want 2", len(dss))
	}
	e.plain, e.tagged = dss[0].Reference(), dss[1].Reference()
	e.taggedURL = dss[1].(*simulator.Datastore).Info.GetDatastoreInfo().Url
	if err := SetDatastoreTags(model, func(ds types.ManagedObjectReference) []Tag {
		if ds == e.tagged && !e.untaggedSilver {
			return []Tag{{Category: "tier", Name: "silver"}, {Category: "other", Name: "x"}}
		}
		return []Tag{{Category: "tier", Name: "bronze"}}
	}); err != nil {
		t.Fatal(err)
	}
	id, err := pc.CreateProfile(ctx, pbmtypes.PbmCapabilityProfileCreateSpec{
		Name:         "silver",
		Category:     string(pbmtypes.PbmProfileCategoryEnumREQUIREMENT),
		ResourceType: pbmtypes.PbmProfileResourceType{ResourceType: string(pbmtypes.PbmProfileResourceTypeEnumSTORAGE)},
		Constraints: &pbmtypes.PbmCapabilitySubProfileConstraints{SubProfiles: []pbmtypes.PbmCapabilitySubProfile{{
			Name: "Tag based placement",
			Capability: []pbmtypes.PbmCapabilityInstance{{
				Id: pbmtypes.PbmCapabilityMetadataUniqueId{Namespace: TagRuleNamespace, Id: "tier"},
				Constraint: []pbmtypes.PbmCapabilityConstraintInstance{{PropertyInstance: []pbmtypes.PbmCapabilityPropertyInstance{{
					Id:    TagRuleProperty("tier"),
					Value: pbmtypes.PbmCapabilityDiscreteSet{Values: []types.AnyType{"silver", "gold"}},
				}}}},
			}},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.silver = id.UniqueId
	return e
}

func (e *placementEnv) create(name, policy string, dss ...types.ManagedObjectReference) cnstypes.BaseCnsVolumeOperationResult {
	e.t.Helper()
	return e.result(e.cns.CreateVolume(e.ctx, []cnstypes.CnsVolumeCreateSpec{{
		Name:       name,
		VolumeType: string(cnstypes.CnsVolumeTypeBlock),
		Datastores: dss,
		BackingObjectDetails: &cnstypes.CnsBlockBackingDetails{
			CnsBackingObjectDetails: cnstypes.CnsBackingObjectDetails{CapacityInMb: 16},
		},
		Profile: []types.BaseVirtualMachineProfileSpec{&types.VirtualMachineDefinedProfileSpec{ProfileId: policy}},
	}}))
}

func (e *placementEnv) query(id string) cnstypes.CnsVolume {
	e.t.Helper()
	res, err := e.cns.QueryVolume(e.ctx, &cnstypes.CnsQueryFilter{VolumeIds: []cnstypes.CnsVolumeId{{Id: id}}})
	if err != nil || len(res.Volumes) != 1 {
		e.t.Fatalf("query volume %s: %v (%d volumes)", id, err, len(res.Volumes))
	}
	return res.Volumes[0]
}

// checkCompatibility is PbmCheckCompatibility as the CSI driver calls it.
func (e *placementEnv) checkCompatibility(hubs []pbmtypes.PbmPlacementHub, policy string) ([]pbmtypes.PbmPlacementCompatibilityResult, error) {
	res, err := pbmmethods.PbmCheckCompatibility(e.ctx, e.pbm, &pbmtypes.PbmCheckCompatibility{
		This:         e.pbm.ServiceContent.PlacementSolver,
		HubsToSearch: hubs,
		Profile:      pbmtypes.PbmProfileId{UniqueId: policy},
	})
	if err != nil {
		return nil, err
	}
	return res.Returnval, nil
}

func hubIDs(hubs []pbmtypes.PbmPlacementHub) []string {
	var ids []string
	for _, h := range hubs {
		ids = append(ids, h.HubId)
	}
	return ids
}

func TestPlacementFollowsTagRules(t *testing.T) {
	e := newPlacementEnv(t)
	hubs := []pbmtypes.PbmPlacementHub{{HubType: "Datastore", HubId: e.plain.Value}, {HubType: "Datastore", HubId: e.tagged.Value}}

	t.Run("PbmCheckCompatibility", func(t *testing.T) {
		res, err := e.checkCompatibility(hubs, e.silver)
		if err != nil {
			t.Fatal(err)
		}
		l := pbm.PlacementCompatibilityResult(res)
		if got := hubIDs(l.CompatibleDatastores()); len(got) != 1 || got[0] != e.tagged.Value {
			t.Errorf("compatible = %v, want [%s]", got, e.tagged.Value)
		}
		for _, r := range l {
			if r.Hub.HubId == e.plain.Value && (len(r.Error) == 0 || !strings.Contains(r.Error[0].LocalizedMessage, `none of the tags [silver gold] of category "tier"`)) {
				t.Errorf("untagged datastore's error = %+v", r.Error)
			}
		}
	})
	t.Run("PbmCheckRequirements over every datastore", func(t *testing.T) {
		res, err := e.pbm.CheckRequirements(e.ctx, nil, nil, []pbmtypes.BasePbmPlacementRequirement{
			&pbmtypes.PbmPlacementCapabilityProfileRequirement{ProfileId: pbmtypes.PbmProfileId{UniqueId: e.silver}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := hubIDs(pbm.PlacementCompatibilityResult(res).CompatibleDatastores()); len(got) != 1 || got[0] != e.tagged.Value {
			t.Errorf("compatible = %v, want [%s]", got, e.tagged.Value)
		}
	})
	t.Run("a policy without tag rules allows every datastore", func(t *testing.T) {
		res, err := e.checkCompatibility(hubs, vsanDefaultPolicy)
		if err != nil {
			t.Fatal(err)
		}
		if got := pbm.PlacementCompatibilityResult(res).CompatibleDatastores(); len(got) != 2 {
			t.Errorf("compatible = %v, want both", hubIDs(got))
		}
	})
	t.Run("an unknown policy is refused", func(t *testing.T) {
		if _, err := e.checkCompatibility(hubs, "no-such-policy"); err == nil {
			t.Error("CheckCompatibility with an unknown profile succeeded")
		}
	})

	t.Run("CNS places on the datastore the policy allows and reports it compliant", func(t *testing.T) {
		id := e.ok(e.create("silver-vol", e.silver, e.plain, e.tagged)).GetCnsVolumeOperationResult().VolumeId.Id
		v := e.query(id)
		if v.DatastoreUrl != e.taggedURL {
			t.Errorf("volume on %s, want %s (the tagged datastore)", v.DatastoreUrl, e.taggedURL)
		}
		if v.ComplianceStatus != string(pbmtypes.PbmComplianceStatusCompliant) {
			t.Errorf("complianceStatus = %q, want compliant", v.ComplianceStatus)
		}
		e.untaggedSilver = true
		defer func() { e.untaggedSilver = false }()
		if got := e.query(id).ComplianceStatus; got != string(pbmtypes.PbmComplianceStatusNonCompliant) {
			t.Errorf("after the datastore lost its tag: complianceStatus = %q, want nonCompliant", got)
		}
	})
	t.Run("CNS refuses a create none of whose datastores the policy allows", func(t *testing.T) {
		res := e.create("nowhere", e.silver, e.plain)
		f := res.GetCnsVolumeOperationResult().Fault
		if f == nil || !strings.Contains(f.LocalizedMessage, "no compatible datastore found") {
			t.Fatalf("fault = %+v, want no compatible datastore", f)
		}
		all, err := e.cns.QueryVolume(e.ctx, &cnstypes.CnsQueryFilter{Names: []string{"nowhere"}})
		if err != nil || len(all.Volumes) != 0 {
			t.Errorf("refused create left %d volumes (%v)", len(all.Volumes), err)
		}
	})
	t.Run("a policy without rules keeps CNS's first datastore", func(t *testing.T) {
		id := e.ok(e.create("plain-vol", vsanDefaultPolicy, e.plain, e.tagged)).GetCnsVolumeOperationResult().VolumeId.Id
		if v := e.query(id); v.DatastoreUrl == e.taggedURL {
			t.Errorf("a policy without rules moved the volume to the tagged datastore")
		}
	})
}
