package labels

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		filter  string
		wantErr bool
	}{
		{"", false},
		{"csi", false},
		{"csi && !scale", false},
		{"(csi || cpi) && provisioning", false},
		{"csi,negative", false},
		{"/prov.*/", false},
		{"csii", true},
		{"csi && !scael", true},
		{"csi &&", true},
		{"(csi", true},
	} {
		err := Validate(tc.filter)
		if (err != nil) != tc.wantErr {
			t.Errorf("Validate(%q) = %v, want error %v", tc.filter, err, tc.wantErr)
		}
	}
}

// A syntax error is one plain line: the reason and where, no terminal
// colours (Ginkgo's own error text is coloured and says only "Syntax Error").
func TestValidateSyntaxErrorIsPlain(t *testing.T) {
	for filter, want := range map[string]string{
		"csi &&": "invalid label filter \"csi &&\": ",
		"(csi":   "Mismatched '('",
		"/((/":   "RegExp compilation error",
	} {
		err := Validate(filter)
		if err == nil {
			t.Fatalf("Validate(%q) = nil", filter)
		}
		msg := err.Error()
		if !strings.Contains(msg, want) || strings.ContainsAny(msg, "\x1b\n") || strings.Contains(msg, "{{") {
			t.Errorf("Validate(%q) = %q, want one plain line containing %q", filter, msg, want)
		}
	}
}

func TestWithoutFindings(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "!finding"},
		{"  ", "!finding"},
		{"csi", "(csi) && !finding"},
		{"csi || cpi", "(csi || cpi) && !finding"},
		{"finding", "finding"},
		{"csi && finding", "csi && finding"},
		{"!finding", "!finding"},
		{"(csi && !Finding)", "(csi && !Finding)"},
		{"/find/", "(/find/) && !finding"},
	} {
		got := WithoutFindings(tc.in)
		if got != tc.want {
			t.Errorf("WithoutFindings(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if err := Validate(got); err != nil {
			t.Errorf("WithoutFindings(%q) = %q, not a valid filter: %v", tc.in, got, err)
		}
	}
}
