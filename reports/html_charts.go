package reports

import (
	"cmp"
	"fmt"
	"html/template"
	"slices"
	"strings"

	"github.com/portcullis-sec/portcullis/exposure"
)

// The charts of the HTML report are SVG drawn here: no script library and
// no fetch. Every label passes through template.HTMLEscapeString; colours
// come from classes of the page's style sheet (the CSP allows no inline
// style attributes).

// chart is one chart of the page.
type chart struct {
	ID, Title, Note string
	SVG             template.HTML
}

type bar struct {
	Label string
	Value int
	Class string
}

// maxBars caps the bars of a chart (the largest are kept).
const maxBars = 8

func charts(d *Document) []chart {
	s := &d.Summary
	var out []chart
	sev := s.Findings.BySeverity
	out = append(out, chart{ID: "chart-severity", Title: "Active findings by severity", SVG: barChart([]bar{
		{"critical", sev.Critical, "sev-critical"}, {"high", sev.High, "sev-high"}, {"medium", sev.Medium, "sev-medium"},
		{"low", sev.Low, "sev-low"}, {"info", sev.Info, "sev-info"},
	})})

	byScope := map[string]int{}
	for _, f := range d.Findings {
		if !f.Suppressed {
			byScope[f.Exposure.Provider+" "+f.Exposure.Account]++
		}
	}
	out = append(out, chart{ID: "chart-scope", Title: "Active findings by account, project or subscription", SVG: barChart(topBars(byScope, "acct"))})

	// Services by what answered (the probe), else what the rules named,
	// else the port.
	services := map[string]int{}
	ruleService := map[*Exposure]string{}
	for _, f := range d.Findings {
		if f.Service != "" && ruleService[f.Exposure] == "" {
			ruleService[f.Exposure] = f.Service
		}
	}
	for _, e := range d.Exposures {
		if e.Level != exposure.Effective {
			continue
		}
		name := ""
		if p := e.Probe; p != nil && p.State == exposure.ProbeOpen && p.Service != "" {
			name = p.Service
		} else if s := ruleService[e]; s != "" {
			name = s
		}
		label := portProtoLabel(e)
		if name != "" {
			label = name + " " + label
		}
		services[label]++
	}
	out = append(out, chart{ID: "chart-services", Title: "Top exposed services and ports", Note: "effective exposures",
		SVG: barChart(topBars(services, "svc"))})

	out = append(out, chart{ID: "chart-levels", Title: "Effective and latent exposures", SVG: barChart([]bar{
		{"effective", s.Exposures.Effective, "lvl-effective"}, {"latent", s.Exposures.Latent, "lvl-latent"},
		{"targets (effective)", s.Exposures.Targets, "acct"},
	})})

	if c := d.Changes; c != nil && len(c.Trend) >= 2 {
		out = append(out, chart{ID: "chart-trend", Title: "Trend over past runs", Note: fmt.Sprintf("%d runs", len(c.Trend)),
			SVG: trendChart(c.Trend)})
	}
	return out
}

// topBars keeps the largest counts, largest first (ties by label).
func topBars(counts map[string]int, class string) []bar {
	var bars []bar
	for k, v := range counts {
		bars = append(bars, bar{k, v, class})
	}
	slices.SortFunc(bars, func(a, b bar) int { return cmp.Or(cmp.Compare(b.Value, a.Value), strings.Compare(a.Label, b.Label)) })
	if len(bars) > maxBars {
		bars = bars[:maxBars]
	}
	return bars
}

const (
	chartWidth = 420
	labelWidth = 160
	barHeight  = 18
	barGap     = 6
)

// barChart draws horizontal bars with their labels and values.
func barChart(bars []bar) template.HTML {
	if len(bars) == 0 {
		return template.HTML(`<p class="empty">Nothing to chart.</p>`)
	}
	top := 1
	for _, b := range bars {
		top = max(top, b.Value)
	}
	h := len(bars)*(barHeight+barGap) + barGap
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="chart" viewBox="0 0 %d %d" role="img" xmlns="http://www.w3.org/2000/svg">`, chartWidth, h)
	span := chartWidth - labelWidth - 44
	for i, b := range bars {
		y := barGap + i*(barHeight+barGap)
		w := b.Value * span / top
		if b.Value > 0 {
			w = max(w, 2)
		}
		label := b.Label
		// The label column holds about 24 characters; the bar's tooltip
		// has the whole label.
		if r := []rune(label); len(r) > 24 {
			label = string(r[:23]) + "…"
		}
		fmt.Fprintf(&sb, `<text x="%d" y="%d" text-anchor="end" class="cl">%s</text>`, labelWidth-6, y+barHeight-5, template.HTMLEscapeString(label))
		fmt.Fprintf(&sb, `<rect x="%d" y="%d" width="%d" height="%d" rx="3" class="bar %s"><title>%s: %d</title></rect>`,
			labelWidth, y, w, barHeight, template.HTMLEscapeString(b.Class), template.HTMLEscapeString(b.Label), b.Value)
		fmt.Fprintf(&sb, `<text x="%d" y="%d" class="cv">%d</text>`, labelWidth+w+5, y+barHeight-5, b.Value)
	}
	sb.WriteString(`</svg>`)
	// Safe: the markup is this function's; the labels and classes are
	// escaped with HTMLEscapeString above, the rest are integers.
	return template.HTML(sb.String()) //nolint:gosec // markup built here, every string in it escaped
}

// trendChart draws effective and latent exposures and critical+high
// findings over the runs, oldest first.
func trendChart(points []TrendPoint) template.HTML {
	const w, h, left, bottom, top = chartWidth, 170, 36, 30, 10
	series := []struct {
		name, class string
		v           func(TrendPoint) int
	}{
		{"effective", "tr-eff", func(p TrendPoint) int { return p.Effective }},
		{"latent", "tr-lat", func(p TrendPoint) int { return p.Latent }},
		{"critical + high", "tr-sev", func(p TrendPoint) int { return p.BySeverity.Critical + p.BySeverity.High }},
	}
	peak := 1
	for _, p := range points {
		for _, s := range series {
			peak = max(peak, s.v(p))
		}
	}
	x := func(i int) int { return left + i*(w-left-12)/max(len(points)-1, 1) }
	y := func(v int) int { return top + (h-top-bottom)*(peak-v)/peak }
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="chart" viewBox="0 0 %d %d" role="img" xmlns="http://www.w3.org/2000/svg">`, w, h)
	fmt.Fprintf(&sb, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>`, left, y(0), w-12, y(0))
	fmt.Fprintf(&sb, `<text x="%d" y="%d" text-anchor="end" class="cl">%d</text>`, left-4, y(peak)+4, peak)
	fmt.Fprintf(&sb, `<text x="%d" y="%d" text-anchor="end" class="cl">0</text>`, left-4, y(0)+4)
	for _, s := range series {
		var pts []string
		for i, p := range points {
			pts = append(pts, fmt.Sprintf("%d,%d", x(i), y(s.v(p))))
		}
		fmt.Fprintf(&sb, `<polyline points="%s" class="line %s"/>`, strings.Join(pts, " "), s.class)
		for i, p := range points {
			fmt.Fprintf(&sb, `<circle cx="%d" cy="%d" r="3" class="dot %s"><title>%s %s: %d</title></circle>`,
				x(i), y(s.v(p)), s.class, template.HTMLEscapeString(p.At), s.name, s.v(p))
		}
	}
	first, last := points[0].At, points[len(points)-1].At
	fmt.Fprintf(&sb, `<text x="%d" y="%d" class="cl">%s</text>`, left, h-12, template.HTMLEscapeString(dateOf(first)))
	fmt.Fprintf(&sb, `<text x="%d" y="%d" text-anchor="end" class="cl">%s</text>`, w-12, h-12, template.HTMLEscapeString(dateOf(last)))
	lx := left + 90
	for _, s := range series {
		fmt.Fprintf(&sb, `<rect x="%d" y="%d" width="10" height="3" class="key %s"/><text x="%d" y="%d" class="cl">%s</text>`,
			lx, h-16, s.class, lx+14, h-12, s.name)
		lx += 20 + 7*len(s.name)
	}
	sb.WriteString(`</svg>`)
	// Safe: the markup is this function's; the dates are escaped with
	// HTMLEscapeString above, series names and classes are constants
	// here, the rest are integers.
	return template.HTML(sb.String()) //nolint:gosec // markup built here, every non-constant string in it escaped
}

func dateOf(rfc3339 string) string {
	d, _, _ := strings.Cut(rfc3339, "T")
	return d
}
