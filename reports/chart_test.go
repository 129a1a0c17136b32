package reports

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestChart(t *testing.T) {
	c := newChart([]Measurement{
		{Name: strings.Repeat("very long measurement name ", 4), Median: 5, P90: 8, P99: 10, Max: 10},
		{Name: "all zero"},
	})
	if len(c.Rows) != 2 || c.Height <= 0 {
		t.Fatalf("chart = %+v", c)
	}
	if l := c.Rows[0].Label; utf8.RuneCountInString(l) != chartLabelMax || !strings.HasSuffix(l, "…") {
		t.Errorf("label not shortened: %q", l)
	}
	widths := []int{c.Rows[0].Bars[0].W, c.Rows[0].Bars[1].W, c.Rows[0].Bars[2].W}
	if widths[0] != chartBarMaxW/2 || widths[2] != chartBarMaxW {
		t.Errorf("bar widths %v, want median at half and p99 at full width", widths)
	}
	for _, b := range c.Rows[1].Bars {
		if b.W != 0 {
			t.Errorf("zero measurement drew a bar: %+v", b)
		}
	}
}
