// Package desktop checks a "Kubernetes on a VMware desktop hypervisor"
// setup without a cluster: minikube with the vmware driver on VMware
// Workstation (Windows, Linux) or Fusion, the vmnet network it uses, and the
// MetalLB address pool. It parses the real config files of each product and
// reports findings like a linter, each with an ID, a severity, what is
// wrong and how to fix it.
package desktop

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/vsphere-conformance/vsphere-conformance/finding"
)

// Severity and its values are the shared scale (package finding).
type Severity = finding.Severity

const (
	SeverityError   = finding.SeverityError
	SeverityWarning = finding.SeverityWarning
	SeverityInfo    = finding.SeverityInfo
)

// Finding is one problem with the setup.
type Finding struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Severity Severity `json:"severity"`
	// File is the config file the finding is about, when there is one.
	File    string `json:"file,omitempty"`
	Message string `json:"message"`
	Fix     string `json:"fix"`
}

func (f Finding) String() string {
	where := ""
	if f.File != "" {
		where = " (" + f.File + ")"
	}
	return fmt.Sprintf("%s %s %s: %s%s\n    fix: %s", f.Severity, f.ID, f.Name, f.Message, where, f.Fix)
}

// Report is the outcome of a check.
type Report struct {
	Platform Platform  `json:"platform"`
	VMnet    int       `json:"vmnet"`
	Findings []Finding `json:"findings"`
}

// HasErrors reports whether any finding is an error.
func (r Report) HasErrors() bool {
	return slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Severity == SeverityError })
}

// IDs lists the findings' IDs in report order.
func (r Report) IDs() []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.ID)
	}
	return out
}

// sort orders findings by severity, then ID, then message, so output is stable.
func (r *Report) sort() {
	slices.SortStableFunc(r.Findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Severity.Rank(), b.Severity.Rank()), cmp.Compare(a.ID, b.ID), cmp.Compare(a.Message, b.Message))
	})
}

// WriteText prints the findings and a summary line.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "desktop check: %s, vmnet%d\n", r.Platform, r.VMnet)
	for _, f := range r.Findings {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	counts := map[Severity]int{}
	for _, f := range r.Findings {
		counts[f.Severity]++
	}
	fmt.Fprintf(&b, "%d errors, %d warnings, %d infos\n", counts[SeverityError], counts[SeverityWarning], counts[SeverityInfo])
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON prints the report as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
