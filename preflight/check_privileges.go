package preflight

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

// checkPrivileges: the configured vCenter user holds the documented roles'
// privileges on the vCenter root, the datacenter, the node VMs' clusters and
// hosts, the datastores the StorageClasses name, the datastores shared by
// every node's host, and the node VMs. It asks the AuthorizationManager
// (HasUserPrivilegeOnEntities, as the driver itself does) and never tries
// an operation.
//
// Documentation: "vSphere CSI Driver - Prerequisites", section "vSphere
// Roles and Privileges", see privileges.go.
func checkPrivileges(ctx context.Context, e *env) []Finding {
	const what = "privileges"
	if e.t.VC == nil || e.t.VC.Client == nil || e.t.Datacenter == nil {
		return []Finding{notRun(what, "", errNoVCenter)}
	}
	user, err := vcenterUser(ctx, e)
	if err != nil {
		return []Finding{notRun(what, "", err)}
	}
	reqs, out := privilegeRequests(ctx, e)
	am := object.NewAuthorizationManager(e.t.VC.Client)
	var answers []privilegeAnswer
	for _, r := range reqs {
		if len(r.Entities) == 0 {
			continue
		}
		refs := make([]types.ManagedObjectReference, 0, len(r.Entities))
		for _, ent := range r.Entities {
			refs = append(refs, ent.Ref)
		}
		ans, err := am.HasUserPrivilegeOnEntities(ctx, refs, user, r.Role.checked())
		if err != nil {
			out = append(out, notRun(what, r.Kind+" "+listNames(entityNames(r.Entities)),
				fmt.Errorf("ask the AuthorizationManager for user %q's privileges of role %s: %w", user, r.Role.Name, err)))
			continue
		}
		answers = append(answers, privilegeAnswer{Request: r, Answers: ans})
	}
	return append(out, evaluatePrivileges(user, answers)...)
}

// vcenterUser is the user the driver logs in as: the config's username, or
// the session's when the config leaves it to the environment.
func vcenterUser(ctx context.Context, e *env) (string, error) {
	if u := e.cfg.VCenter.Username; u != "" {
		return u, nil
	}
	if e.t.VC.SessionManager == nil {
		return "", errors.New("no vcenter.username in the config and no session to ask")
	}
	s, err := e.t.VC.SessionManager.UserSession(ctx)
	if err != nil {
		return "", fmt.Errorf("read the session's user: %w", err)
	}
	if s == nil {
		return "", errors.New("no vcenter.username in the config and not logged in")
	}
	return s.UserName, nil
}

// privilegeRequests lists which role the driver needs on which objects,
// and a not-run finding for each part of the inventory it could not read.
func privilegeRequests(ctx context.Context, e *env) ([]privilegeRequest, []Finding) {
	const what = "privileges"
	var out []Finding
	root := e.t.VC.ServiceContent.RootFolder
	reqs := []privilegeRequest{
		{Kind: "vCenter", Role: roleCNSSearchAndSPBM, Why: "the driver searches CNS volumes and reads storage policies from the root",
			Entities: []entity{{root, "root folder of " + e.t.VC.URL().Host}}},
		{Kind: "datacenter", Role: roleReadOnly, Why: "the driver and the CPI read the node VMs' ancestors (topology tags, shared datastores)",
			Entities: []entity{{e.t.Datacenter.Reference(), e.t.Datacenter.Name()}}},
	}

	var vms []entity
	for _, v := range e.nodeVMs(ctx) {
		vms = append(vms, entity{v.VM.Reference(), v.VM.Name})
	}
	reqs = append(reqs, privilegeRequest{Kind: "node VM", Role: roleCNSVM, Why: "the driver attaches and detaches volumes as disks of the node VMs", Entities: vms})

	hosts, err := e.nodeHosts(ctx)
	if err != nil {
		out = append(out, notRun(what, "node VMs' hosts and clusters", err))
	}
	var hostEnts, clusterEnts []entity
	for _, h := range hosts {
		hostEnts = append(hostEnts, entity{h.Ref, h.Name})
		if h.Cluster != nil && !slices.ContainsFunc(clusterEnts, func(c entity) bool { return c.Ref == *h.Cluster }) {
			clusterEnts = append(clusterEnts, entity{*h.Cluster, h.ClusterName})
		}
	}
	sortEntities(hostEnts)
	sortEntities(clusterEnts)
	reqs = append(reqs,
		privilegeRequest{Kind: "cluster", Role: roleReadOnly, Why: "the driver and the CPI read the node VMs' ancestors (topology tags, shared datastores)", Entities: clusterEnts},
		privilegeRequest{Kind: "host", Role: roleReadOnly, Why: "the driver finds the datastores the node VMs' hosts mount", Entities: hostEnts})
	if e.cfg.Capabilities.FileVolumes {
		reqs = append(reqs, privilegeRequest{Kind: "cluster", Role: roleCNSHostConfigStorage,
			Why: "file volumes are created on vSAN file service enabled clusters", Entities: clusterEnts})
	}

	named, shared, err := datastoreEntities(ctx, e, hosts, err == nil)
	if err != nil {
		out = append(out, notRun(what, "datastores", err))
	}
	reqs = append(reqs,
		privilegeRequest{Kind: "datastore", Role: roleCNSDatastore, Why: "a StorageClass's datastoreurl names it, so volumes are created on it", Entities: named},
		privilegeRequest{Kind: "shared datastore", Role: roleCNSDatastore, SkipsWithout: true,
			Why: "the driver creates volumes only on shared datastores where the user has it", Entities: shared})
	return reqs, out
}

// datastoreEntities returns the datastores the StorageClasses name by URL,
// and the other datastores mounted on every node VM's host (withHosts:
// the hosts were read).
func datastoreEntities(ctx context.Context, e *env, hosts map[types.ManagedObjectReference]*hostInfo, withHosts bool) (named, shared []entity, err error) {
	all, err := e.allDatastores(ctx)
	if err != nil {
		return nil, nil, err
	}
	classes, err := e.storageClasses(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, sc := range classes {
		u, ok := scParam(sc, "datastoreurl")
		if !ok {
			continue
		}
		if ds := datastoreByURL(all, u); ds != nil && !slices.ContainsFunc(named, func(n entity) bool { return n.Ref == ds.Reference() }) {
			named = append(named, entity{ds.Reference(), ds.Name})
		}
	}
	sortEntities(named)
	if !withHosts || len(hosts) == 0 {
		return named, nil, nil
	}
	for _, ds := range all {
		ref := ds.Reference()
		if slices.ContainsFunc(named, func(n entity) bool { return n.Ref == ref }) {
			continue
		}
		onAll := true
		for _, h := range hosts {
			onAll = onAll && slices.Contains(h.Datastores, ref)
		}
		if onAll {
			shared = append(shared, entity{ref, ds.Name})
		}
	}
	return named, shared, nil
}

func sortEntities(ents []entity) {
	slices.SortFunc(ents, func(a, b entity) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Ref.Value, b.Ref.Value))
	})
}

func entityNames(ents []entity) []string {
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		out = append(out, e.Name)
	}
	return out
}
