// Package labels names the Ginkgo labels the suites use, so a label filter
// can be checked before a run: a typo in --label-filter is an error, not a
// run that silently selects nothing.
package labels

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

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
)

// Known lists every label a spec may carry; add a new label here.
var Known = []string{CSI, CPI, Migration, Desktop, LB, Provisioning, Negative, Scale, Nodes, Zones,
	Metadata, StatefulSet, Expansion, Snapshot, Audit, Topology, AttachLimit, Data,
	Encryption, RWX}

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
		return fmt.Errorf("invalid label filter %q: %s", filter, oneLine(err.Error()))
	}
	if strings.Contains(filter, "/") {
		return nil
	}
	for _, w := range filterWord.FindAllString(filter, -1) {
		name := strings.ToLower(strings.TrimSpace(w))
		if !slices.Contains(Known, name) {
			return fmt.Errorf("unknown label %q in label filter; known labels: %s", w, strings.Join(Known, ", "))
		}
	}
	return nil
}

func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}
