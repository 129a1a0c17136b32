package vcenter

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/url"

	"github.com/vmware/govmomi/crypto"
	"github.com/vmware/govmomi/pbm"
	pbmtypes "github.com/vmware/govmomi/pbm/types"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vapi/rest"
	"github.com/vmware/govmomi/vapi/tags"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	vim "github.com/vmware/govmomi/vim25/types"

	"github.com/vsphere-conformance/vsphere-conformance/sim/vcext"
)

// encryptionDataService is the capability id of vCenter's default VM
// encryption data service (the rule of its built-in "VM Encryption Policy").
const encryptionDataService = "ad5a249d-cbc2-43af-9366-694d7664fa52"

// provision creates tags, storage policies and the KMS provider through the
// same public APIs a client would use, logged in as the server's user.
func provision(ctx context.Context, s *Server, m *Model, inv *inventory) error {
	sc := soap.NewClient(s.URL(), false)
	pool := x509.NewCertPool()
	pool.AddCert(s.cert)
	sc.DefaultTransport().TLSClientConfig.RootCAs = pool
	vc, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return err
	}
	sm := session.NewManager(vc)
	if err := sm.Login(ctx, s.user); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	defer func() { _ = sm.Logout(context.WithoutCancel(ctx)) }()

	if err := createTags(ctx, vc, s.user, m, inv); err != nil {
		return fmt.Errorf("tags: %w", err)
	}
	if err := createPolicies(ctx, vc, m); err != nil {
		return fmt.Errorf("storage policies: %w", err)
	}
	if err := registerKMS(ctx, vc, m.KMS); err != nil {
		return fmt.Errorf("kms: %w", err)
	}
	return nil
}

// createTags uses the vAPI CIS tagging service (vSphere Automation API:
// com.vmware.cis.tagging Category, Tag, TagAssociation).
func createTags(ctx context.Context, vc *vim25.Client, user *url.Userinfo, m *Model, inv *inventory) error {
	if len(m.TagCategories) == 0 {
		return nil
	}
	rc := rest.NewClient(vc)
	if err := rc.Login(ctx, user); err != nil {
		return fmt.Errorf("vAPI login: %w", err)
	}
	defer func() { _ = rc.Logout(context.WithoutCancel(ctx)) }()
	tm := tags.NewManager(rc)

	catIDs := map[string]string{}
	for _, c := range m.TagCategories {
		id, err := tm.CreateCategory(ctx, &tags.Category{
			Name:            c.Name,
			Description:     c.Description,
			Cardinality:     c.Cardinality,
			AssociableTypes: c.AssociableTypes,
		})
		if err != nil {
			return fmt.Errorf("category %q: %w", c.Name, err)
		}
		catIDs[c.Name] = id
	}
	tagIDs := map[TagRef]string{}
	for _, t := range m.Tags {
		id, err := tm.CreateTag(ctx, &tags.Tag{Name: t.Name, Description: t.Description, CategoryID: catIDs[t.Category]})
		if err != nil {
			return fmt.Errorf("tag %q: %w", t.Name, err)
		}
		tagIDs[TagRef{Category: t.Category, Tag: t.Name}] = id
	}
	attach := func(refs []TagRef, obj vim.ManagedObjectReference) error {
		for _, r := range refs {
			if err := tm.AttachTag(ctx, tagIDs[r], obj); err != nil {
				return fmt.Errorf("attach %s/%s to %s: %w", r.Category, r.Tag, obj, err)
			}
		}
		return nil
	}
	for _, dc := range m.Datacenters {
		if err := attach(dc.Tags, inv.datacenters[dc.Name]); err != nil {
			return err
		}
		for i := range dc.Clusters {
			c := &dc.Clusters[i]
			key := [2]string{dc.Name, c.Name}
			if err := attach(c.Tags, inv.clusters[key]); err != nil {
				return err
			}
			for hk, refs := range c.HostTags {
				idx, _ := hostIndex(c, hk)
				if err := attach(refs, inv.hosts[key][idx]); err != nil {
					return err
				}
			}
		}
		for _, ds := range dc.Datastores {
			if err := attach(ds.Tags, inv.datastores[[2]string{dc.Name, ds.Name}]); err != nil {
				return err
			}
		}
	}
	return nil
}

// createPolicies uses PBM (vSphere Storage Policy API,
// PbmProfileProfileManager.PbmCreate) to make REQUIREMENT storage profiles.
// A policy without rules places on any datastore; an encryption policy
// carries the VM encryption data service rule; tags become tag-based
// placement rules.
func createPolicies(ctx context.Context, vc *vim25.Client, m *Model) error {
	if len(m.StoragePolicies) == 0 {
		return nil
	}
	pc, err := pbm.NewClient(ctx, vc)
	if err != nil {
		return err
	}
	for _, p := range m.StoragePolicies {
		constraints := &pbmtypes.PbmCapabilitySubProfileConstraints{}
		if p.Encryption {
			id := pbmtypes.PbmCapabilityMetadataUniqueId{
				Namespace: "com.vmware.storageprofile.dataservice",
				Id:        encryptionDataService,
			}
			constraints.SubProfiles = []pbmtypes.PbmCapabilitySubProfile{{
				Name: "Host based services",
				Capability: []pbmtypes.PbmCapabilityInstance{{
					Id: id,
					Constraint: []pbmtypes.PbmCapabilityConstraintInstance{{
						PropertyInstance: []pbmtypes.PbmCapabilityPropertyInstance{{
							Id:    encryptionDataService,
							Value: encryptionDataService,
						}},
					}},
				}},
			}}
		}
		if rules := tagRules(p.Tags); len(rules) > 0 {
			constraints.SubProfiles = append(constraints.SubProfiles, pbmtypes.PbmCapabilitySubProfile{
				Name:       "Tag based placement",
				Capability: rules,
			})
		}
		_, err := pc.CreateProfile(ctx, pbmtypes.PbmCapabilityProfileCreateSpec{
			Name:        p.Name,
			Description: p.Description,
			Category:    string(pbmtypes.PbmProfileCategoryEnumREQUIREMENT),
			ResourceType: pbmtypes.PbmProfileResourceType{
				ResourceType: string(pbmtypes.PbmProfileResourceTypeEnumSTORAGE),
			},
			Constraints: constraints,
		})
		if err != nil {
			return fmt.Errorf("%q: %w", p.Name, err)
		}
	}
	return nil
}

// registerKMS registers a KMIP server under the provider id and, if asked,
// makes it the default key provider (vSphere Web Services API,
// CryptoManagerKmip.RegisterKmipServer, MarkDefault). The server address is
// plain data: nothing connects to it.
func registerKMS(ctx context.Context, vc *vim25.Client, k *KMS) error {
	if k == nil {
		return nil
	}
	km, err := crypto.GetManagerKmip(vc)
	if err != nil {
		return err
	}
	err = km.RegisterKmipServer(ctx, vim.KmipServerSpec{
		ClusterId: vim.KeyProviderId{Id: k.ProviderID},
		Info: vim.KmipServerInfo{
			Name:    k.ProviderID + "-kmip-0",
			Address: "kms.invalid", // RFC 6761: never resolves
			Port:    5696,          // KMIP's registered port
		},
	})
	if err != nil {
		return err
	}
	if k.Default {
		return km.MarkDefault(ctx, k.ProviderID)
	}
	return nil
}

// tagRules are a policy's tag-based placement rules, one per category, in
// the form vCenter's policy editor writes them (and govc storage.policy.create
// -category -tag): capability namespace http://www.vmware.com/storage/tag, id
// the category name, one property com.vmware.storage.tag.CATEGORY.property
// holding the set of tag names a datastore may carry.
func tagRules(refs []TagRef) []pbmtypes.PbmCapabilityInstance {
	var order []string
	byCategory := map[string][]vim.AnyType{}
	for _, r := range refs {
		if _, ok := byCategory[r.Category]; !ok {
			order = append(order, r.Category)
		}
		byCategory[r.Category] = append(byCategory[r.Category], r.Tag)
	}
	var rules []pbmtypes.PbmCapabilityInstance
	for _, c := range order {
		rules = append(rules, pbmtypes.PbmCapabilityInstance{
			Id: pbmtypes.PbmCapabilityMetadataUniqueId{Namespace: vcext.TagRuleNamespace, Id: c},
			Constraint: []pbmtypes.PbmCapabilityConstraintInstance{{
				PropertyInstance: []pbmtypes.PbmCapabilityPropertyInstance{{
					Id:    vcext.TagRuleProperty(c),
					Value: pbmtypes.PbmCapabilityDiscreteSet{Values: byCategory[c]},
				}},
			}},
		})
	}
	return rules
}
