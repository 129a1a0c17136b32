package reports

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/onsi/ginkgo/v2/types"
)

// FromGinkgo converts a Ginkgo report into a Run.
//
// Only It specs are kept. Suite-level nodes (BeforeSuite, AfterSuite,
// ReportAfterSuite, ...) are kept only when they failed, as a spec named
// "[<NodeType>]", because a broken setup otherwise leaves nothing but a list
// of skipped specs behind.
func FromGinkgo(r types.Report, runID, target string) Run {
	run := Run{
		ID:          runID,
		Target:      target,
		StartedAt:   r.StartTime,
		FinishedAt:  r.EndTime,
		LabelFilter: r.SuiteConfig.LabelFilter,
		// Ginkgo ORs its focus regexps, which "|" expresses as one regexp.
		Focus: strings.Join(r.SuiteConfig.FocusStrings, "|"),
	}
	for _, sr := range r.SpecReports {
		switch {
		case sr.LeafNodeType == types.NodeTypeIt:
			run.Specs = append(run.Specs, specFromGinkgo(sr, r.SuiteDescription))
		case sr.LeafNodeType.Is(types.NodeTypesForSuiteLevelNodes) && sr.Failed():
			s := specFromGinkgo(sr, r.SuiteDescription)
			s.Name = "[" + sr.LeafNodeType.String() + "]"
			run.Specs = append(run.Specs, s)
		}
	}
	return run
}

func specFromGinkgo(sr types.SpecReport, suiteDescription string) Spec {
	s := Spec{
		Suite:     suiteOf(sr, suiteDescription),
		Name:      sr.FullText(),
		Labels:    sr.Labels(),
		State:     stateOf(sr.State),
		StartedAt: sr.StartTime,
		Duration:  sr.RunTime,
		Output:    stripANSI(sr.CombinedOutput()),
	}
	if len(s.Labels) == 0 {
		s.Labels = nil // keeps report.json free of empty arrays
	}
	switch {
	case sr.State == types.SpecStateSkipped:
		s.SkipReason = stripANSI(sr.Failure.Message)
	case sr.State.Is(types.SpecStateFailureStates):
		s.Failure = failureOf(sr.Failure, sr.State)
	}
	s.Evidence, s.Measurements = fromEntries(sr.ReportEntries)
	return s
}

// suiteOf names the suite a spec belongs to: the folder under suites/ that
// holds the spec's leaf node, else its top container, else the Ginkgo suite.
func suiteOf(sr types.SpecReport, suiteDescription string) string {
	if name := suiteFromPath(sr.LeafNodeLocation.FileName); name != "" {
		return name
	}
	if len(sr.ContainerHierarchyTexts) > 0 && sr.ContainerHierarchyTexts[0] != "" {
		return sr.ContainerHierarchyTexts[0]
	}
	if suiteDescription != "" {
		return suiteDescription
	}
	return "unknown"
}

// suiteFromPath returns the folder directly under the innermost "suites"
// directory of file, e.g. ".../suites/csi/provisioning.go" -> "csi".
func suiteFromPath(file string) string {
	parts := strings.Split(strings.ReplaceAll(file, `\`, "/"), "/")
	// parts[i+1] must be a folder, so at least a file name must follow it.
	for i := len(parts) - 3; i >= 0; i-- {
		if parts[i] == "suites" && parts[i+1] != "" {
			return parts[i+1]
		}
	}
	return ""
}

func stateOf(s types.SpecState) string {
	switch s {
	case types.SpecStatePassed:
		return StatePassed
	case types.SpecStateSkipped:
		return StateSkipped
	case types.SpecStatePending:
		return StatePending
	case types.SpecStateInterrupted:
		return StateInterrupted
	case types.SpecStateTimedout:
		return StateTimedOut
	case types.SpecStatePanicked:
		return StatePanicked
	}
	return StateFailed // failed, aborted, and anything new Ginkgo may add
}

func failureOf(f types.Failure, state types.SpecState) *Failure {
	msg := f.Message
	if f.ForwardedPanic != "" {
		msg += "\n" + f.ForwardedPanic
	}
	// A timed-out or interrupted node's follow-on failure is what its wait
	// saw last (the claim's events, the volume's datastore): without it the
	// failure says only that time ran out.
	if a := f.AdditionalFailure; a != nil && a.Failure.Message != "" {
		msg += "\nthen: " + a.Failure.Message
	}
	// A panic's message says little; its stack trace says where it came from.
	if state == types.SpecStatePanicked && f.Location.FullStackTrace != "" {
		msg += "\n\n" + f.Location.FullStackTrace
	}
	loc := ""
	if f.Location.FileName != "" || f.Location.CustomMessage != "" {
		loc = f.Location.String()
	}
	// Name the setup or cleanup node that failed, as the spec's own text
	// would otherwise suggest the It body failed.
	if f.FailureNodeType != types.NodeTypeInvalid && f.FailureNodeType != types.NodeTypeIt {
		loc = strings.TrimSpace(fmt.Sprintf("%s (in [%s])", loc, f.FailureNodeType))
	}
	return &Failure{Message: stripANSI(msg), Location: loc}
}

// ansiEscape matches terminal colour codes, which Ginkgo and Gomega output may
// contain and which XML cannot carry.
var ansiEscape = regexp.MustCompile("\x1b\\[[0-9;?]*[ -/]*[@-~]")

func stripANSI(s string) string {
	if !strings.Contains(s, "\x1b") {
		return s
	}
	return ansiEscape.ReplaceAllString(s, "")
}
