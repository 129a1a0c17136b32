package preflight

import (
	"context"
	"fmt"
)

// checkTagCategories: the zone and region tag categories the config names
// (cpi.zoneCategory, cpi.regionCategory: the CPI's [Labels] zone and
// region) exist in vCenter's tagging service, and each holds at least one
// tag; the CPI and the driver's topology read a node's zone and region from
// the tags of these categories on the node VM's ancestors. Nothing is
// checked when the config names neither.
//
// Documentation: "Deploying the vSphere CPI and CSI in a Multi-vCenter OR
// Multi-Datacenter Environment using Zones", sections "1. Enabling Zones
// the vsphere.conf file" and "2. Creating Zones in your vSphere Environment
// via Tags" (create the categories, then the zone/region tags in them),
// https://github.com/kubernetes/cloud-provider-vsphere/blob/master/docs/book/tutorials/deploying_cpi_with_multi_dc_vc_aka_zones.md,
// which defers the CSI side to "Deploy the vSphere Container Storage Plug-in
// with Topology",
// https://docs.vmware.com/en/VMware-vSphere-Container-Storage-Plug-in/2.0/vmware-vsphere-csp-getting-started/GUID-73D106A3-1D8A-4CDC-9762-6CB35A65B0B4.html.
func checkTagCategories(ctx context.Context, e *env) []Finding {
	const what = "tag categories"
	type want struct{ field, name string }
	var wants []want
	if c := e.cfg.CPI.ZoneCategory; c != "" {
		wants = append(wants, want{"cpi.zoneCategory", c})
	}
	if c := e.cfg.CPI.RegionCategory; c != "" {
		wants = append(wants, want{"cpi.regionCategory", c})
	}
	if len(wants) == 0 {
		return nil
	}
	if e.t.Tags == nil {
		return []Finding{notRun(what, "", fmt.Errorf("target has no vAPI tagging client"))}
	}
	cats, err := e.t.Tags.GetCategories(ctx)
	if err != nil {
		return []Finding{notRun(what, "", fmt.Errorf("list tag categories: %w", err))}
	}
	ids := map[string]string{}
	for _, c := range cats {
		ids[c.Name] = c.ID
	}
	var out []Finding
	for _, w := range wants {
		object := "tag category " + w.name
		id, ok := ids[w.name]
		if !ok {
			out = append(out, RuleTagCategoryMissing.finding(object,
				"%s names tag category %q, which does not exist in vCenter", w.field, w.name))
			continue
		}
		tags, err := e.t.Tags.ListTagsForCategory(ctx, id)
		if err != nil {
			out = append(out, notRun(what, object, fmt.Errorf("list tags: %w", err)))
			continue
		}
		if len(tags) == 0 {
			out = append(out, RuleTagCategoryEmpty.finding(object,
				"tag category %q (%s) has no tags, so no node gets a zone or region from it", w.name, w.field))
		}
	}
	return out
}
