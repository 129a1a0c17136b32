package target

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AnnotationRunPrefix starts the line of a VM's annotation (config.annotation,
// the "Notes" of the vSphere UI) that names the run which created it; VMs
// have no labels, and tags would be one more object to leak.
const AnnotationRunPrefix = LabelRun + "="

// Removed is one object a run cleanup removed.
type Removed struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	Run  string `json:"run"`
}

func (r Removed) String() string { return fmt.Sprintf("%s %s (run %s)", r.Kind, r.Name, r.Run) }

// CleanupRun removes what a run that could not clean up after itself (it
// was killed) left on the target: its namespaces, and with them its claims
// and pods and the volumes the driver provisioned for them; PVs of those
// claims kept by a Retain policy, with their CNS volume and disk; its
// StorageClasses and Nodes; the VMs it created. runID "" removes every
// run's objects: only for when no run is in progress. Each removal is
// reported to seen as it happens.
func (t *Target) CleanupRun(ctx context.Context, runID string, seen func(Removed)) ([]Removed, error) {
	var out []Removed
	report := func(kind, name, run string) {
		r := Removed{Kind: kind, Name: name, Run: run}
		out = append(out, r)
		if seen != nil {
			seen(r)
		}
	}
	sel := metav1.ListOptions{LabelSelector: LabelRun}
	if runID != "" {
		sel.LabelSelector = LabelRun + "=" + runID
	}

	nss, err := t.Kube.CoreV1().Namespaces().List(ctx, sel)
	if err != nil {
		return out, fmt.Errorf("list namespaces: %w", err)
	}
	gone := map[string]string{} // namespace -> run
	for _, ns := range nss.Items {
		if err := t.Kube.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return out, fmt.Errorf("delete namespace %s: %w", ns.Name, err)
		}
		gone[ns.Name] = ns.Labels[LabelRun]
	}
	for name, run := range gone {
		if err := t.WaitForNamespaceGone(ctx, name); err != nil {
			return out, err
		}
		report("namespace", name, run)
	}

	pvs, err := t.Kube.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return out, fmt.Errorf("list PVs: %w", err)
	}
	for _, pv := range pvs.Items {
		run, ok := pvRun(pv, gone)
		if !ok {
			continue
		}
		if pv.Spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimDelete {
			// The claim went with its namespace: the driver deletes the
			// PV, its CNS volume and disk; wait for it.
			if err := t.WaitForPVDeleted(ctx, pv.Name); err != nil {
				return out, err
			}
			report("PV", pv.Name, run)
			continue
		}
		if err := t.Kube.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return out, fmt.Errorf("delete PV %s: %w", pv.Name, err)
		}
		report("PV", pv.Name, run)
		if pv.Spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimRetain && pv.Spec.CSI != nil {
			id := pv.Spec.CSI.VolumeHandle
			if err := t.DeleteCNSVolume(ctx, id, true); err != nil && !isNotFound(err) && !strings.Contains(err.Error(), "NotFound") {
				return out, fmt.Errorf("delete CNS volume %s of PV %s: %w", id, pv.Name, err)
			}
			report("CNS volume", id, run)
		}
	}

	scs, err := t.Kube.StorageV1().StorageClasses().List(ctx, sel)
	if err != nil {
		return out, fmt.Errorf("list StorageClasses: %w", err)
	}
	for _, sc := range scs.Items {
		if err := t.Kube.StorageV1().StorageClasses().Delete(ctx, sc.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return out, fmt.Errorf("delete StorageClass %s: %w", sc.Name, err)
		}
		report("StorageClass", sc.Name, sc.Labels[LabelRun])
	}
	nodes, err := t.Kube.CoreV1().Nodes().List(ctx, sel)
	if err != nil {
		return out, fmt.Errorf("list nodes: %w", err)
	}
	for _, n := range nodes.Items {
		if err := t.Kube.CoreV1().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return out, fmt.Errorf("delete node %s: %w", n.Name, err)
		}
		report("node", n.Name, n.Labels[LabelRun])
	}

	if t.Config.Faults != nil {
		if err := t.liftRunFaults(ctx, runID, report); err != nil {
			return out, err
		}
	}

	vms, err := t.runVMs(ctx, runID)
	if err != nil {
		return out, err
	}
	for _, vm := range vms {
		if err := t.DestroyVM(ctx, object.NewVirtualMachine(t.VC.Client, vm.Self)); err != nil {
			return out, fmt.Errorf("destroy VM %s: %w", vm.Name, err)
		}
		report("VM", vm.Name, vmRun(vm.Config.Annotation))
	}
	return out, nil
}

// pvRun says whether a PV was provisioned for a claim of a removed
// namespace, and that namespace's run.
func pvRun(pv corev1.PersistentVolume, gone map[string]string) (string, bool) {
	if pv.Spec.ClaimRef == nil {
		return "", false
	}
	run, ok := gone[pv.Spec.ClaimRef.Namespace]
	return run, ok
}

// runVMs are the VMs whose annotation names runID (any run for "").
func (t *Target) runVMs(ctx context.Context, runID string) ([]mo.VirtualMachine, error) {
	m := view.NewManager(t.VC.Client)
	v, err := m.CreateContainerView(ctx, t.VC.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		return nil, fmt.Errorf("list VMs: %w", err)
	}
	defer func() { _ = v.Destroy(context.WithoutCancel(ctx)) }()
	var all []mo.VirtualMachine
	if err := v.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name", "config.annotation"}, &all); err != nil {
		return nil, fmt.Errorf("list VMs: %w", err)
	}
	var out []mo.VirtualMachine
	for _, vm := range all {
		if vm.Config == nil {
			continue
		}
		if run := vmRun(vm.Config.Annotation); run != "" && (runID == "" || run == runID) {
			out = append(out, vm)
		}
	}
	return out, nil
}

// vmRun is the run an annotation names, or "".
func vmRun(annotation string) string {
	for _, line := range strings.Split(annotation, "\n") {
		if run, ok := strings.CutPrefix(strings.TrimSpace(line), AnnotationRunPrefix); ok {
			return run
		}
	}
	return ""
}

// liftRunFaults lifts the fault rules the run left on a simulated vCenter
// (every run's for ""): a killed run's rules would fail the next run.
func (t *Target) liftRunFaults(ctx context.Context, runID string, report func(kind, name, run string)) error {
	c, err := newFaultsClient(t.Config.Faults)
	if err != nil {
		return err
	}
	var rules []FaultRuleStatus
	if err := c.do(ctx, http.MethodGet, FaultsPath, nil, &rules); err != nil {
		return err
	}
	for _, r := range rules {
		if r.Rule.Run == "" || (runID != "" && r.Rule.Run != runID) {
			continue
		}
		if err := c.do(ctx, http.MethodDelete, FaultsPath+"/"+r.ID, nil, nil); err != nil {
			return err
		}
		report("fault rule", fmt.Sprintf("%s (%s on %s)", r.ID, orAny(r.Rule.Fault, "delay"), r.Rule.Method), r.Rule.Run)
	}
	return nil
}
