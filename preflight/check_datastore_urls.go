package preflight

import (
	"context"
	"slices"
	"sort"

	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// checkDatastoreURLs: the datastore each vSphere CSI StorageClass names by
// URL (parameter datastoreurl, compared exactly with the datastore's url as
// the driver does) exists in the configured datacenter and is mounted on
// the host of every node VM, since a volume can attach only to a VM whose
// host mounts its datastore.
//
// Documentation: "vSphere CSI Driver - Block Volume" (StorageClass
// parameter datastoreurl),
// https://github.com/kubernetes-sigs/vsphere-csi-driver/blob/master/docs/book/features/block_volume.md;
// "vSphere CSI Driver - Prerequisites", section "vSphere Roles and
// Privileges" (the shared datastores "accessible to all node VMs"),
// https://docs.vmware.com/en/VMware-vSphere-Container-Storage-Plug-in/3.0/vmware-vsphere-csp-getting-started/GUID-0AB6E692-AA47-4B6A-8CEA-38B754E16567.html.
func checkDatastoreURLs(ctx context.Context, e *env) []Finding {
	const what = "datastore URLs"
	classes, err := e.storageClasses(ctx)
	if err != nil {
		return []Finding{notRun(what, "StorageClasses", err)}
	}
	type want struct{ class, url string }
	var wants []want
	for _, sc := range classes {
		if u, ok := scParam(sc, "datastoreurl"); ok {
			wants = append(wants, want{sc.Name, u})
		}
	}
	if len(wants) == 0 {
		return nil
	}
	all, err := e.allDatastores(ctx)
	if err != nil {
		return []Finding{notRun(what, "", err)}
	}
	var out []Finding
	hosts, hostsErr := e.nodeHosts(ctx)
	if hostsErr != nil {
		out = append(out, notRun(what, "node VMs' hosts", hostsErr))
	}
	for _, w := range wants {
		object := "StorageClass " + w.class
		ds := datastoreByURL(all, w.url)
		if ds == nil {
			out = append(out, RuleDatastoreURLMissing.finding(object,
				"datastoreurl %s names no datastore in datacenter %s", w.url, e.t.Datacenter.Name()))
			continue
		}
		if hostsErr != nil {
			continue
		}
		if without := hostsWithout(hosts, ds.Reference()); len(without) > 0 {
			out = append(out, RuleDatastoreNotMounted.finding(object,
				"datastore %s (%s) is not mounted on %d of the %d hosts that run node VMs: %s",
				ds.Name, w.url, len(without), len(hosts), listNames(without)))
		}
	}
	return out
}

func datastoreByURL(all []mo.Datastore, url string) *mo.Datastore {
	for i := range all {
		if all[i].Summary.Url == url {
			return &all[i]
		}
	}
	return nil
}

// hostsWithout names, sorted, the hosts that do not mount ds.
func hostsWithout(hosts map[types.ManagedObjectReference]*hostInfo, ds types.ManagedObjectReference) []string {
	var out []string
	for _, h := range hosts {
		if !slices.Contains(h.Datastores, ds) {
			out = append(out, h.Name)
		}
	}
	sort.Strings(out)
	return out
}
