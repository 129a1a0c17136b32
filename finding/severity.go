// Package finding holds what the checkers' findings share (desktop check,
// preflight): the severity scale and its order.
package finding

// Severity of a finding. An error means the setup will not work as it is;
// a warning means it may work but against the documentation's advice.
type Severity string

const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
)

// Rank orders severities for reports: errors first.
func (s Severity) Rank() int {
	switch s {
	case SeverityError:
		return 0
	case SeverityWarning:
		return 1
	}
	return 2
}
