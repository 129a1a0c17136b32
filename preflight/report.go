// Package preflight checks a vSphere environment against what the vSphere
// CSI driver (v3.3.x) and the vSphere CPI document as prerequisites, before
// any spec runs: the vCenter version, the configured user's privileges, the
// node VMs' configuration, the storage policies and datastores the
// StorageClasses name, and the CPI's zone/region tag categories. It only
// reads: privileges come from the AuthorizationManager, never from trying an
// operation. Like desktop's checks it reports findings, each with an ID, a
// severity, what is wrong and how to fix it; a check that cannot run is a
// finding too, never a panic and never silent.
package preflight

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/vsphere-conformance/vsphere-conformance/finding"
)

// Severity and its values are the shared scale (package finding).
type Severity = finding.Severity

const (
	SeverityError   = finding.SeverityError
	SeverityWarning = finding.SeverityWarning
	SeverityInfo    = finding.SeverityInfo
)

// Finding is one problem with the environment.
type Finding struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Severity Severity `json:"severity"`
	// Object is the vSphere or Kubernetes object the finding is about, e.g.
	// "node worker-1", "VM k8s-w1", "StorageClass gold".
	Object  string `json:"object,omitempty"`
	Message string `json:"message"`
	Fix     string `json:"fix"`
}

func (f Finding) String() string {
	where := ""
	if f.Object != "" {
		where = " (" + f.Object + ")"
	}
	return fmt.Sprintf("%s %s %s: %s%s\n    fix: %s", f.Severity, f.ID, f.Name, f.Message, where, f.Fix)
}

// Report is the outcome of Run.
type Report struct {
	Findings []Finding `json:"findings"`
}

// Errors counts the error findings.
func (r Report) Errors() int { return r.count(SeverityError) }

// Warnings counts the warning findings.
func (r Report) Warnings() int { return r.count(SeverityWarning) }

func (r Report) count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// IDs lists the findings' IDs in report order.
func (r Report) IDs() []string {
	out := make([]string, 0, len(r.Findings))
	for _, f := range r.Findings {
		out = append(out, f.ID)
	}
	return out
}

// sort orders findings by severity, then ID, then object and message, so
// output is stable.
func (r *Report) sort() {
	slices.SortStableFunc(r.Findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Severity.Rank(), b.Severity.Rank()), cmp.Compare(a.ID, b.ID),
			cmp.Compare(a.Object, b.Object), cmp.Compare(a.Message, b.Message))
	})
}
