package vcext

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/pbm"
	pbmmethods "github.com/vmware/govmomi/pbm/methods"
	pbmtypes "github.com/vmware/govmomi/pbm/types"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Tag-based placement rules, in the form vCenter's policy editor writes them
// (vSphere Storage, "Create a Storage Policy for Tag-Based Placement"): a
// capability of namespace TagRuleNamespace whose id is the tag category,
// with one property TagRuleProperty(category) holding the tag names.
const TagRuleNamespace = "http://www.vmware.com/storage/tag"

// TagRuleProperty is the property id of a tag rule for category.
func TagRuleProperty(category string) string {
	return "com.vmware.storage.tag." + category + ".property"
}

// Tag is a vAPI tag attached to a datastore, as SPBM sees it.
type Tag struct{ Category, Name string }

// TagLookup answers which tags a datastore carries.
type TagLookup func(ds types.ManagedObjectReference) []Tag

// datastoreTags maps a model's vim25 registry to what SPBM knows of its
// datastores' tags. SPBM reads them from the vAPI tagging service; vcsim's
// tagging state is private to its vAPI handler, so the server that attaches
// the tags also tells SPBM here.
var datastoreTags sync.Map // *simulator.Registry -> TagLookup

// SetDatastoreTags makes lookup the source of datastore tags for SPBM's
// placement and compliance on model m.
func SetDatastoreTags(m *simulator.Model, lookup TagLookup) error {
	if m == nil || m.Service == nil {
		return fmt.Errorf("vcext: SetDatastoreTags needs a created model")
	}
	datastoreTags.Store(m.Map(), lookup)
	return nil
}

// DatastoreTags is the lookup SetDatastoreTags installed (nil: none).
func DatastoreTags(m *simulator.Model) TagLookup {
	v, ok := datastoreTags.Load(m.Map())
	if !ok {
		return nil
	}
	return v.(TagLookup)
}

// tagRule is one category of a policy's tag-based placement: a datastore
// satisfies it when it carries one of the tags.
type tagRule struct {
	category string
	tags     []string
}

// placementRules are the tag rules of the storage profile id; ok is false
// when PBM has no such profile.
func placementRules(ctx *simulator.Context, id string) (rules []tagRule, ok bool) {
	prof, ok := retrieveProfile(ctx, id)
	if !ok {
		return nil, false
	}
	cp, isCap := prof.(*pbmtypes.PbmCapabilityProfile)
	if !isCap {
		return nil, true
	}
	sub, isSub := cp.Constraints.(*pbmtypes.PbmCapabilitySubProfileConstraints)
	if !isSub {
		return nil, true
	}
	for _, s := range sub.SubProfiles {
		for _, c := range s.Capability {
			if c.Id.Namespace != TagRuleNamespace {
				continue
			}
			r := tagRule{category: c.Id.Id}
			for _, ci := range c.Constraint {
				for _, p := range ci.PropertyInstance {
					r.tags = append(r.tags, propertyStrings(p.Value)...)
				}
			}
			rules = append(rules, r)
		}
	}
	return rules, true
}

// propertyStrings reads a rule property's value: a discrete set of tag
// names, or one name.
func propertyStrings(v types.AnyType) []string {
	switch v := v.(type) {
	case pbmtypes.PbmCapabilityDiscreteSet:
		return anyStrings(v.Values)
	case *pbmtypes.PbmCapabilityDiscreteSet:
		return anyStrings(v.Values)
	case string:
		return []string{v}
	}
	return nil
}

func anyStrings(vs []types.AnyType) []string {
	var out []string
	for _, v := range vs {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// unmetRules says which rules datastore ds fails ("" when it satisfies
// all of them).
func unmetRules(ctx *simulator.Context, rules []tagRule, ds types.ManagedObjectReference) string {
	if len(rules) == 0 {
		return ""
	}
	vctx := ctx.For(vim25.Path)
	var carried []Tag
	if v, ok := datastoreTags.Load(vctx.Map); ok {
		carried = v.(TagLookup)(ds)
	}
	var unmet []string
	for _, r := range rules {
		if !slices.ContainsFunc(carried, func(t Tag) bool { return t.Category == r.category && slices.Contains(r.tags, t.Name) }) {
			unmet = append(unmet, fmt.Sprintf("none of the tags %v of category %q", r.tags, r.category))
		}
	}
	if len(unmet) == 0 {
		return ""
	}
	name := ds.Value
	if obj, ok := vctx.Map.Get(ds).(*simulator.Datastore); ok {
		name = obj.Name
	}
	return fmt.Sprintf("datastore %s carries %s", name, strings.Join(unmet, " and "))
}

// installPlacementSolver makes PBM's placement answers follow the profile's
// tag rules. vSphere Storage Policy API, PbmPlacementSolver.
// PbmCheckCompatibility and PbmCheckRequirements: a hub is compatible when
// it satisfies the profile's requirements, and an incompatible hub's result
// carries the error; vcsim's solver calls every datastore compatible.
func installPlacementSolver(r *simulator.Registry) {
	overrideCalls(r, func(ctx *simulator.Context, m *simulator.Method) mo.Reference {
		if m.This.Type != "PbmPlacementSolver" || (m.Name != "PbmCheckCompatibility" && m.Name != "PbmCheckRequirements") {
			return nil
		}
		return &placementSolver{ref: m.This}
	})
}

type placementSolver struct{ ref types.ManagedObjectReference }

func (s *placementSolver) Reference() types.ManagedObjectReference { return s.ref }

func (s *placementSolver) PbmCheckCompatibility(ctx *simulator.Context, req *pbmtypes.PbmCheckCompatibility) soap.HasFault {
	results, fault := place(ctx, req.HubsToSearch, req.Profile.UniqueId)
	if fault != nil {
		return &pbmmethods.PbmCheckCompatibilityBody{Fault_: simulator.Fault("", fault)}
	}
	return &pbmmethods.PbmCheckCompatibilityBody{Res: &pbmtypes.PbmCheckCompatibilityResponse{Returnval: results}}
}

func (s *placementSolver) PbmCheckRequirements(ctx *simulator.Context, req *pbmtypes.PbmCheckRequirements) soap.HasFault {
	var id string
	for _, r := range req.PlacementSubjectRequirement {
		if p, ok := r.(*pbmtypes.PbmPlacementCapabilityProfileRequirement); ok {
			id = p.ProfileId.UniqueId
		}
	}
	results, fault := place(ctx, req.HubsToSearch, id)
	if fault != nil {
		return &pbmmethods.PbmCheckRequirementsBody{Fault_: simulator.Fault("", fault)}
	}
	return &pbmmethods.PbmCheckRequirementsBody{Res: &pbmtypes.PbmCheckRequirementsResponse{Returnval: results}}
}

// place answers a placement query: every hub (every datastore when none is
// named) with the rules of profile id it fails as its error.
func place(ctx *simulator.Context, hubs []pbmtypes.PbmPlacementHub, id string) ([]pbmtypes.PbmPlacementCompatibilityResult, types.BaseMethodFault) {
	var rules []tagRule
	if id != "" {
		var ok bool
		if rules, ok = placementRules(ctx, id); !ok {
			return nil, &types.InvalidArgument{InvalidProperty: "profile"}
		}
	}
	if len(hubs) == 0 {
		for _, ds := range ctx.For(vim25.Path).Map.All("Datastore") {
			hubs = append(hubs, pbmtypes.PbmPlacementHub{HubType: "Datastore", HubId: ds.Reference().Value})
		}
	}
	var results []pbmtypes.PbmPlacementCompatibilityResult
	for _, h := range hubs {
		res := pbmtypes.PbmPlacementCompatibilityResult{Hub: h}
		if h.HubType == "Datastore" {
			if msg := unmetRules(ctx, rules, types.ManagedObjectReference{Type: h.HubType, Value: h.HubId}); msg != "" {
				res.Error = []types.LocalizedMethodFault{{
					Fault:            &pbmtypes.PbmCompatibilityCheckFault{Hub: h},
					LocalizedMessage: msg,
				}}
			}
		}
		results = append(results, res)
	}
	return results, nil
}

// compatibleDatastores keeps, in order, the datastores of a block create
// that satisfy its storage policy's tag rules. vSphere CNS API reference,
// CnsVolumeCreateSpec.datastores: "Datastores to be considered for volume
// placement"; CNS places the volume on one that is compatible with the
// spec's profile, and fails the create when none is.
func compatibleDatastores(ctx *simulator.Context, spec cnstypes.CnsVolumeCreateSpec) ([]types.ManagedObjectReference, string) {
	var rules []tagRule
	for _, p := range spec.Profile {
		if d, ok := p.(*types.VirtualMachineDefinedProfileSpec); ok && d.ProfileId != "" {
			r, _ := placementRules(ctx, d.ProfileId)
			rules = append(rules, r...)
		}
	}
	if len(rules) == 0 {
		return spec.Datastores, ""
	}
	var ok []types.ManagedObjectReference
	var why []string
	for _, ds := range spec.Datastores {
		if msg := unmetRules(ctx, rules, ds); msg != "" {
			why = append(why, msg)
			continue
		}
		ok = append(ok, ds)
	}
	return ok, strings.Join(why, "; ")
}

// placeByPolicy narrows each new block volume's datastores to those its
// policy allows; the fault refuses the create when a spec has none left.
func placeByPolicy(ctx *simulator.Context, req *cnstypes.CnsCreateVolume) *types.LocalizedMethodFault {
	for i := range req.CreateSpecs {
		spec := &req.CreateSpecs[i]
		if !isBlockCreate(*spec) {
			continue
		}
		ok, why := compatibleDatastores(ctx, *spec)
		if len(ok) == 0 && len(spec.Datastores) > 0 {
			return cnsFault("no compatible datastore found for the volume's storage policy: %s", why)
		}
		spec.Datastores = ok
	}
	return nil
}

// complianceStatus is a block volume's compliance with its policy
// (CnsVolume.complianceStatus): nonCompliant when its datastore fails the
// policy's tag rules, as vCenter's periodic compliance check reports it.
func complianceStatus(ctx *simulator.Context, v *cnstypes.CnsVolume) string {
	if v.StoragePolicyId == "" || v.DatastoreUrl == "" {
		return v.ComplianceStatus
	}
	rules, ok := placementRules(ctx, v.StoragePolicyId)
	if !ok || len(rules) == 0 {
		return v.ComplianceStatus
	}
	for _, obj := range ctx.For(vim25.Path).Map.All("Datastore") {
		ds, isDS := obj.(*simulator.Datastore)
		if !isDS || ds.Info.GetDatastoreInfo().Url != v.DatastoreUrl {
			continue
		}
		if unmetRules(ctx, rules, ds.Self) != "" {
			return string(pbmtypes.PbmComplianceStatusNonCompliant)
		}
		return string(pbmtypes.PbmComplianceStatusCompliant)
	}
	return v.ComplianceStatus
}

// retrieveProfile is PBM's profile id (vSphere Storage Policy API,
// PbmProfileProfileManager.PbmRetrieveContent).
func retrieveProfile(ctx *simulator.Context, id string) (pbmtypes.BasePbmProfile, bool) {
	r := ctx.For(pbm.Path).Map
	if r == nil {
		return nil, false
	}
	pm, ok := r.Get(*pbmProfileManager(r)).(profileRetriever)
	if !ok {
		return nil, false
	}
	body, ok := pm.PbmRetrieveContent(&pbmtypes.PbmRetrieveContent{
		This:       *pbmProfileManager(r),
		ProfileIds: []pbmtypes.PbmProfileId{{UniqueId: id}},
	}).(*pbmmethods.PbmRetrieveContentBody)
	if !ok || body.Res == nil || len(body.Res.Returnval) == 0 {
		return nil, false
	}
	return body.Res.Returnval[0], true
}

type profileRetriever interface {
	PbmRetrieveContent(*pbmtypes.PbmRetrieveContent) soap.HasFault
}
