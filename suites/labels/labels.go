// Package labels names the Ginkgo labels the suites use, so a label filter
// can be checked before a run: a typo in --label-filter is an error, not a
// run that silently selects nothing.
package labels

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
)

// Suite labels: every spec carries the label of its suite folder.
const (
	CSI       = "csi"
	CPI       = "cpi"
	Migration = "migration"
	Desktop   = "desktop"
	LB        = "lb"
)

// Feature and kind labels.
const (
	Provisioning = "provisioning"
	Negative     = "negative"
	Scale        = "scale"
	Nodes        = "nodes"
	Zones        = "zones"
	Metadata     = "metadata"
	StatefulSet  = "statefulset"
	Expansion    = "expansion"
	Snapshot     = "snapshot"
	Audit        = "audit"
	Topology     = "topology"
	AttachLimit  = "attachlimit"
	Encryption   = "encryption"
	RWX          = "rwx"
	// Data: the spec writes and reads data in pods (capability dataPath).
	Data = "data"
	// Disruptive: the spec injects faults into vCenter or restarts
	// components (capability faultInjection); such specs run Serial.
	Disruptive = "disruptive"
	// Cost: the spec counts the vCenter calls of an operation (capability callCounts).
	Cost = "cost"
	// Finding: the spec shows a defect of a pinned upstream component (the
	// README's Findings): it fails until upstream fixes it, so a run leaves
	// it out unless its label filter names the label (WithoutFindings).
	Finding = "finding"
)

// CatchesPrefix starts the label of a spec that catches a defect profile
// of the hermetic vCenter (DESIGN.md, rule 7): "catches-" + the profile's
// name (sim/defects). Every spec file names the profiles it catches, and
// `vsconform selftest` runs each profile's catchers against it.
const CatchesPrefix = "catches-"

// catchesName is a profile name as a label may carry it: kebab-case.
var catchesName = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Catches labels a spec with the defect profiles it catches.
func Catches(profiles ...string) ginkgo.Labels {
	var out ginkgo.Labels
	for _, p := range profiles {
		out = append(out, CatchesPrefix+p)
	}
	return out
}

// IsCatches says whether label names a defect profile (Catches).
func IsCatches(label string) (profile string, ok bool) {
	p, ok := strings.CutPrefix(label, CatchesPrefix)
	return p, ok && catchesName.MatchString(p)
}

// Known lists every label a spec may carry, besides Catches labels; add a
// new label here.
var Known = []string{CSI, CPI, Migration, Desktop, LB, Provisioning, Negative, Scale, Nodes, Zones,
	Metadata, StatefulSet, Expansion, Snapshot, Audit, Topology, AttachLimit, Data,
	Encryption, RWX, Disruptive, Cost, Finding}

// filterWord matches the label names in a Ginkgo label filter; operators
// (&&, ||, !, parentheses, commas) separate them.
var filterWord = regexp.MustCompile(`[^&|!(),\s]+`)

// Validate checks a label filter's syntax (with Ginkgo's own parser) and
// that every label it names is known. Regular-expression terms (/.../)
// are left to Ginkgo.
func Validate(filter string) error {
	if strings.TrimSpace(filter) == "" {
		return nil
	}
	if _, err := types.ParseLabelFilter(filter); err != nil {
		return fmt.Errorf("invalid label filter %q: %s", filter, parseReason(err))
	}
	if strings.Contains(filter, "/") {
		return nil
	}
	for _, w := range filterWord.FindAllString(filter, -1) {
		name := strings.ToLower(strings.TrimSpace(w))
		if _, catches := IsCatches(name); !catches && !slices.Contains(Known, name) {
			return fmt.Errorf("unknown label %q in label filter; known labels: %s", w, strings.Join(Known, ", "))
		}
	}
	return nil
}

// WithoutFindings is the filter a run uses: the user's, with the finding
// specs left out unless it names them (a filter that says "finding" or
// "!finding" chose already).
func WithoutFindings(filter string) string {
	if !strings.Contains(filter, "/") {
		for _, w := range filterWord.FindAllString(filter, -1) {
			if strings.EqualFold(strings.TrimSpace(w), Finding) {
				return filter
			}
		}
	}
	if strings.TrimSpace(filter) == "" {
		return "!" + Finding
	}
	return "(" + filter + ") && !" + Finding
}

// Ginkgo's formatting: its {{color}} tags and the escapes they become.
var (
	formatTag  = regexp.MustCompile(`\{\{[a-z/-]*\}\}`)
	ansiEscape = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)
)

// parseReason is why Ginkgo rejects a filter, as plain text: its error's
// heading is coloured for a terminal and says only "Syntax Error Parsing
// Label Filter"; the message holds the filter with the bad spot marked by
// tags, then the reason.
func parseReason(err error) string {
	var ge types.GinkgoError
	if !errors.As(err, &ge) || ge.Message == "" {
		return oneLine(ansiEscape.ReplaceAllString(formatTag.ReplaceAllString(err.Error(), ""), ""))
	}
	marked, reason := "", ge.Message
	if i := strings.LastIndexByte(ge.Message, '\n'); i >= 0 {
		marked, reason = ge.Message[:i], ge.Message[i+1:]
	}
	reason = oneLine(ansiEscape.ReplaceAllString(formatTag.ReplaceAllString(reason, ""), ""))
	if i := strings.Index(marked, "{{"); i >= 0 {
		reason += fmt.Sprintf(" (at character %d)", utf8.RuneCountInString(formatTag.ReplaceAllString(marked[:i], ""))+1)
	}
	return reason
}

func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}
