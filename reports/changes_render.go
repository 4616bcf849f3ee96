package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/portcullis-sec/portcullis/exposure"
)

// ChangeFormats are the formats WriteChanges renders.
var ChangeFormats = []string{"table", "json", "markdown"}

// WriteChanges renders a changes section alone (`portcullis diff`, and
// `portcullis plan`): a table for the terminal, Markdown for a
// pull-request comment, or the JSON of the report's `changes`. Every
// cloud-provided string is escaped for its output.
func WriteChanges(w io.Writer, format string, c *Changes) error {
	if c == nil {
		c = &Changes{Items: []ChangeItem{}}
	}
	switch strings.ToLower(strings.TrimSpace(format)) {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(c)
	case "markdown":
		return writeChangesMarkdown(w, c)
	case "table":
		return writeChangesTable(w, c)
	}
	return fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(ChangeFormats, ", "))
}

// ChangesHeadline is "2 new, 1 widened, 1 resolved" (or "no changes").
func ChangesHeadline(c *Changes) string {
	n := c.Counts
	var parts []string
	for _, p := range []struct {
		n    int
		what string
	}{{n.New, "new"}, {n.Reopened, "reopened"}, {n.Widened, "widened"}, {n.Confirmed, "confirmed"}, {n.Narrowed, "narrowed"}, {n.Resolved, "resolved"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	if len(parts) == 0 {
		return "no changes"
	}
	return strings.Join(parts, ", ")
}

func changeWhere(k exposure.Key) string {
	if k.Endpoint != "" {
		return k.Endpoint
	}
	return "(latent)"
}

func changeSeverity(it ChangeItem) string {
	switch {
	case !it.HasFindings:
		return "-"
	case it.Suppressed:
		return it.Severity.String() + " (suppressed)"
	}
	return it.Severity.String()
}

func scopeText(k exposure.Key) string {
	s := k.Provider + " " + k.Account
	if k.Region != "" {
		s += " " + k.Region
	}
	return s
}

func writeChangesTable(w io.Writer, c *Changes) error {
	fmt.Fprintf(w, "Changes: %s\n", ChangesHeadline(c))
	if len(c.Skipped) > 0 {
		var s []string
		for _, sc := range c.Skipped {
			s = append(s, termText(scopeText(exposure.Key{Scope: sc})))
		}
		fmt.Fprintf(w, "Not diffed (collection failed or partial, nothing resolved there): %s\n", strings.Join(s, ", "))
	}
	if len(c.Items) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nCHANGE\tSEVERITY\tLEVEL\tADDRESS\tPROTO\tPORTS\tADDED\tTARGET\tSCOPE")
	for _, it := range c.Items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", it.Kind, changeSeverity(it), it.Key.Level,
			termText(changeWhere(it.Key)), it.Key.Protocol, termText(it.Ports), termText(it.Added), termText(it.Target), termText(scopeText(it.Key)))
	}
	return tw.Flush()
}

func writeChangesMarkdown(w io.Writer, c *Changes) error {
	fmt.Fprintf(w, "### Portcullis: %s\n\n", mdText(ChangesHeadline(c)))
	if len(c.Skipped) > 0 {
		var s []string
		for _, sc := range c.Skipped {
			s = append(s, mdText(scopeText(exposure.Key{Scope: sc})))
		}
		fmt.Fprintf(w, "Not diffed (collection failed or partial, nothing resolved there): %s\n\n", strings.Join(s, ", "))
	}
	if len(c.Items) == 0 {
		return nil
	}
	fmt.Fprintln(w, "| change | severity | level | address | protocol | ports | added | target | scope |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, it := range c.Items {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", it.Kind, changeSeverity(it), it.Key.Level,
			mdText(changeWhere(it.Key)), it.Key.Protocol, mdText(it.Ports), mdText(it.Added), mdText(it.Target), mdText(scopeText(it.Key)))
	}
	return nil
}
