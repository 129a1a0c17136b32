package target

import (
	"context"
	"fmt"
	"slices"
	"strings"

	cnstypes "github.com/vmware/govmomi/cns/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Finding kinds of the leak audit.
const (
	FindingCNSVolume    = "CNS volume without PV"
	FindingFCD          = "FCD without CNS volume or PV"
	FindingAttachedDisk = "attached disk without VolumeAttachment"
	// FindingNodeWithoutVM: a vSphere node (providerID vsphere://, or one
	// that a VolumeAttachment of the driver names) whose VM cannot be
	// found, so its disks could not be audited.
	FindingNodeWithoutVM = "vSphere node without VM"
)

// Finding is one thing the audit cannot explain from Kubernetes' side.
type Finding struct {
	Kind   string `json:"kind"`
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Detail string `json:"detail,omitempty"`
}

func (f Finding) String() string {
	s := f.Kind + " " + f.ID
	var extra []string
	if f.Name != "" {
		extra = append(extra, "name "+f.Name)
	}
	if f.Detail != "" {
		extra = append(extra, f.Detail)
	}
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, ", ") + ")"
	}
	return s
}

// Findings lists what an audit found, sorted by kind and ID.
type Findings []Finding

func (fs Findings) String() string {
	lines := make([]string, len(fs))
	for i, f := range fs {
		lines[i] = f.String()
	}
	return strings.Join(lines, "\n")
}

// IDs lists the findings' IDs.
func (fs Findings) IDs() []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.ID
	}
	return out
}

// Audit looks for what vCenter holds for this cluster that Kubernetes does
// not explain (the orphaned-vmdk problem):
//   - CNS volumes of csi.clusterID that no PV's volume handle names;
//   - first-class disks that neither a CNS volume (of any cluster) nor a PV
//     names: what CnsDeleteVolume(deleteDisk=false) leaves. Which cluster
//     made such a disk is only in its VSLM metadata, which vcsim cannot
//     serve, so on a shared vCenter these may be other tools' disks;
//   - disks with a VDiskId on the node VMs that no VolumeAttachment of the
//     vSphere CSI driver explains.
//
// Unlike Inventory/Leaked it needs no "before" snapshot, so it also finds
// what earlier runs or other tools left behind.
func (t *Target) Audit(ctx context.Context) (Findings, error) {
	handles, err := t.pvHandles(ctx)
	if err != nil {
		return nil, err
	}
	var out Findings

	var filter cnstypes.CnsQueryFilter
	if id := t.Config.CSI.ClusterID; id != "" {
		filter.ContainerClusterIds = []string{id}
	}
	ours, err := t.queryCNS(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("audit: list CNS volumes: %w", err)
	}
	for _, v := range ours {
		if _, ok := handles[v.VolumeId.Id]; !ok {
			out = append(out, Finding{Kind: FindingCNSVolume, ID: v.VolumeId.Id, Name: v.Name, Detail: "datastore " + v.DatastoreUrl})
		}
	}

	all, err := t.queryCNS(ctx, cnstypes.CnsQueryFilter{})
	if err != nil {
		return nil, fmt.Errorf("audit: list CNS volumes: %w", err)
	}
	tracked := map[string]bool{}
	for _, v := range all {
		tracked[v.VolumeId.Id] = true
	}
	fcds, err := t.listFCDIDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	for _, f := range fcds {
		if _, ok := handles[f.ID]; ok || tracked[f.ID] {
			continue
		}
		out = append(out, Finding{Kind: FindingFCD, ID: f.ID, Detail: "datastore " + f.Datastore})
	}

	attached, err := t.unexplainedDisks(ctx, handles)
	if err != nil {
		return nil, err
	}
	out = append(out, attached...)
	slices.SortFunc(out, func(a, b Finding) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// pvHandles maps each vSphere CSI PV's volume handle to the PV's name.
func (t *Target) pvHandles(ctx context.Context) (map[string]string, error) {
	pvs, err := t.Kube.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("audit: list PVs: %w", err)
	}
	out := map[string]string{}
	for _, pv := range pvs.Items {
		if csi := pv.Spec.CSI; csi != nil && csi.Driver == CSIDriverName {
			out[csi.VolumeHandle] = pv.Name
		}
	}
	return out, nil
}

// unexplainedDisks lists disks with a VDiskId on the nodes' VMs for which
// no VolumeAttachment of the driver names that node and a PV with that
// volume handle.
func (t *Target) unexplainedDisks(ctx context.Context, handles map[string]string) (Findings, error) {
	vas, err := t.Kube.StorageV1().VolumeAttachments().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("audit: list VolumeAttachments: %w", err)
	}
	explained := map[[2]string]bool{} // node, PV
	attachedTo := map[string]bool{}   // nodes the driver attached volumes to
	for _, va := range vas.Items {
		if va.Spec.Attacher != CSIDriverName {
			continue
		}
		attachedTo[va.Spec.NodeName] = true
		if va.Spec.Source.PersistentVolumeName != nil {
			explained[[2]string{va.Spec.NodeName, *va.Spec.Source.PersistentVolumeName}] = true
		}
	}
	nodes, err := t.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("audit: list nodes: %w", err)
	}
	var out Findings
	for i := range nodes.Items {
		node := &nodes.Items[i]
		vm, err := t.VMForNode(ctx, node)
		if err != nil {
			vsphere := strings.HasPrefix(node.Spec.ProviderID, "vsphere://")
			if !vsphere && !attachedTo[node.Name] {
				continue // not a vSphere VM: nothing CNS could have attached
			}
			// Never left out silently: its disks are unaudited.
			detail := fmt.Sprintf("providerID %q", node.Spec.ProviderID)
			if attachedTo[node.Name] {
				detail += ", named by VolumeAttachments of " + CSIDriverName
			}
			out = append(out, Finding{Kind: FindingNodeWithoutVM, ID: node.Name, Detail: detail + ": " + err.Error()})
			continue
		}
		disks, err := t.AttachedDisks(ctx, vm)
		if err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		for _, id := range DiskIDs(disks) {
			if pv, ok := handles[id]; ok && explained[[2]string{node.Name, pv}] {
				continue
			}
			out = append(out, Finding{Kind: FindingAttachedDisk, ID: id, Detail: "node " + node.Name + ", VM " + vm.Reference().Value})
		}
	}
	return out, nil
}
