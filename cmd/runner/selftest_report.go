package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"path/filepath"
	"strings"

	"github.com/vsphere-conformance/vsphere-conformance/reports"
)

// writeSelftestReport writes selftest.json, selftest.txt and the matrix as
// selftest.html, each atomically.
func writeSelftestReport(dir string, r selftestReport) error {
	if r.Profiles == nil {
		r.Profiles = []selftestProfile{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return err
	}
	if err := reports.WriteFileAtomic(filepath.Join(dir, selftestJSONFile), buf.Bytes()); err != nil {
		return err
	}
	if err := reports.WriteFileAtomic(filepath.Join(dir, selftestTextFile), []byte(selftestText(r))); err != nil {
		return err
	}
	var html bytes.Buffer
	if err := selftestHTML.Execute(&html, matrixOf(r)); err != nil {
		return err
	}
	return reports.WriteFileAtomic(filepath.Join(dir, selftestHTMLFile), html.Bytes())
}

// selftestText is selftest.txt: the verdict, one line per profile, then
// each catcher's outcome.
func selftestText(r selftestReport) string {
	var b strings.Builder
	fmt.Fprintln(&b, selftestSummary(r))
	for _, p := range r.Profiles {
		fmt.Fprintf(&b, "\n%s: %s%s (%s)\n  breaks: %s\n  symptom: /%s/\n", p.Name, p.Verdict, suffix(p.Why), seconds(p.WallSeconds), p.Breaks, p.Symptom)
		for _, c := range p.Specs {
			fmt.Fprintf(&b, "  %-15s %s\n", c.Outcome, c.Spec)
			if c.Message != "" {
				fmt.Fprintf(&b, "                  %s\n", strings.ReplaceAll(c.Message, "\n", "\n                  "))
			}
		}
	}
	if c := r.Clean; c != nil {
		fmt.Fprintf(&b, "\nclean run: passed %v, %d specs, exit %d (%s)\n", c.Passed, c.Specs, c.ExitCode, seconds(c.WallSeconds))
		for _, f := range c.Failures {
			fmt.Fprintf(&b, "  failed: %s\n", f)
		}
		if c.Problem != "" {
			fmt.Fprintf(&b, "  %s\n", c.Problem)
		}
	}
	return b.String()
}

// matrix is the HTML view: profiles as rows, catcher specs as numbered
// columns (the legend names them).
type matrix struct {
	Summary  string
	Report   selftestReport
	Specs    []string
	Rows     []matrixRow
	CleanRun *selftestClean
}

type matrixRow struct {
	Profile selftestProfile
	Cells   []matrixCell
}

type matrixCell struct {
	Outcome, Title string
}

func matrixOf(r selftestReport) matrix {
	m := matrix{Summary: selftestSummary(r), Report: r, Specs: matrixSpecs(r), CleanRun: r.Clean}
	col := map[string]int{}
	for i, s := range m.Specs {
		col[s] = i
	}
	for _, p := range r.Profiles {
		row := matrixRow{Profile: p, Cells: make([]matrixCell, len(m.Specs))}
		for _, c := range p.Specs {
			row.Cells[col[c.Spec]] = matrixCell{Outcome: c.Outcome, Title: c.Message}
		}
		m.Rows = append(m.Rows, row)
	}
	return m
}

var selftestHTML = template.Must(template.New("selftest").Funcs(template.FuncMap{
	"inc": func(i int) int { return i + 1 },
	"mark": func(o string) string {
		switch o {
		case outcomeCaught:
			return "✔"
		case outcomePassed:
			return "✘"
		case outcomeUnnamed:
			return "?"
		case outcomeCleanup:
			return "c"
		case outcomeSkipped, outcomeNotInRun:
			return "–"
		}
		return ""
	},
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>vsconform selftest</title>
<style>
body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:center}
td.name{text-align:left}.caught{background:#cfc}.passed{background:#fcc}.failed-unnamed,.failed-cleanup{background:#fec}
.skipped,.not-run{background:#eee}.verdict-caught{color:#070}.verdict-missed,.verdict-error{color:#b00;font-weight:bold}
ol li{margin:.2em 0}small{color:#555}
</style></head><body>
<h1>vsconform selftest</h1>
<p>{{.Summary}}</p>
<p><small>A cell is a catcher spec's outcome under the row's defect profile: ✔ failed naming the symptom (caught), ✘ passed (the defect went unseen), ? failed without naming the symptom, c failed only in its cleanup, – did not run. A profile is caught when one catcher caught it; hover a cell for the failure.</small></p>
<table>
<thead><tr><th>profile</th><th>verdict</th>{{range $i, $s := .Specs}}<th title="{{$s}}">{{inc $i}}</th>{{end}}</tr></thead>
<tbody>
{{- range .Rows}}
<tr><td class="name" title="{{.Profile.Breaks}}">{{.Profile.Name}}<br><small>/{{.Profile.Symptom}}/</small></td><td class="verdict-{{.Profile.Verdict}}">{{.Profile.Verdict}}{{if .Profile.Why}}<br><small>{{.Profile.Why}}</small>{{end}}</td>
{{- range .Cells}}<td class="{{.Outcome}}" title="{{.Title}}">{{mark .Outcome}}</td>{{end}}</tr>
{{- end}}
</tbody></table>
<h2>Catcher specs</h2>
<ol>{{range .Specs}}<li>{{.}}</li>{{end}}</ol>
<h2>Clean run</h2>
{{- with .CleanRun}}
<p class="verdict-{{if .Passed}}caught{{else}}missed{{end}}">{{if .Passed}}passed{{else}}FAILED{{end}}: {{.Specs}} specs, exit {{.ExitCode}}{{if .Problem}}; {{.Problem}}{{end}}</p>
{{- if .Failures}}<ul>{{range .Failures}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{- else}}<p>not run</p>{{end}}
<h2>Profiles</h2>
<dl>{{range .Report.Profiles}}<dt><b>{{.Name}}</b></dt><dd>{{.Breaks}}</dd>{{end}}</dl>
</body></html>
`))
