package target

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Inventory is a snapshot of everything a run could leave behind: CNS
// volumes, first-class disks (the orphaned-vmdk problem) and the
// namespaces and StorageClasses the helpers label vsconform.io/spec=true.
// Taking one before and one after a run proves nothing leaked (DESIGN rule 4).
type Inventory struct {
	Taken          time.Time   `json:"taken"`
	CNSVolumes     []VolumeRef `json:"cnsVolumes"`
	FCDs           []VolumeRef `json:"fcds"`
	Namespaces     []string    `json:"namespaces"`
	StorageClasses []string    `json:"storageClasses"`
}

// Inventory takes the snapshot. CNS volumes are those of csi.clusterID when
// set; FCDs are all of the datacenter's, so on a shared vCenter another
// cluster's new disks show up as leaks: set csi.clusterID and read FCD
// leaks that have no matching CNS leak with that in mind.
func (t *Target) Inventory(ctx context.Context) (Inventory, error) {
	inv := Inventory{Taken: time.Now()}
	var err error
	if inv.CNSVolumes, err = t.ListCNSVolumes(ctx); err != nil {
		return inv, fmt.Errorf("inventory: %w", err)
	}
	if inv.FCDs, err = t.listFCDIDs(ctx); err != nil {
		return inv, fmt.Errorf("inventory: %w", err)
	}
	sel := metav1.ListOptions{LabelSelector: LabelSpec + "=true"}
	nss, err := t.Kube.CoreV1().Namespaces().List(ctx, sel)
	if err != nil {
		return inv, fmt.Errorf("inventory: list namespaces: %w", err)
	}
	for _, ns := range nss.Items {
		inv.Namespaces = append(inv.Namespaces, ns.Name)
	}
	scs, err := t.Kube.StorageV1().StorageClasses().List(ctx, sel)
	if err != nil {
		return inv, fmt.Errorf("inventory: list StorageClasses: %w", err)
	}
	for _, sc := range scs.Items {
		inv.StorageClasses = append(inv.StorageClasses, sc.Name)
	}
	return inv, nil
}

// Leak is one object that exists after a run but did not before.
type Leak struct {
	Kind      string `json:"kind"` // "CNS volume", "FCD", "namespace", "StorageClass"
	ID        string `json:"id"`
	Name      string `json:"name,omitempty"`
	Datastore string `json:"datastore,omitempty"`
}

func (l Leak) String() string {
	var extra []string
	if l.Name != "" {
		extra = append(extra, "name "+l.Name)
	}
	if l.Datastore != "" {
		extra = append(extra, "datastore "+l.Datastore)
	}
	if len(extra) == 0 {
		return l.Kind + " " + l.ID
	}
	return fmt.Sprintf("%s %s (%s)", l.Kind, l.ID, strings.Join(extra, ", "))
}

// Leaks lists leaked objects.
type Leaks []Leak

// Empty reports whether nothing leaked.
func (l Leaks) Empty() bool { return len(l) == 0 }

// String is one line per leaked object.
func (l Leaks) String() string {
	lines := make([]string, len(l))
	for i, leak := range l {
		lines[i] = leak.String()
	}
	return strings.Join(lines, "\n")
}

// Leaked lists what after holds that a (taken before) did not.
func (a Inventory) Leaked(after Inventory) Leaks {
	var out Leaks
	out = append(out, newVolumes("CNS volume", a.CNSVolumes, after.CNSVolumes)...)
	out = append(out, newVolumes("FCD", a.FCDs, after.FCDs)...)
	out = append(out, newNames("namespace", a.Namespaces, after.Namespaces)...)
	out = append(out, newNames("StorageClass", a.StorageClasses, after.StorageClasses)...)
	return out
}

func newVolumes(kind string, before, after []VolumeRef) Leaks {
	seen := map[string]bool{}
	for _, v := range before {
		seen[v.ID] = true
	}
	var out Leaks
	for _, v := range after {
		if !seen[v.ID] {
			out = append(out, Leak{Kind: kind, ID: v.ID, Name: v.Name, Datastore: v.Datastore})
		}
	}
	slices.SortFunc(out, func(x, y Leak) int { return strings.Compare(x.ID, y.ID) })
	return out
}

func newNames(kind string, before, after []string) Leaks {
	var out Leaks
	for _, n := range after {
		if !slices.Contains(before, n) {
			out = append(out, Leak{Kind: kind, ID: n})
		}
	}
	slices.SortFunc(out, func(x, y Leak) int { return strings.Compare(x.ID, y.ID) })
	return out
}
