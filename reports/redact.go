package reports

import (
	"encoding/base64"
	"encoding/json"
	"html"
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"
)

// Redacted replaces every secret in written reports.
const Redacted = "[REDACTED]"

// minSecretLen keeps very short "secrets" from shredding ordinary text.
const minSecretLen = 4

// Redactor removes known secrets (passwords, tokens) from report text. The
// zero value redacts nothing.
type Redactor struct {
	// forms holds every secret in each encoding it may appear in, longest
	// first so that a secret containing another one is replaced whole.
	forms []string
}

// NewRedactor returns a Redactor for the given secrets. Empty, blank and very
// short (fewer than 4 characters) secrets are ignored.
func NewRedactor(secrets ...string) Redactor {
	seen := map[string]bool{}
	var forms []string
	for _, s := range secrets {
		if strings.TrimSpace(s) == "" || utf8.RuneCountInString(s) < minSecretLen {
			continue
		}
		for _, f := range encodedForms(s) {
			if f != "" && !seen[f] {
				seen[f] = true
				forms = append(forms, f)
			}
		}
	}
	sort.SliceStable(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	return Redactor{forms: forms}
}

// encodedForms lists the ways a secret shows up in captured text: raw, in
// URLs (query, path, user info), escaped inside JSON or HTML dumps, and
// base64-encoded as in the data of a Kubernetes Secret.
func encodedForms(s string) []string {
	quoted, _ := json.Marshal(s)
	return []string{
		s,
		url.QueryEscape(s),
		url.PathEscape(s),
		url.User(s).String(),
		strings.Trim(string(quoted), `"`),
		html.EscapeString(s),
		base64.StdEncoding.EncodeToString([]byte(s)),
		base64.RawStdEncoding.EncodeToString([]byte(s)),
		base64.URLEncoding.EncodeToString([]byte(s)),
		base64.RawURLEncoding.EncodeToString([]byte(s)),
	}
}

// Redact replaces every known secret in s with [REDACTED].
func (r Redactor) Redact(s string) string {
	for _, f := range r.forms {
		if strings.Contains(s, f) {
			s = strings.ReplaceAll(s, f, Redacted)
		}
	}
	return s
}

// Run returns a deep copy of run with every text field redacted; run itself
// is left untouched.
func (r Redactor) Run(run Run) Run {
	out := run
	out.ID = r.Redact(run.ID)
	out.Target = r.Redact(run.Target)
	out.LabelFilter = r.Redact(run.LabelFilter)
	out.Focus = r.Redact(run.Focus)
	out.Logs = r.strings(run.Logs)
	if q := run.Qualified; q != nil {
		rq := *q
		rq.Vsconform, rq.Kubernetes, rq.VCenter, rq.VCenterBuild = r.Redact(q.Vsconform), r.Redact(q.Kubernetes), r.Redact(q.VCenter), r.Redact(q.VCenterBuild)
		rq.Capabilities, rq.Unknown = r.strings(q.Capabilities), r.strings(q.Unknown)
		rq.Components = nil
		for _, c := range q.Components {
			rq.Components = append(rq.Components, Component{Name: r.Redact(c.Name), Version: r.Redact(c.Version), Source: r.Redact(c.Source)})
		}
		out.Qualified = &rq
	}
	out.Preflight = nil
	for _, f := range run.Preflight {
		out.Preflight = append(out.Preflight, Finding{ID: r.Redact(f.ID), Name: r.Redact(f.Name), Severity: f.Severity,
			Object: r.Redact(f.Object), Message: r.Redact(f.Message), Fix: r.Redact(f.Fix)})
	}
	if run.Specs != nil {
		out.Specs = make([]Spec, len(run.Specs))
		for i, s := range run.Specs {
			out.Specs[i] = r.spec(s)
		}
	}
	return out
}

func (r Redactor) spec(s Spec) Spec {
	out := s
	out.Suite = r.Redact(s.Suite)
	out.Name = r.Redact(s.Name)
	out.Labels = r.strings(s.Labels)
	out.State = r.Redact(s.State)
	out.SkipReason = r.Redact(s.SkipReason)
	out.Output = r.Redact(s.Output)
	if s.Failure != nil {
		out.Failure = &Failure{Message: r.Redact(s.Failure.Message), Location: r.Redact(s.Failure.Location)}
	}
	if s.Evidence != nil {
		out.Evidence = make([]Evidence, len(s.Evidence))
		for i, e := range s.Evidence {
			out.Evidence[i] = Evidence{Kind: r.Redact(e.Kind), Title: r.Redact(e.Title), Body: r.Redact(e.Body)}
		}
	}
	if s.Measurements != nil {
		out.Measurements = make([]Measurement, len(s.Measurements))
		for i, m := range s.Measurements {
			m.Name, m.Units = r.Redact(m.Name), r.Redact(m.Units)
			out.Measurements[i] = m
		}
	}
	return out
}

func (r Redactor) strings(in []string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = r.Redact(s)
	}
	return out
}
