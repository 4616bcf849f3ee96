package iacplan

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Formats lists the output formats of a plan diff.
func Formats() []string { return []string{"table", "json", "markdown"} }

// Render writes the result in one of Formats.
func Render(w io.Writer, format string, r *Result) error {
	switch strings.ToLower(format) {
	case "table", "":
		return writeTable(w, r)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(true)
		return enc.Encode(r)
	case "markdown", "md":
		return writeMarkdown(w, r)
	}
	return fmt.Errorf("unknown plan format %q (want one of %s)", format, strings.Join(Formats(), ", "))
}

// UnknownMark labels the rows that rest on values known only after apply.
const UnknownMark = "known after apply: widest reading"

func (r *Result) summaryLine() string {
	c := r.Count()
	s := fmt.Sprintf("%d new, %d widened, %d narrowed, %d closed", c.New, c.Widened, c.Narrowed, c.Closed)
	if len(r.Items) == 0 {
		s = "no change to what the internet reaches"
	}
	s += fmt.Sprintf("; %d failing at %s or above", r.Failing, r.FailOn)
	if n := len(r.NotModelled); n > 0 {
		s += fmt.Sprintf("; %d planned change(s) not modelled", n)
	}
	return s
}

func target(it Item) string {
	if it.Target != "" {
		return it.Target
	}
	return it.Key.Target
}

func severity(it Item) string {
	if !it.HasFindings {
		return "-"
	}
	s := it.Severity.String()
	if it.Suppressed {
		s += " (suppressed)"
	}
	return s
}

func change(it Item) string {
	s := it.Kind
	if it.Added != "" {
		s += " +" + it.Added
	}
	return s
}

func sources(it Item) string {
	const shown = 3
	if len(it.Sources) <= shown {
		return strings.Join(it.Sources, ", ")
	}
	return strings.Join(it.Sources[:shown], ", ") + fmt.Sprintf(" (+%d)", len(it.Sources)-shown)
}

func writeTable(out io.Writer, r *Result) error {
	w := bufio.NewWriter(out)
	fmt.Fprintf(w, "Plan (%s): %s\n", r.Source, termText(r.summaryLine()))
	if r.NewStack {
		fmt.Fprintln(w, "No snapshot: the planned resources are audited alone (a new stack).")
	}
	if len(r.Items) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CHANGE\tLEVEL\tSEVERITY\tTARGET\tENDPOINT\tPROTO\tPORTS\tSOURCES\tNOTE")
		for _, it := range r.Items {
			note := ""
			if it.Unknown {
				note = UnknownMark
			}
			if it.NowEffective {
				note = "now effective"
			}
			if it.Failing {
				note = strings.TrimSpace("FAILS " + note)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
				termText(change(it)), it.Key.Level, severity(it), termText(target(it)), termText(orDash(it.Address)),
				it.Key.Protocol, termText(it.Ports), termText(orDash(sources(it))), note)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("writing the plan table: %w", err)
		}
		for _, it := range r.Items {
			if it.Unknown && it.Note != "" {
				fmt.Fprintf(w, "  %s %s: %s\n", it.Kind, termText(target(it)), termText(it.Note))
			}
		}
	}
	if len(r.NotModelled) > 0 {
		fmt.Fprintf(w, "\nNot modelled (%d): the diff does not include them\n", len(r.NotModelled))
		for _, n := range r.NotModelled {
			fmt.Fprintf(w, "  %s %s (%s): %s\n", n.Action, termText(n.Address), termText(n.Type), termText(n.Reason))
		}
	}
	fmt.Fprintf(w, "\nApplied (%d)\n", len(r.Applied))
	for _, a := range r.Applied {
		fmt.Fprintf(w, "  %s %s → %s", a.Action, termText(a.Address), termText(a.Resource))
		if len(a.Notes) > 0 {
			fmt.Fprintf(w, " (%s)", termText(strings.Join(a.Notes, "; ")))
		}
		fmt.Fprintln(w)
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, "\nErrors (%d): the audits were partial\n", len(r.Errors))
		for _, e := range r.Errors {
			fmt.Fprintf(w, "  %s\n", termText(errText(e)))
		}
	}
	return w.Flush()
}

func errText(e exposure.Error) string {
	parts := []string{}
	for _, s := range []string{e.Provider, e.Account, e.Region, e.Stage, e.Resource} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ") + ": " + e.Message
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// mdReplacer neutralizes Markdown and inline HTML in a table cell (GitHub
// renders both), as the report's Markdown writer does.
var mdReplacer = strings.NewReplacer(
	"&", "&amp;", "<", "&lt;", ">", "&gt;",
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"|", `\|`, "~", `\~`, "!", `\!`, "#", `\#`, "@", "@\u200b",
	"\r\n", " ", "\n", " ", "\r", " ", "\t", " ",
)

func md(s string) string { return termText(mdReplacer.Replace(s)) }

// MarkdownMarker is the first line of the Markdown form: a CI step finds
// its own earlier comment by it and updates it instead of adding another.
const MarkdownMarker = "<!-- portcullis-plan -->"

func writeMarkdown(out io.Writer, r *Result) error {
	w := bufio.NewWriter(out)
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("%s\n### Portcullis plan: what this change exposes\n\n", MarkdownMarker)
	icon := "✅"
	if r.Failing > 0 {
		icon = "❌"
	} else if r.Partial {
		icon = "⚠️"
	}
	p("%s **%s**\n\n", icon, md(r.summaryLine()))
	if r.NewStack {
		p("No snapshot: the planned resources are audited alone (a new stack).\n\n")
	}
	if len(r.Items) > 0 {
		p("| change | level | severity | target | endpoint | ports | sources | |\n|---|---|---|---|---|---|---|---|\n")
		for _, it := range r.Items {
			mark := ""
			if it.Failing {
				mark = "**fails**"
			}
			if it.Unknown {
				mark = strings.TrimSpace(mark + " _" + md(UnknownMark) + "_")
			}
			if it.NowEffective {
				mark = "now effective"
			}
			p("| %s | %s | %s | %s | %s | %s %s | %s | %s |\n", md(change(it)), it.Key.Level, md(severity(it)),
				md(target(it)), md(orDash(it.Address)), it.Key.Protocol, md(it.Ports), md(orDash(sources(it))), mark)
		}
		p("\nEffective: reachable from the internet through the whole path once applied. Latent: a rule admits internet traffic but no path delivers it.\n")
		var unknown []Item
		for _, it := range r.Items {
			if it.Unknown && it.Note != "" {
				unknown = append(unknown, it)
			}
		}
		if len(unknown) > 0 {
			p("\n**Known after apply.** These rows read values that Terraform or CloudFormation only know once applied, at their widest:\n\n")
			for _, it := range unknown {
				p("- %s: %s\n", md(target(it)), md(it.Note))
			}
		}
	}
	if len(r.NotModelled) > 0 {
		p("\n**Not modelled** (%d): the diff does not include these changes.\n\n", len(r.NotModelled))
		for _, n := range r.NotModelled {
			p("- %s `%s` (%s): %s\n", n.Action, strings.ReplaceAll(termText(n.Address), "`", "'"), md(n.Type), md(n.Reason))
		}
	}
	p("\n<details><summary>Applied to the snapshot (%d)</summary>\n\n", len(r.Applied))
	for _, a := range r.Applied {
		line := fmt.Sprintf("- %s %s → %s", a.Action, md(a.Address), md(a.Resource))
		if len(a.Notes) > 0 {
			line += " (" + md(strings.Join(a.Notes, "; ")) + ")"
		}
		p("%s\n", line)
	}
	p("\n</details>\n")
	if len(r.Errors) > 0 {
		p("\n<details><summary>Errors (%d): the audits were partial</summary>\n\n", len(r.Errors))
		for _, e := range r.Errors {
			p("- %s\n", md(errText(e)))
		}
		p("\n</details>\n")
	}
	return w.Flush()
}

// termText replaces control and other invisible characters (terminal
// escapes, bidi overrides) with visible escapes.
func termText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(' ')
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r) && r != '\u200b':
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
