package preflight

import (
	"context"
	"fmt"

	pbmtypes "github.com/vmware/govmomi/pbm/types"
)

// checkStoragePolicies: the storage policy each vSphere CSI StorageClass
// names (parameter storagepolicyname), and each policy of the config's
// storage.policies, exists in vCenter's policy service (PBM), by its exact
// name as the driver looks it up.
//
// Documentation: "vSphere CSI Driver - Block Volume", section "Dynamically
// Provision a Block Volume on Vanilla Kubernetes Cluster" (StorageClass
// parameters storagepolicyname and datastoreurl),
// https://github.com/kubernetes-sigs/vsphere-csi-driver/blob/master/docs/book/features/block_volume.md;
// the driver v3.3.1 reads the parameter as AttributeStoragePolicyName =
// "storagepolicyname" (pkg/csi/service/common/constants.go).
func checkStoragePolicies(ctx context.Context, e *env) []Finding {
	const what = "storage policies"
	type want struct{ object, policy string }
	var wants []want
	var out []Finding
	classes, err := e.storageClasses(ctx)
	if err != nil {
		out = append(out, notRun(what, "StorageClasses", err))
	}
	for _, sc := range classes {
		if p, ok := scParam(sc, "storagepolicyname"); ok {
			wants = append(wants, want{"StorageClass " + sc.Name, p})
		}
	}
	for i, p := range e.cfg.Storage.Policies {
		wants = append(wants, want{fmt.Sprintf("config storage.policies[%d]", i), p})
	}
	if len(wants) == 0 {
		return out
	}
	names, err := policyNames(ctx, e)
	if err != nil {
		return append(out, notRun(what, "", err))
	}
	for _, w := range wants {
		if !names[w.policy] {
			out = append(out, RuleStoragePolicyMissing.finding(w.object,
				"storage policy %q does not exist in vCenter (names are matched exactly)", w.policy))
		}
	}
	return out
}

// policyNames lists the names of vCenter's storage requirement policies,
// the kind a StorageClass names (PBM QueryProfile + RetrieveContent).
func policyNames(ctx context.Context, e *env) (map[string]bool, error) {
	if e.t.PBM == nil {
		return nil, fmt.Errorf("target has no storage policy (PBM) client")
	}
	ids, err := e.t.PBM.QueryProfile(ctx, pbmtypes.PbmProfileResourceType{ResourceType: string(pbmtypes.PbmProfileResourceTypeEnumSTORAGE)},
		string(pbmtypes.PbmProfileCategoryEnumREQUIREMENT))
	if err != nil {
		return nil, fmt.Errorf("list storage policies: %w", err)
	}
	names := map[string]bool{}
	if len(ids) == 0 {
		return names, nil
	}
	profiles, err := e.t.PBM.RetrieveContent(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read storage policies: %w", err)
	}
	for _, p := range profiles {
		names[p.GetPbmProfile().Name] = true
	}
	return names, nil
}
