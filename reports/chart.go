package reports

import "fmt"

// The chart is plain inline SVG computed here, so the report needs no
// script or charting library. Each measurement gets a row of three bars
// (median, p90, p99) scaled to its own maximum, because measurements in one spec
// rarely share units.
const (
	chartWidth    = 720
	chartLabelW   = 240 // room for the measurement name
	chartBarMaxW  = 360
	chartBarH     = 12
	chartRowGap   = 14
	chartLabelMax = 36 // runes that fit in chartLabelW; the table has the full name
)

type chart struct {
	Width, Height int
	Rows          []chartRow
}

type chartRow struct {
	Label  string
	LabelY int
	Bars   []chartBar
}

type chartBar struct {
	Stat       string // median, p90 or p99; also the CSS class
	X, Y, W, H int
	TextX      int
	TextY      int
	Text       string
}

func newChart(ms []Measurement) chart {
	c := chart{Width: chartWidth}
	y := 4
	for _, m := range ms {
		row := chartRow{Label: shorten(m.Name, chartLabelMax), LabelY: y + chartBarH + chartBarH/2}
		scale := m.P99
		if m.Max > scale {
			scale = m.Max
		}
		for _, b := range []struct {
			stat  string
			value float64
		}{{"median", m.Median}, {"p90", m.P90}, {"p99", m.P99}} {
			w := 0
			if scale > 0 && b.value > 0 {
				w = max(1, int(b.value/scale*chartBarMaxW))
			}
			row.Bars = append(row.Bars, chartBar{
				Stat: b.stat, X: chartLabelW, Y: y, W: w, H: chartBarH - 2,
				TextX: chartLabelW + w + 6, TextY: y + chartBarH - 3,
				Text: fmt.Sprintf("%s %s %s", b.stat, formatNumber(b.value), m.Units),
			})
			y += chartBarH
		}
		c.Rows = append(c.Rows, row)
		y += chartRowGap
	}
	c.Height = y
	return c
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
