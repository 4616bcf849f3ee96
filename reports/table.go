package reports

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

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

// defaultWidth is the width of a table written to a pipe or a file.
const defaultWidth = 120

// minWidth is the narrowest layout the table attempts; narrower requests
// are laid out at this width.
const minWidth = 40

// maxUnmatchedRows caps the list of exposures no rule matched: the table is
// for people, the JSON report has every exposure.
const maxUnmatchedRows = 25

// maxChangeRows caps the list of changes since the last run.
const maxChangeRows = 40

func writeTable(out io.Writer, d *Document, opts TableOptions) error {
	if opts.Width <= 0 {
		opts.Width = defaultWidth
	}
	opts.Width = max(opts.Width, minWidth)
	w := bufio.NewWriter(out)
	s := &d.Summary
	ids := shortIDs(d)

	fmt.Fprintln(w, wrapText(termText(headerLine(d)), opts.Width, "  "))

	if c := d.Changes; c != nil {
		writeChanges(w, d, c, ids, opts)
	}

	var active, suppressed []*Finding
	for _, f := range d.Findings {
		if f.Suppressed {
			suppressed = append(suppressed, f)
		} else {
			active = append(active, f)
		}
	}
	// Findings come sorted most severe first (NewDocument); the sort is
	// repeated, stable, so that a hand-written JSON report reads the same.
	bySeverity := func(a, b *Finding) int { return cmp.Compare(b.Severity, a.Severity) }
	slices.SortStableFunc(active, bySeverity)
	slices.SortStableFunc(suppressed, bySeverity)

	fmt.Fprintln(w)
	if len(active) == 0 {
		fmt.Fprintln(w, "FINDINGS: none")
	} else {
		fmt.Fprintf(w, "FINDINGS (%d)\n", len(active))
		// Rule IDs, exposure IDs and ports are never wrapped or cut: they
		// are what people copy into `rules show` and `explain`. The other
		// columns wrap; when even their narrowest does not fit, each
		// finding is written as a short block instead of a row.
		t := textTable{cols: []column{{title: "SEVERITY", fixed: true}}}
		withChanges := d.Changes != nil
		if withChanges {
			t.cols = append(t.cols, column{title: "CHANGE", fixed: true})
		}
		t.cols = append(t.cols,
			column{title: "RULE", fixed: true}, column{title: "EXPOSURE", fixed: true},
			column{title: "PORT", fixed: true},
			column{title: "ADDRESS", soft: 15, line: 1},
			column{title: "SOURCES", soft: 13, line: 1, block: "from "},
			column{title: "TARGET", soft: 14, line: 1, block: "target "},
			column{title: "PROBE", soft: 8, line: 2, block: "probe "},
			column{title: "EVIDENCE", soft: 18, line: 2, block: "let in by "},
		)
		for _, f := range active {
			e := f.Exposure
			row := []string{strings.ToUpper(f.Severity.String())}
			if withChanges {
				row = append(row, changeMark(e.Change))
			}
			row = append(row, f.RuleID, ids[e.ID], portProtoLabel(e), e.AddressLabel(), e.SourcesLabel,
				targetWithBackend(e), dash(f.ProbeLabel()), admittingLabel(e))
			t.add(row, f.Severity)
		}
		t.write(w, opts)
	}

	if len(suppressed) > 0 {
		fmt.Fprintf(w, "\nSUPPRESSED (%d)\n", len(suppressed))
		t := textTable{cols: []column{
			{title: "RULE", fixed: true}, {title: "EXPOSURE", fixed: true}, {title: "PORT", fixed: true},
			{title: "ADDRESS", soft: 15, line: 1}, {title: "TARGET", soft: 14, line: 1, block: "target "},
			{title: "REASON", soft: 20, line: 2}, {title: "OWNER", soft: 10, line: 3, block: "owner "},
			{title: "EXPIRES", fixed: true, line: 3, block: "until "},
		}}
		for _, f := range suppressed {
			e, x := f.Exposure, f.Suppression
			var reason, owner, expires string
			if x != nil {
				reason, owner, expires = x.Reason, x.Owner, x.Expires
			}
			t.add([]string{f.RuleID, ids[e.ID], portProtoLabel(e), e.AddressLabel(), targetWithBackend(e),
				dash(reason), dash(owner), dash(expires)}, -1)
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
	fmt.Fprintln(w, wrapText(fmt.Sprintf("  effective  %d on %s (%d IPv4, %d IPv6)", s.Exposures.Effective,
		plural(s.Exposures.Targets, "target"), v4, v6), opts.Width, "    "))
	fmt.Fprintln(w, wrapText(fmt.Sprintf("  latent     %d (rules that admit internet traffic no path delivers today)",
		s.Exposures.Latent), opts.Width, "    "))

	// Effective exposures no rule matched are still open to the internet:
	// list them (a web server on 443 is expected, but should be known).
	var unmatched []*Exposure
	for _, e := range d.Exposures {
		if e.Level == exposure.Effective && !e.Matched {
			unmatched = append(unmatched, e)
		}
	}
	if len(unmatched) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, wrapText(fmt.Sprintf("OPEN WITHOUT FINDINGS (%s no rule matched)",
			plural(len(unmatched), "effective exposure")), opts.Width, "  "))
		t := textTable{cols: []column{
			{title: "EXPOSURE", fixed: true}, {title: "PORT", fixed: true},
			{title: "ADDRESS", soft: 15, line: 1}, {title: "SOURCES", soft: 13, line: 1, block: "from "},
			{title: "TARGET", soft: 14, line: 1, block: "target "}, {title: "PROBE", soft: 8, line: 2, block: "probe "},
			{title: "EVIDENCE", soft: 18, line: 2, block: "let in by "},
		}}
		for i, e := range unmatched {
			if i == maxUnmatchedRows {
				break
			}
			t.add([]string{ids[e.ID], portProtoLabel(e), e.AddressLabel(), e.SourcesLabel,
				targetWithBackend(e), dash(e.ProbeLabel()), admittingLabel(e)}, -1)
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
		t := textTable{cols: []column{{title: "KIND", fixed: true}, {title: "RULE", fixed: true},
			{title: "EXPIRES", fixed: true}, {title: "RESOURCE", soft: 20, line: 1},
			{title: "REASON", soft: 20, line: 2}, {title: "OWNER", soft: 10, line: 1, block: "owner "}}}
		for _, x := range d.Exceptions {
			t.add([]string{string(x.Kind), x.Rule, dash(x.Expires), x.Resource, dash(x.Reason), dash(x.Owner)}, -1)
		}
		t.write(w, opts)
	}

	if len(d.Misconfigurations) > 0 {
		fmt.Fprintf(w, "\nMISCONFIGURATIONS (%d)\n", len(d.Misconfigurations))
		ms := slices.Clone(d.Misconfigurations)
		slices.SortStableFunc(ms, func(a, b MisconfigurationEntry) int { return cmp.Compare(b.Severity, a.Severity) })
		t := textTable{cols: []column{{title: "SEVERITY", fixed: true}, {title: "ID", fixed: true},
			{title: "RESOURCE", soft: 24, line: 1}, {title: "WHERE", soft: 14, line: 1, block: "in "},
			{title: "TITLE", soft: 20, line: 2}}}
		for _, m := range ms {
			where := strings.Join(nonEmpty(m.Provider, m.Account, m.Region), " ")
			t.add([]string{strings.ToUpper(m.Severity.String()), m.ID, m.Resource, dash(where), m.Title}, m.Severity)
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

// writeChanges writes what changed since the last run.
func writeChanges(w io.Writer, d *Document, c *Changes, ids map[string]string, opts TableOptions) {
	fmt.Fprintln(w)
	title := "CHANGES SINCE THE LAST RUN"
	if c.Since != "" {
		title += " (" + termText(c.Since) + ")"
	}
	fmt.Fprintln(w, wrapText(title, opts.Width, "  "))
	if c.Initial {
		fmt.Fprintln(w, wrapText("  first run: this run is the baseline; later runs report what changed since it", opts.Width, "    "))
	} else {
		fmt.Fprintln(w, wrapText("  "+changeCountsLine(c.Counts), opts.Width, "    "))
	}
	for _, sc := range c.Skipped {
		fmt.Fprintln(w, wrapText("  not compared (collection failed or partial, nothing there is resolved): "+
			termText(strings.Join(nonEmpty(sc.Provider, sc.Account, sc.Region), " ")), opts.Width, "    "))
	}
	if len(c.Items) == 0 {
		return
	}
	t := textTable{cols: []column{{title: "CHANGE", fixed: true}, {title: "SEVERITY", fixed: true},
		{title: "EXPOSURE", fixed: true}, {title: "PORTS", fixed: true},
		{title: "TARGET", soft: 20, line: 1}, {title: "ADDED", soft: 12, line: 1, block: "added "},
		{title: "WHERE", soft: 20, line: 1, block: "in "}}}
	for i, it := range c.Items {
		if i == maxChangeRows {
			break
		}
		sev := "-"
		if it.HasFindings {
			sev = strings.ToUpper(it.Severity.String())
			if it.Suppressed {
				sev += " (suppressed)"
			}
		}
		var short []string
		for _, id := range it.ExposureIDs {
			short = append(short, or(ids[id], id))
		}
		ports := protoPorts(it.Key.Protocol, it.Ports)
		t.add([]string{it.Kind, sev, dash(strings.Join(short, " ")), dash(ports), dash(or(it.Target, it.Key.Target)),
			dash(it.Added), dash(strings.Join(nonEmpty(it.Key.Provider, it.Key.Account, it.Key.Region), " "))}, -1)
	}
	t.write(w, opts)
	if n := len(c.Items) - maxChangeRows; n > 0 {
		fmt.Fprintf(w, "…and %d more (see --format json or html)\n", n)
	}
}

// changeCountsLine counts the changes in words: "3 new, 1 widened, 2
// resolved" (kinds with none left out).
func changeCountsLine(c ChangeCounts) string {
	var parts []string
	for _, x := range []struct {
		n    int
		kind string
	}{{c.New, ChangeNew}, {c.Widened, ChangeWidened}, {c.Reopened, ChangeReopened}, {c.Narrowed, ChangeNarrowed},
		{c.Resolved, ChangeResolved}, {c.Confirmed, ChangeConfirmed}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", x.n, x.kind))
		}
	}
	if len(parts) == 0 {
		return "nothing changed"
	}
	return strings.Join(parts, ", ")
}

// changeMark is the change column of a finding: what happened to its
// exposure since the last run, upper-cased for the kinds that need a look.
func changeMark(kind string) string {
	switch kind {
	case ChangeNew, ChangeWidened, ChangeReopened:
		return strings.ToUpper(kind)
	case "":
		return "-"
	}
	return kind
}

// portProtoLabel is the protocol and ports in one cell: "tcp/2222→22",
// "udp/53", "all" (every protocol and port).
func portProtoLabel(e *Exposure) string { return protoPorts(e.Protocol, e.PortLabel()) }

func protoPorts(p exposure.Protocol, ports string) string {
	if ports == "all" || ports == "" {
		if p == exposure.ProtocolAll {
			return "all"
		}
		if !p.HasPorts() && !p.IsICMP() {
			return p.String()
		}
	}
	return p.String() + "/" + ports
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

type column struct {
	title string
	// fixed columns hold identifiers (rule IDs, exposure IDs, ports) that
	// are never wrapped nor cut: their width is their widest cell.
	fixed bool
	// soft is the narrowest a wrapping column gets in the row layouts;
	// below it the table switches layout.
	soft int
	// line and block place the column in the block layout used when the
	// row layout does not fit: line 0 is the head line (the fixed
	// columns), each further line joins its cells with " · ", each cell
	// after its block prefix ("from ", "probe ").
	line  int
	block string
}

// textTable lays out rows in columns that fit a width. Identical rows are
// written once with a count. Cells of wrapping columns wrap within the
// column; when the columns do not fit even at their narrowest, every row
// becomes a block of lines.
type textTable struct {
	cols  []column
	rows  [][]string
	sev   []rules.Severity // per row; negative: not a severity to colour
	count []int
	index map[string]int
}

const colGap = 2

// add appends a row (cells escaped for the terminal), or counts it again
// when an identical row is already there.
func (t *textTable) add(cells []string, sev rules.Severity) {
	for i := range cells {
		cells[i] = termText(cells[i])
	}
	if t.index == nil {
		t.index = map[string]int{}
	}
	key := strings.Join(cells, "\x00")
	if i, ok := t.index[key]; ok {
		t.count[i]++
		return
	}
	t.index[key] = len(t.rows)
	t.rows = append(t.rows, cells)
	t.sev = append(t.sev, sev)
	t.count = append(t.count, 1)
}

func (t *textTable) write(w io.Writer, opts TableOptions) {
	rows := make([][]string, len(t.rows))
	for i, row := range t.rows {
		rows[i] = slices.Clone(row)
		if t.count[i] > 1 {
			rows[i][0] += fmt.Sprintf(" ×%d", t.count[i])
		}
	}
	// Three layouts, the first that fits: every column in the row; the
	// columns of block lines 2 and on written under the row; a block per
	// row.
	all := make([]int, 0, len(t.cols))
	inRow := make([]int, 0, len(t.cols))
	for i, c := range t.cols {
		all = append(all, i)
		if c.line < 2 {
			inRow = append(inRow, i)
		}
	}
	// Of the two row layouts that fit, the one with fewer lines: at 200
	// columns every column has room; nearer 120, a wrapped evidence
	// column takes more lines than writing it under the row.
	var best *bytes.Buffer
	for _, cols := range [][]int{inRow, all} {
		if widths, ok := t.widths(rows, cols, opts.Width); ok {
			var b bytes.Buffer
			t.writeRows(&b, rows, cols, widths, opts)
			if best == nil || bytes.Count(b.Bytes(), []byte("\n")) < bytes.Count(best.Bytes(), []byte("\n")) {
				best = &b
			}
		}
	}
	if best != nil {
		w.Write(best.Bytes()) //nolint:gosec // w is writeTable's bufio.Writer: its error is sticky and writeTable returns it from Flush
		return
	}
	t.writeBlocks(w, rows, opts)
}

// writeRows writes the header and the rows with the given columns; the
// columns left out are written under each row, one line per block line.
func (t *textTable) writeRows(w io.Writer, rows [][]string, cols, widths []int, opts TableOptions) {
	n := len(cols)
	under := displayWidth(t.cols[0].title) + colGap
	shown := make([]bool, len(t.cols))
	for _, i := range cols {
		shown[i] = true
	}
	line := func(cells []string, sev rules.Severity, color bool) {
		lines := make([][]string, n)
		height := 1
		for j, i := range cols {
			if t.cols[i].fixed {
				lines[j] = []string{cells[i]}
			} else {
				lines[j] = wrapCell(cells[i], widths[j])
			}
			height = max(height, len(lines[j]))
		}
		for k := range height {
			var b strings.Builder
			for j := range n {
				c := ""
				if k < len(lines[j]) {
					c = lines[j][k]
				}
				pad := widths[j] - displayWidth(c)
				if j == 0 && k == 0 && color && sev >= 0 {
					c = colorSeverity(sev, c)
				}
				b.WriteString(c)
				if j < n-1 {
					b.WriteString(strings.Repeat(" ", pad+colGap))
				}
			}
			fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		}
	}
	titles := make([]string, len(t.cols))
	for i, c := range t.cols {
		titles[i] = c.title
	}
	line(titles, -1, false)
	for r, row := range rows {
		line(row, t.sev[r], opts.Color)
		t.writeUnder(w, row, shown, strings.Repeat(" ", under), opts.Width)
	}
}

// writeUnder writes the cells of the columns not shown, one line per
// block line, each cell after its block prefix.
func (t *textTable) writeUnder(w io.Writer, row []string, shown []bool, indent string, width int) {
	maxLine := 0
	for _, c := range t.cols {
		maxLine = max(maxLine, c.line)
	}
	for ln := 0; ln <= maxLine; ln++ {
		var parts []string
		for i, c := range t.cols {
			if shown[i] || c.line != ln || row[i] == "-" || row[i] == "" {
				continue
			}
			parts = append(parts, c.block+row[i])
		}
		if len(parts) > 0 {
			fmt.Fprintln(w, wrapText(indent+strings.Join(parts, " · "), width, indent+"  "))
		}
	}
}

// widths fits the given columns to width: fixed columns take their widest
// cell; wrapping columns give way first down to the width of 90% of their
// cells (a column wide for one long host name shrinks before the evidence
// column that is wide on every row), then down to their soft width (never
// below their title). It reports false when that does not fit.
func (t *textTable) widths(rows [][]string, cols []int, width int) ([]int, bool) {
	n := len(cols)
	widths := make([]int, n)
	p90 := make([]int, n)
	floors := make([]int, n)
	total := colGap * (n - 1)
	for j, i := range cols {
		c := t.cols[i]
		title := displayWidth(c.title)
		ws := make([]int, 0, len(rows))
		for _, row := range rows {
			ws = append(ws, displayWidth(row[i]))
		}
		slices.Sort(ws)
		widths[j] = title
		if len(ws) > 0 {
			widths[j] = max(title, ws[len(ws)-1])
			p90[j] = max(title, ws[(len(ws)-1)*9/10])
		}
		floors[j] = widths[j]
		if !c.fixed {
			floors[j] = min(widths[j], max(c.soft, title))
			p90[j] = max(p90[j], floors[j])
		} else {
			p90[j] = widths[j]
		}
		total += widths[j]
	}
	for _, floor := range [][]int{p90, floors} {
		for ; total > width; total-- {
			best, room := -1, 0
			for j := range cols {
				if r := widths[j] - floor[j]; r > room {
					best, room = j, r
				}
			}
			if best < 0 {
				break
			}
			widths[best]--
		}
	}
	return widths, total <= width
}

// writeBlocks writes each row as a block: the head line holds the line-0
// cells, each further line the cells of its line number, all wrapped to
// the width with continuation lines indented.
func (t *textTable) writeBlocks(w io.Writer, rows [][]string, opts TableOptions) {
	const indent = "    "
	maxLine := 0
	for _, c := range t.cols {
		maxLine = max(maxLine, c.line)
	}
	// The head lines line up in columns when they fit the width.
	pad := make([]int, len(t.cols))
	headWidth := 0
	for i, c := range t.cols {
		if c.line != 0 {
			continue
		}
		for _, row := range rows {
			pad[i] = max(pad[i], displayWidth(c.block+row[i]))
		}
		headWidth += pad[i] + colGap
	}
	if headWidth-colGap > opts.Width {
		clear(pad)
	}
	for r, row := range rows {
		for ln := 0; ln <= maxLine; ln++ {
			var parts []string
			for i, c := range t.cols {
				if c.line != ln || (row[i] == "-" && (ln > 0 || pad[i] == 0)) || row[i] == "" {
					continue
				}
				cell := c.block + row[i]
				if ln == 0 {
					cell += strings.Repeat(" ", max(pad[i]-displayWidth(cell), 0))
				}
				parts = append(parts, cell)
			}
			if len(parts) == 0 {
				continue
			}
			if ln > 0 {
				fmt.Fprintln(w, wrapText(indent+strings.Join(parts, " · "), opts.Width, indent))
				continue
			}
			text := wrapText(strings.TrimRight(strings.Join(parts, "  "), " "), opts.Width, indent)
			if first := c0(t.cols, row); opts.Color && t.sev[r] >= 0 && first != "" && strings.HasPrefix(text, first) {
				text = colorSeverity(t.sev[r], first) + text[len(first):]
			}
			fmt.Fprintln(w, text)
		}
	}
}

// c0 is the first cell of a block's head line when it is the first
// column (the severity to colour), else "".
func c0(cols []column, row []string) string {
	if len(cols) == 0 || cols[0].line != 0 || row[0] == "-" {
		return ""
	}
	return row[0]
}

// wrapCell breaks a cell into lines of at most width cells: at spaces,
// and inside a word only when the word alone is wider (nothing is cut).
func wrapCell(s string, width int) []string {
	if displayWidth(s) <= width {
		return []string{s}
	}
	return strings.Split(wrapText(s, width, ""), "\n")
}

// wrapText breaks s at spaces so that lines fit width; continuation lines
// start with indent. A word wider than a line is broken across lines,
// never cut.
func wrapText(s string, width int, indent string) string {
	var b strings.Builder
	ind := displayWidth(indent)
	line := 0 // display width of the current line
	for i, word := range strings.Split(s, " ") {
		n := displayWidth(word)
		switch {
		case i == 0:
		case line+1+n > width && line > ind:
			b.WriteString("\n" + indent)
			line = ind
		default:
			b.WriteByte(' ')
			line++
		}
		for n > 0 && line+n > width && width-line > 0 {
			// Break the word where the line ends and go on on the next.
			head, tail := splitWidth(word, width-line)
			if head == "" {
				break
			}
			b.WriteString(head)
			b.WriteString("\n" + indent)
			line = ind
			word, n = tail, displayWidth(tail)
			if width-ind <= 0 {
				break
			}
		}
		b.WriteString(word)
		line += n
	}
	return b.String()
}

// splitWidth splits s after at most width display cells, after the last
// '-', '/', ':', ',', '.' or '_' that fits when there is one in the second
// half of the line (so "staging-web-1" breaks as "staging-web-" "1", an ARN
// after a slash).
func splitWidth(s string, width int) (string, string) {
	used, soft := 0, -1
	for i, r := range s {
		rw := runeWidth(r)
		if used+rw > width {
			if soft > 0 && 2*displayWidth(s[:soft]) >= width {
				return s[:soft], s[soft:]
			}
			return s[:i], s[i:]
		}
		used += rw
		if strings.ContainsRune("-/:,._", r) {
			soft = i + 1
		}
	}
	return s, ""
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
