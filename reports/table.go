package reports

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

// TableOptions controls the terminal table.
type TableOptions struct {
	// Color adds ANSI colours to severities; set it only when writing to a
	// terminal.
	Color bool
	// Width is the line width to fit; 0 means 120.
	Width int
}

// WriteTable writes the terminal table with the given options.
func WriteTable(w io.Writer, r *Report, opts TableOptions) error {
	if r == nil {
		return fmt.Errorf("write table report: no report")
	}
	return RenderTable(w, NewDocument(r), opts)
}

// RenderTable writes the terminal table of a Document with the given
// options.
func RenderTable(w io.Writer, d *Document, opts TableOptions) error {
	if d == nil {
		return fmt.Errorf("write table report: no report")
	}
	if err := writeTable(w, d, opts); err != nil {
		return fmt.Errorf("write table report: %w", err)
	}
	return nil
}

const defaultWidth = 120

// maxUnmatchedRows caps the list of exposures no rule matched: the table is
// for people, the JSON report has every exposure.
const maxUnmatchedRows = 25

func writeTable(out io.Writer, d *Document, opts TableOptions) error {
	if opts.Width <= 0 {
		opts.Width = defaultWidth
	}
	w := bufio.NewWriter(out)
	s := &d.Summary

	fmt.Fprintln(w, wrapText(termText(headerLine(d)), opts.Width, ""))

	var active, suppressed []*Finding
	for _, f := range d.Findings {
		if f.Suppressed {
			suppressed = append(suppressed, f)
		} else {
			active = append(active, f)
		}
	}

	fmt.Fprintln(w)
	if len(active) == 0 {
		fmt.Fprintln(w, "FINDINGS: none")
	} else {
		fmt.Fprintf(w, "FINDINGS (%d)\n", len(active))
		t := textTable{
			// Ports are never cut (11 fits "65535→65535"); on narrow
			// terminals EVIDENCE, then PROBE, then PROTO give way first.
			cols: []column{
				{title: "SEVERITY", min: 8}, {title: "RULE", min: 6, soft: 12}, {title: "ADDRESS", min: 15, soft: 18},
				{title: "PORT", min: 11}, {title: "PROTO", min: 5, drop: 3}, {title: "SOURCES", min: 7, soft: 18},
				{title: "TARGET", min: 6, soft: 12}, {title: "PROBE", min: 5, soft: 8, drop: 2},
				{title: "EVIDENCE", min: 6, soft: 16, drop: 1},
			},
		}
		for _, f := range active {
			e := f.Exposure
			t.rows = append(t.rows, []string{
				strings.ToUpper(f.Severity.String()), f.RuleID, e.AddressLabel(), e.PortLabel(),
				e.Protocol.String(), e.SourcesLabel, e.TargetLabel(), dash(f.ProbeLabel()), e.EvidenceLabel(),
			})
			t.sev = append(t.sev, f.Severity)
		}
		t.write(w, opts)
	}

	if len(suppressed) > 0 {
		fmt.Fprintf(w, "\nSUPPRESSED (%d)\n", len(suppressed))
		t := textTable{cols: []column{
			{title: "RULE", min: 6}, {title: "ADDRESS", min: 15}, {title: "PORT", min: 11}, {title: "TARGET", min: 6},
			{title: "REASON", min: 10}, {title: "OWNER", min: 5, drop: 2}, {title: "EXPIRES", min: 10, drop: 1},
		}}
		for _, f := range suppressed {
			e, x := f.Exposure, f.Suppression
			t.rows = append(t.rows, []string{f.RuleID, e.AddressLabel(), e.PortLabel(), e.TargetLabel(),
				x.Reason, dash(x.Owner), dash(x.Expires)})
		}
		t.write(w, opts)
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "EXPOSURES")
	var v4, v6 int
	for _, e := range d.Exposures {
		if e.Level == exposure.Effective {
			if e.AddressFamily == "ipv6" {
				v6++
			} else {
				v4++
			}
		}
	}
	fmt.Fprintf(w, "  effective  %d on %s (%d IPv4, %d IPv6)\n", s.Exposures.Effective,
		plural(s.Exposures.Targets, "target"), v4, v6)
	fmt.Fprintf(w, "  latent     %d (rules that admit internet traffic no path delivers today)\n", s.Exposures.Latent)

	// Effective exposures no rule matched are still open to the internet:
	// list them (a web server on 443 is expected, but should be known).
	var unmatched []*Exposure
	for _, e := range d.Exposures {
		if e.Level == exposure.Effective && !e.Matched {
			unmatched = append(unmatched, e)
		}
	}
	if len(unmatched) > 0 {
		fmt.Fprintf(w, "\nOPEN WITHOUT FINDINGS (%s no rule matched)\n", plural(len(unmatched), "effective exposure"))
		t := textTable{cols: []column{
			{title: "ADDRESS", min: 15, soft: 18}, {title: "PORT", min: 11}, {title: "PROTO", min: 5, drop: 3},
			{title: "SOURCES", min: 7, soft: 18}, {title: "TARGET", min: 6, soft: 12}, {title: "PROBE", min: 5, soft: 8, drop: 2},
			{title: "EVIDENCE", min: 6, soft: 16, drop: 1},
		}}
		for i, e := range unmatched {
			if i == maxUnmatchedRows {
				break
			}
			t.rows = append(t.rows, []string{e.AddressLabel(), e.PortLabel(), e.Protocol.String(), e.SourcesLabel,
				e.TargetLabel(), dash(e.ProbeLabel()), e.EvidenceLabel()})
		}
		t.write(w, opts)
		if n := len(unmatched) - maxUnmatchedRows; n > 0 {
			fmt.Fprintf(w, "…and %d more (see --format json or html)\n", n)
		}
	}

	if len(d.Compliance) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "COMPLIANCE")
		for _, fw := range complianceByFramework(d.Compliance) {
			var failed []string
			for _, c := range fw.Controls {
				if c.Status == rules.StatusFail {
					failed = append(failed, c.ID)
				}
			}
			line := fmt.Sprintf("  %s  %d pass, %d fail, %d not applicable", fw.Framework, fw.Pass, fw.Fail, fw.NotApplicable)
			if len(failed) > 0 {
				line += "; failing: " + strings.Join(failed, ", ")
			}
			fmt.Fprintln(w, wrapText(termText(line), opts.Width, "    "))
		}
	}

	if len(d.Exceptions) > 0 {
		fmt.Fprintf(w, "\nEXCEPTIONS (%d)\n", len(d.Exceptions))
		t := textTable{cols: []column{{title: "KIND", min: 7}, {title: "RULE", min: 6}, {title: "RESOURCE", min: 10},
			{title: "REASON", min: 10}, {title: "OWNER", min: 5, drop: 2}, {title: "EXPIRES", min: 10, drop: 1}}}
		for _, x := range d.Exceptions {
			t.rows = append(t.rows, []string{string(x.Kind), x.Rule, x.Resource, x.Reason, dash(x.Owner), dash(x.Expires)})
		}
		t.write(w, opts)
	}

	if len(d.Misconfigurations) > 0 {
		fmt.Fprintf(w, "\nMISCONFIGURATIONS (%d)\n", len(d.Misconfigurations))
		t := textTable{cols: []column{{title: "SEVERITY", min: 8}, {title: "ID", min: 6}, {title: "RESOURCE", min: 10},
			{title: "ACCOUNT", min: 7, drop: 2}, {title: "REGION", min: 6, drop: 1}, {title: "TITLE", min: 10}}}
		for _, m := range d.Misconfigurations {
			t.rows = append(t.rows, []string{strings.ToUpper(m.Severity.String()), m.ID, m.Resource, m.Account, dash(m.Region), m.Title})
			t.sev = append(t.sev, m.Severity)
		}
		t.write(w, opts)
	}

	if len(d.Errors) > 0 {
		fmt.Fprintf(w, "\nERRORS (%d)\n", len(d.Errors))
		for _, e := range d.Errors {
			fmt.Fprintln(w, wrapText("  "+termText(e.Error()), opts.Width, "    "))
		}
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, wrapText(summaryLine(d), opts.Width, "  "))
	return w.Flush()
}

type column struct {
	title string
	min   int // the narrowest the column gets when space is short
	// soft is the width the column keeps while other columns can still
	// give way (a CIDR or a rule ID is worth more than a long evidence
	// list).
	soft int
	// drop, when set, lets the column disappear when even the minimum
	// widths do not fit: 1 goes first.
	drop int
}

// textTable lays out rows in columns that fit a width: the widest columns
// give way first, and cells that do not fit end with an ellipsis.
type textTable struct {
	cols []column
	rows [][]string
	sev  []rules.Severity // per row, when the first column is a severity to colour
}

const colGap = 2

func (t *textTable) write(w io.Writer, opts TableOptions) {
	for i := range t.rows {
		for j := range t.rows[i] {
			t.rows[i][j] = termText(t.rows[i][j])
		}
	}
	t.dropColumns(opts.Width)
	n := len(t.cols)
	widths := make([]int, n)
	for i, c := range t.cols {
		widths[i] = utf8.RuneCountInString(c.title)
	}
	for _, row := range t.rows {
		for i := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(row[i]))
		}
	}
	total := func() int {
		s := colGap * (n - 1)
		for _, x := range widths {
			s += x
		}
		return s
	}
	// Shrink the column with the most room above its soft minimum, then
	// above its hard minimum; if even that does not fit, lines overflow
	// rather than lose every column.
	for _, soft := range []bool{true, false} {
		for over := total() - opts.Width; over > 0; over-- {
			best, room := -1, 0
			for i, c := range t.cols {
				floor := c.min
				if soft {
					floor = max(c.min, c.soft)
				}
				if r := widths[i] - floor; r > room {
					best, room = i, r
				}
			}
			if best < 0 {
				break
			}
			widths[best]--
		}
	}
	line := func(cells []string, sev *rules.Severity) {
		var b strings.Builder
		for i, c := range cells {
			c = truncate(c, widths[i])
			pad := widths[i] - utf8.RuneCountInString(c)
			if i == n-1 {
				pad = 0
			}
			if i == 0 && sev != nil && opts.Color {
				c = colorSeverity(*sev, c)
			}
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", pad))
			if i < n-1 {
				b.WriteString(strings.Repeat(" ", colGap))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	titles := make([]string, n)
	for i, c := range t.cols {
		titles[i] = c.title
	}
	line(titles, nil)
	for r, row := range t.rows {
		var sev *rules.Severity
		if r < len(t.sev) {
			sev = &t.sev[r]
		}
		line(row, sev)
	}
}

// dropColumns removes droppable columns, first drop first, while the
// minimum widths do not fit.
func (t *textTable) dropColumns(width int) {
	for {
		need, victim := colGap*(len(t.cols)-1), -1
		for i, c := range t.cols {
			need += c.min
			if c.drop > 0 && (victim < 0 || c.drop < t.cols[victim].drop) {
				victim = i
			}
		}
		if need <= width || victim < 0 {
			return
		}
		t.cols = slices.Delete(t.cols, victim, victim+1)
		for i := range t.rows {
			t.rows[i] = slices.Delete(t.rows[i], victim, victim+1)
		}
	}
}

// wrapText breaks s at spaces so that lines fit width; continuation lines
// start with indent.
func wrapText(s string, width int, indent string) string {
	var b strings.Builder
	line := 0
	for i, word := range strings.Split(s, " ") {
		n := utf8.RuneCountInString(word)
		switch {
		case i == 0:
		case line+1+n > width && line > utf8.RuneCountInString(indent):
			b.WriteString("\n" + indent)
			line = utf8.RuneCountInString(indent)
		default:
			b.WriteByte(' ')
			line++
		}
		b.WriteString(truncate(word, width-line))
		line += min(n, max(width-line, 0))
	}
	return b.String()
}

// colorSeverity wraps a severity label in its ANSI colour.
func colorSeverity(s rules.Severity, text string) string {
	code := ""
	switch s {
	case rules.Critical:
		code = "1;31" // bold red
	case rules.High:
		code = "31" // red
	case rules.Medium:
		code = "33" // yellow
	case rules.Low:
		code = "36" // cyan
	default:
		code = "2" // dim
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

// truncate shortens s to width runes, ending it with an ellipsis.
func truncate(s string, width int) string {
	if width <= 0 || utf8.RuneCountInString(s) <= width {
		return s
	}
	if width == 1 {
		return "…"
	}
	rs := []rune(s)
	return string(rs[:width-1]) + "…"
}
