package reports

import (
	"encoding/json"
	"math"
	"sort"
	"strings"

	"github.com/onsi/ginkgo/v2/types"
	"github.com/onsi/gomega/gmeasure"
)

// EvidencePrefix starts the name of a report entry that carries evidence:
// "evidence:<kind>:<title>", with the body as the entry's value.
const EvidencePrefix = "evidence:"

// EvidenceEntryName is the report entry name suites use to attach evidence:
//
//	AddReportEntry(reports.EvidenceEntryName(reports.EvidenceKubernetes, "PVC events"), body)
func EvidenceEntryName(kind, title string) string {
	return EvidencePrefix + kind + ":" + title
}

// fromEntries picks evidence and gmeasure experiments out of a spec's report
// entries; other entries are not part of the model.
func fromEntries(entries types.ReportEntries) ([]Evidence, []Measurement) {
	var evidence []Evidence
	var experiments []*gmeasure.Experiment
	for _, e := range entries {
		if ev, ok := evidenceFrom(e); ok {
			evidence = append(evidence, ev)
			continue
		}
		if exp := experimentFrom(e.Value); exp != nil {
			experiments = append(experiments, exp)
		}
	}
	return evidence, measurementsFrom(experiments)
}

func evidenceFrom(e types.ReportEntry) (Evidence, bool) {
	rest, ok := strings.CutPrefix(e.Name, EvidencePrefix)
	if !ok {
		return Evidence{}, false
	}
	kind, title, _ := strings.Cut(rest, ":")
	kind = strings.ToLower(strings.TrimSpace(kind))
	title = strings.TrimSpace(title)
	if kind == "" {
		kind = "other"
	}
	if title == "" {
		title = kind
	}
	return Evidence{Kind: kind, Title: title, Body: stripANSI(entryBody(e.Value))}, true
}

func entryBody(v types.ReportEntryValue) string {
	// %+v would print bytes as numbers. This only helps in-process: once
	// Ginkgo has sent the entry as JSON, its representation is fixed.
	if b, ok := v.GetRawValue().([]byte); ok {
		return string(b)
	}
	// String covers both in-process values and entries rehydrated from JSON
	// (parallel runs), for which it returns the captured representation.
	return v.String()
}

// experimentFrom returns the experiment held by a report entry, if any.
func experimentFrom(v types.ReportEntryValue) *gmeasure.Experiment {
	switch raw := v.GetRawValue().(type) {
	case *gmeasure.Experiment:
		return raw
	case map[string]any:
		// Entry rehydrated from JSON: only its AsJSON form is left.
		if _, ok := raw["Measurements"]; !ok {
			return nil
		}
		var exp gmeasure.Experiment
		if json.Unmarshal([]byte(v.AsJSON), &exp) != nil {
			return nil
		}
		return &exp
	}
	return nil
}

// measurementsFrom summarises every duration and value measurement. With
// several experiments in one spec the experiment name is prefixed, as
// measurement names are only unique within an experiment.
func measurementsFrom(exps []*gmeasure.Experiment) []Measurement {
	var out []Measurement
	for _, exp := range exps {
		// Reading Measurements directly: the spec has finished, so nothing
		// records into the experiment any more.
		for _, m := range exp.Measurements {
			name := m.Name
			if len(exps) > 1 {
				name = exp.Name + ": " + m.Name
			}
			if sum, ok := summarise(m); ok {
				sum.Name = name
				out = append(out, sum)
			}
		}
	}
	return out
}

// summarise uses gmeasure's stats for min, median and max and adds the
// percentiles gmeasure does not compute. Durations are reported in seconds.
func summarise(m gmeasure.Measurement) (Measurement, bool) {
	var samples []float64
	units := m.Units
	switch m.Type {
	case gmeasure.MeasurementTypeValue:
		samples = append(samples, m.Values...)
	case gmeasure.MeasurementTypeDuration:
		for _, d := range m.Durations {
			samples = append(samples, d.Seconds())
		}
		units = "s"
	default:
		return Measurement{}, false // notes carry no samples
	}
	if len(samples) == 0 {
		return Measurement{}, false
	}
	st := m.Stats()
	stat := func(s gmeasure.Stat) float64 {
		if st.Type == gmeasure.StatsTypeDuration {
			return st.DurationFor(s).Seconds()
		}
		return st.ValueFor(s)
	}
	sort.Float64s(samples)
	return Measurement{
		Units:   units,
		Samples: st.N,
		Min:     stat(gmeasure.StatMin),
		Median:  stat(gmeasure.StatMedian),
		P90:     percentile(samples, 90),
		P99:     percentile(samples, 99),
		Max:     stat(gmeasure.StatMax),
	}, true
}

// percentile uses the nearest-rank method on sorted samples, so the result is
// always an observed sample.
func percentile(sorted []float64, p float64) float64 {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}
