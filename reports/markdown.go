package reports

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/portcullis-sec/portcullis/rules"
)

// MarkdownOptions controls the Markdown writer.
type MarkdownOptions struct {
	// MaxRows caps the findings and exposures tables (0: no cap), so that
	// a comment stays under GitHub's 65,536-character limit; the rows left
	// out are counted and the JSON report has them all.
	MaxRows int
}

// WriteMarkdown writes the report as Markdown with the given options.
func WriteMarkdown(w io.Writer, r *Report, opts MarkdownOptions) error {
	if r == nil {
		return fmt.Errorf("write markdown report: no report")
	}
	if err := writeMarkdownOpts(w, NewDocument(r), opts); err != nil {
		return fmt.Errorf("write markdown report: %w", err)
	}
	return nil
}

func writeMarkdown(out io.Writer, d *Document) error {
	return writeMarkdownOpts(out, d, MarkdownOptions{})
}

// writeMarkdownOpts writes GitHub-flavoured Markdown for pull requests and
// tickets. Every value that can come from the cloud goes through mdText.
func writeMarkdownOpts(out io.Writer, d *Document, opts MarkdownOptions) error {
	w := bufio.NewWriter(out)
	capped := func(n int) int {
		if opts.MaxRows > 0 && n > opts.MaxRows {
			return opts.MaxRows
		}
		return n
	}
	more := func(n int, what string) {
		if k := n - capped(n); k > 0 {
			fmt.Fprintf(w, "\n…and %d more %s: see the JSON or HTML report.\n", k, what)
		}
	}
	s := &d.Summary
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	// Exposure IDs are the shortest unique prefixes, what `portcullis
	// explain` takes.
	ids := shortIDs(d)
	xid := func(e *Exposure) string { return "`" + strings.ReplaceAll(or(ids[e.ID], e.ID), "`", "") + "`" }

	p("# Exposure report\n\n")
	p("%s\n\n", mdText(headerLine(d)))
	if s.Partial {
		p("> **Partial results:** %s while auditing; see [Errors](#errors).\n\n", plural(s.Errors, "error"))
	}

	p("## Summary\n\n")
	p("| | |\n|---|---:|\n")
	p("| Effective exposures | %d on %s |\n", s.Exposures.Effective, plural(s.Exposures.Targets, "target"))
	p("| Latent exposures | %d |\n", s.Exposures.Latent)
	act := fmt.Sprint(s.Findings.Active)
	if b := severityBreakdown(s.Findings.BySeverity); b != "" {
		act += " (" + b + ")"
	}
	p("| Active findings | %s |\n", act)
	p("| Suppressed findings | %d |\n", s.Findings.Suppressed)
	p("| Findings at or above %s | %d |\n", s.FailOn, s.Failing)
	if len(d.Compliance) > 0 {
		p("| Controls failing | %d of %d |\n", s.Compliance.Fail, len(d.Compliance))
	}
	p("| Errors | %d |\n\n", s.Errors)

	var active, suppressed []*Finding
	for _, f := range d.Findings {
		if f.Suppressed {
			suppressed = append(suppressed, f)
		} else {
			active = append(active, f)
		}
	}
	p("## Findings\n\n")
	if len(active) == 0 {
		p("No active findings.\n\n")
	} else {
		p("| Severity | Rule | Exposure | Level | Address | Port | Proto | Sources | Target | Probe | Evidence |\n")
		p("|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, f := range active[:capped(len(active))] {
			e := f.Exposure
			rule := f.RuleID + ": " + f.Title
			if x := f.ExpiredException; x != nil {
				rule += " (exception expired " + x.Expires + ")"
			}
			p("| **%s** | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", f.Severity, mdText(rule), xid(e),
				e.Level, mdText(e.AddressLabel()), mdText(e.PortLabel()), e.Protocol, mdText(e.SourcesLabel),
				mdText(targetWithBackend(e)), mdText(dash(f.ProbeLabel())), mdText(admittingLabel(e)))
		}
		more(len(active), "active findings")
		p("\n")
		p("<details><summary>Remediation</summary>\n\n")
		seen := map[string]bool{}
		for _, f := range active {
			if f.Remediation == "" || seen[f.RuleID] {
				continue
			}
			seen[f.RuleID] = true
			p("- **%s** %s\n", mdText(f.RuleID), mdText(f.Remediation))
		}
		p("\n</details>\n\n")
	}
	if len(suppressed) > 0 {
		p("### Suppressed findings\n\n")
		p("| Rule | Address | Port | Target | Reason | Owner | Expires |\n|---|---|---|---|---|---|---|\n")
		for _, f := range suppressed {
			e, x := f.Exposure, f.Suppression
			p("| %s | %s | %s | %s | %s | %s | %s |\n", mdText(f.RuleID), mdText(e.AddressLabel()), mdText(e.PortLabel()),
				mdText(e.TargetLabel()), mdText(x.Reason), mdText(dash(x.Owner)), mdText(dash(x.Expires)))
		}
		p("\n")
	}

	p("## Exposures\n\n")
	if len(d.Exposures) == 0 {
		p("Nothing is exposed to the internet.\n\n")
	} else {
		p("| Exposure | Level | Provider | Account | Region | Address | Port | Proto | Sources | Target | Probe | Evidence |\n")
		p("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, e := range d.Exposures[:capped(len(d.Exposures))] {
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", xid(e), e.Level, mdText(e.Provider), mdText(e.Account),
				mdText(dash(e.Region)), mdText(e.AddressLabel()), mdText(e.PortLabel()), e.Protocol, mdText(e.SourcesLabel),
				mdText(targetWithBackend(e)+" ("+e.Target.Kind+")"), mdText(dash(e.ProbeLabel())), mdText(admittingLabel(e)))
		}
		more(len(d.Exposures), "exposures")
		p("\n")
	}

	if len(d.Compliance) > 0 {
		p("## Compliance\n\n")
		for _, fw := range complianceByFramework(d.Compliance) {
			p("### %s\n\n%d pass, %d fail, %d not applicable.\n\n", mdText(fw.Framework), fw.Pass, fw.Fail, fw.NotApplicable)
			p("| Control | Title | Status | Evidence |\n|---|---|---|---|\n")
			for _, c := range fw.Controls {
				status := string(c.Status)
				if c.Status == rules.StatusFail {
					status = "**fail**"
				}
				p("| %s | %s | %s | %s |\n", mdText(c.ID), mdText(c.Title), status, mdText(strings.Join(c.Evidence, ", ")))
			}
			p("\n")
		}
	}

	if len(d.Exceptions) > 0 {
		p("## Exceptions needing attention\n\n")
		p("| Kind | Rule | Resource | Reason | Owner | Expires |\n|---|---|---|---|---|---|\n")
		for _, x := range d.Exceptions {
			p("| %s | %s | %s | %s | %s | %s |\n", mdText(string(x.Kind)), mdText(x.Rule), mdText(x.Resource),
				mdText(x.Reason), mdText(dash(x.Owner)), mdText(dash(x.Expires)))
		}
		p("\n")
	}

	if len(d.Misconfigurations) > 0 {
		p("## Misconfigurations\n\n")
		p("| Severity | ID | Title | Resource | Account | Region | Detail |\n|---|---|---|---|---|---|---|\n")
		for _, m := range d.Misconfigurations {
			p("| %s | %s | %s | %s | %s | %s | %s |\n", m.Severity, mdText(m.ID), mdText(m.Title), mdText(m.Resource),
				mdText(m.Provider+" "+m.Account), mdText(dash(m.Region)), mdText(m.Detail))
		}
		p("\n")
	}

	if len(d.Errors) > 0 {
		p("## Errors\n\n")
		for _, e := range d.Errors {
			p("- %s\n", mdText(e.Error()))
		}
		p("\n")
	}
	p("%s\n", mdText(summaryLine(d)))
	return w.Flush()
}

// mdReplacer neutralizes Markdown and HTML markup: GitHub renders inline
// HTML, so < > & become entities; the characters that start emphasis, code,
// links, strikethrough and table cells are backslash-escaped (CommonMark
// allows escaping any ASCII punctuation).
var mdReplacer = strings.NewReplacer(
	"&", "&amp;", "<", "&lt;", ">", "&gt;",
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"|", `\|`, "~", `\~`, "!", `\!`,
	"\r\n", " ", "\n", " ", "\r", " ", "\t", " ",
)

// mdText makes a string safe inside a Markdown table cell or list item.
func mdText(s string) string {
	return termText(mdReplacer.Replace(s))
}
