package reports

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var htmlSource string

// htmlTemplate is parsed once; html/template does all escaping, including in
// the inline SVG.
var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"duration": formatDuration,
	"when":     formatTime,
	"num":      formatNumber,
	"join":     strings.Join,
	"percent":  formatPercent,
}).Parse(htmlSource))

// htmlView is what the template sees: the run plus precomputed tables.
type htmlView struct {
	Run      Run
	Passed   bool
	Elapsed  time.Duration
	Totals   Counts
	Suites   []namedCounts
	Labels   []namedCounts
	Specs    []specView
	Failures []specView
	Measured []specView
	// Baseline is set when the page compares the run with an older one.
	Baseline *baselineView
}

// baselineView is the comparison with all spec classes in one table, in the
// order of the text summary.
type baselineView struct {
	Comparison
	Specs []specChangeRow
}

type specChangeRow struct {
	Class string // regressed, fixed, appeared, disappeared, changed; also the CSS class
	SpecChange
	// Anchor is the Index of the spec's failure section in this page; 0
	// when the spec does not fail in this run.
	Anchor int
}

type namedCounts struct {
	Name string
	Counts
}

type specView struct {
	Spec
	Index      int
	Kubernetes []Evidence
	VCenter    []Evidence
	Other      []Evidence
	Chart      chart
}

// renderHTML renders the run as one self-contained page, with a comparison
// section when cmp is not nil; the run and cmp must already be redacted.
func renderHTML(run Run, cmp *Comparison) ([]byte, error) {
	sum := run.Summary()
	v := htmlView{Run: run, Passed: run.Passed(), Totals: sum.Totals}
	if !run.StartedAt.IsZero() && run.FinishedAt.After(run.StartedAt) {
		v.Elapsed = run.FinishedAt.Sub(run.StartedAt)
	}
	for _, k := range sortedKeys(sum.BySuite) {
		v.Suites = append(v.Suites, namedCounts{k, sum.BySuite[k]})
	}
	for _, k := range sortedKeys(sum.ByLabel) {
		v.Labels = append(v.Labels, namedCounts{k, sum.ByLabel[k]})
	}
	for i, s := range run.Specs {
		sv := specView{Spec: s, Index: i + 1, Chart: newChart(s.Measurements)}
		for _, e := range s.Evidence {
			switch e.Kind {
			case EvidenceKubernetes:
				sv.Kubernetes = append(sv.Kubernetes, e)
			case EvidenceVCenter:
				sv.VCenter = append(sv.VCenter, e)
			default:
				sv.Other = append(sv.Other, e)
			}
		}
		v.Specs = append(v.Specs, sv)
		if s.Failed() {
			v.Failures = append(v.Failures, sv)
		}
		if len(s.Measurements) > 0 {
			v.Measured = append(v.Measured, sv)
		}
	}
	if cmp != nil {
		v.Baseline = newBaselineView(*cmp, v.Failures)
	}
	var buf bytes.Buffer
	if err := htmlTemplate.Execute(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func newBaselineView(cmp Comparison, failures []specView) *baselineView {
	// A repeated suite+name links to its first failure; good enough for a link.
	anchors := map[[2]string]int{}
	for _, f := range failures {
		if key := [2]string{f.Suite, f.Name}; anchors[key] == 0 {
			anchors[key] = f.Index
		}
	}
	bv := &baselineView{Comparison: cmp}
	for _, class := range []struct {
		name  string
		specs []SpecChange
	}{{"regressed", cmp.Regressed}, {"fixed", cmp.Fixed}, {"appeared", cmp.Appeared}, {"disappeared", cmp.Disappeared}, {"changed", cmp.Changed}} {
		for _, s := range class.specs {
			row := specChangeRow{Class: class.name, SpecChange: s}
			if class.name != "disappeared" {
				row.Anchor = anchors[[2]string{s.Suite, s.Name}]
			}
			bv.Specs = append(bv.Specs, row)
		}
	}
	return bv
}

func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// formatNumber keeps four significant digits: enough for latencies and
// counts without the noise of full float precision.
func formatNumber(f float64) string {
	return fmt.Sprintf("%.4g", f)
}
