package target

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"
	"sigs.k8s.io/yaml"
)

// Evidence kinds: which side of the integration a record shows.
const (
	EvidenceKubernetes = "kubernetes"
	EvidenceVCenter    = "vcenter"
)

// Evidence records body as a Ginkgo report entry named
// "evidence:<kind>:<title>", which the reports show beside the spec. The
// console shows it only on failure or with -v. Known secrets are scrubbed.
func Evidence(kind, title, body string) {
	currentMu.RLock()
	t := current
	currentMu.RUnlock()
	if t != nil && t.Config != nil {
		body = scrub(body, t.Config.Secrets())
	}
	ginkgo.AddReportEntry("evidence:"+kind+":"+title, body, ginkgo.ReportEntryVisibilityFailureOrVerbose)
}

// EvidenceOnFailure registers describe to run, and its text to be recorded
// as evidence, if the spec fails. Registered after an object's cleanup, it
// runs before it (cleanups run in reverse), while the object still exists.
func (t *Target) EvidenceOnFailure(kind, title string, describe func(ctx context.Context) string) {
	ginkgo.GinkgoHelper()
	ginkgo.DeferCleanup(func(ctx ginkgo.SpecContext) {
		if ginkgo.CurrentSpecReport().Failed() {
			Evidence(kind, title, describe(ctx))
		}
	}, ginkgo.NodeTimeout(time.Minute))
}

// describeBuilder assembles evidence text; errors become part of the text,
// since evidence gathering must never itself fail a spec.
type describeBuilder struct{ strings.Builder }

func (b *describeBuilder) section(title string) {
	if b.Len() > 0 {
		b.WriteString("\n")
	}
	b.WriteString("== " + title + " ==\n")
}

func (b *describeBuilder) yaml(v any) {
	out, err := yaml.Marshal(v)
	if err != nil {
		fmt.Fprintf(b, "(cannot render: %v)\n", err)
		return
	}
	b.Write(out)
}

func (b *describeBuilder) failed(what string, err error) {
	fmt.Fprintf(b, "(%s: %v)\n", what, err)
}
