package reports

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
	"time"
)

// The JUnit dialect below is the common denominator that Jenkins, GitLab,
// GitHub Actions reporters and Prow accept: failures for assertion-like
// outcomes (failed, timed out), errors for broken runs (panic, interrupt).

type junitTestSuites struct {
	XMLName   xml.Name         `xml:"testsuites"`
	Name      string           `xml:"name,attr"`
	Tests     int              `xml:"tests,attr"`
	Failures  int              `xml:"failures,attr"`
	Errors    int              `xml:"errors,attr"`
	Skipped   int              `xml:"skipped,attr"`
	Time      string           `xml:"time,attr"`
	Timestamp string           `xml:"timestamp,attr,omitempty"`
	Suites    []junitTestSuite `xml:"testsuite"`
}

type junitTestSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitTestCase `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitTestCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Status    string        `xml:"status,attr"`
	Skipped   *junitSkipped `xml:"skipped"`
	Failure   *junitProblem `xml:"failure"`
	Error     *junitProblem `xml:"error"`
	SystemOut *junitText    `xml:"system-out"`
}

// junitText is written as CDATA so that multi-line output stays readable in
// the raw file; encoding/xml would turn every newline into &#xA; otherwise.
type junitText struct {
	Text string `xml:",cdata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",cdata"`
}

// renderJUnit renders the run as JUnit XML; the run must already be redacted.
func renderJUnit(run Run) ([]byte, error) {
	doc := junitTestSuites{Name: run.ID, Timestamp: junitTime(run.StartedAt)}
	props := []junitProperty{
		{Name: "run.id", Value: run.ID},
		{Name: "target", Value: run.Target},
		{Name: "label.filter", Value: run.LabelFilter},
		{Name: "focus", Value: run.Focus},
	}
	props = append(props, qualifiedProperties(run.Qualified)...)
	for _, f := range run.Preflight {
		props = append(props, junitProperty{Name: "preflight." + f.ID, Value: f.Severity + ": " + f.Name + ": " + f.Message})
	}
	var total time.Duration
	for _, name := range suiteNames(run.Specs) {
		suite := junitTestSuite{Name: name, Properties: props}
		var elapsed time.Duration
		var first time.Time
		for _, s := range run.Specs {
			if s.Suite != name {
				continue
			}
			tc := junitCase(s)
			suite.Tests++
			switch {
			case tc.Failure != nil:
				suite.Failures++
			case tc.Error != nil:
				suite.Errors++
			case tc.Skipped != nil:
				suite.Skipped++
			}
			elapsed += s.Duration
			if !s.StartedAt.IsZero() && (first.IsZero() || s.StartedAt.Before(first)) {
				first = s.StartedAt
			}
			suite.Cases = append(suite.Cases, tc)
		}
		suite.Time, suite.Timestamp = seconds(elapsed), junitTime(first)
		doc.Tests += suite.Tests
		doc.Failures += suite.Failures
		doc.Errors += suite.Errors
		doc.Skipped += suite.Skipped
		total += elapsed
		doc.Suites = append(doc.Suites, suite)
	}
	// Wall-clock time when known: specs' durations miss setup and teardown.
	if d := run.FinishedAt.Sub(run.StartedAt); !run.StartedAt.IsZero() && !run.FinishedAt.IsZero() && d >= 0 {
		total = d
	}
	doc.Time = seconds(total)

	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

func junitCase(s Spec) junitTestCase {
	tc := junitTestCase{
		Name:      s.Name,
		Classname: s.Suite,
		Time:      seconds(s.Duration),
		Status:    s.State,
	}
	if out := systemOut(s); out != "" {
		tc.SystemOut = &junitText{Text: xmlSafe(out)}
	}
	switch {
	case s.State == StateSkipped:
		tc.Skipped = &junitSkipped{Message: s.SkipReason}
	case s.State == StatePending:
		tc.Skipped = &junitSkipped{Message: "pending"}
	case s.State == StatePanicked || s.State == StateInterrupted:
		tc.Error = problem(s)
	case s.Failed():
		tc.Failure = problem(s)
	}
	return tc
}

func problem(s Spec) *junitProblem {
	f := Failure{}
	if s.Failure != nil {
		f = *s.Failure
	}
	body := f.Message
	if f.Location != "" {
		body = f.Location + "\n\n" + f.Message
	}
	return &junitProblem{Message: f.Message, Type: s.State, Body: xmlSafe(body)}
}

// systemOut carries what a CI page needs to explain a result: the evidence
// first, then the captured output.
func systemOut(s Spec) string {
	var b strings.Builder
	for _, e := range s.Evidence {
		fmt.Fprintf(&b, "=== evidence %s: %s ===\n%s\n\n", e.Kind, e.Title, strings.TrimRight(e.Body, "\n"))
	}
	if s.Output != "" {
		fmt.Fprintf(&b, "=== output ===\n%s\n", strings.TrimRight(s.Output, "\n"))
	}
	return b.String()
}

// suiteNames lists the suites of the run, sorted, each once.
func suiteNames(specs []Spec) []string {
	m := map[string]Counts{}
	for _, s := range specs {
		m[s.Suite] = Counts{}
	}
	return sortedKeys(m)
}

// xmlSafe replaces characters XML cannot carry at all (control characters
// from tool output, mostly); encoding/xml does not check CDATA content.
func xmlSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r',
			r >= 0x20 && r <= 0xD7FF,
			r >= 0xE000 && r <= 0xFFFD,
			r >= 0x10000 && r <= 0x10FFFF:
			return r
		}
		return '\uFFFD'
	}, s)
}

func seconds(d time.Duration) string {
	return fmt.Sprintf("%.3f", d.Seconds())
}

// junitTime uses the zone-less ISO 8601 form of the JUnit schema, in UTC.
func junitTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05")
}

// qualifiedProperties are what was under test, as JUnit properties.
func qualifiedProperties(q *Qualified) []junitProperty {
	if q == nil {
		return nil
	}
	props := []junitProperty{
		{Name: "vsconform.version", Value: q.Vsconform},
		{Name: "seed", Value: fmt.Sprint(q.Seed)},
		{Name: "kubernetes.version", Value: q.Kubernetes},
		{Name: "vcenter", Value: q.VCenter},
		{Name: "vcenter.build", Value: q.VCenterBuild},
		{Name: "capabilities", Value: strings.Join(q.Capabilities, ",")},
	}
	for _, c := range q.Components {
		props = append(props, junitProperty{Name: "component." + c.Name, Value: strings.TrimSpace(c.Version + " " + c.Source)})
	}
	return props
}
