package rules

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/portcullis-sec/portcullis/exposure"
)

// WriteList prints the catalog for `portcullis rules list`: "table" (one
// line per rule with its compliance IDs) or "json" (every field).
func (c *Catalog) WriteList(w io.Writer, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Schema             string      `json:"schema"`
			WideRangeThreshold int         `json:"wideRangeThreshold"`
			Rules              []Rule      `json:"rules"`
			Frameworks         []Framework `json:"frameworks"`
		}{c.schema, c.wideRange, c.rules, c.frameworks}); err != nil {
			return fmt.Errorf("write rule list: %w", err)
		}
		return nil
	case "table", "":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSEVERITY\tMATCH\tSERVICE\tCOMPLIANCE\tTITLE")
		for i := range c.rules {
			r := &c.rules[i]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Severity, matchSummary(r, c.wideRange), dash(r.Service), dash(c.versionedRefs(r.Compliance)), r.Title)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write rule list: %w", err)
		}
		return nil
	}
	return fmt.Errorf("write rule list: unknown format %q (want table or json)", format)
}

// WriteRule prints one rule for `portcullis rules show ID`.
func (c *Catalog) WriteRule(w io.Writer, id, format string) error {
	r, ok := c.Rule(id)
	if !ok {
		return fmt.Errorf("show rule: no rule %q (see portcullis rules list)", id)
	}
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("show rule %s: %w", id, err)
		}
		return nil
	case "table", "text", "":
	default:
		return fmt.Errorf("show rule %s: unknown format %q (want table or json)", id, format)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s — %s\n\n", r.ID, r.Title)
	fmt.Fprintf(&b, "Severity:    %s (base: effective, open to anyone, unconfirmed; floor %s)\n", r.Severity, r.Floor)
	if r.Basis != "" {
		fmt.Fprintf(&b, "Basis:       %s\n", r.Basis)
	}
	fmt.Fprintf(&b, "Category:    %s\n", r.Category)
	if r.Service != "" {
		fmt.Fprintf(&b, "Service:     %s\n", r.Service)
	}
	fmt.Fprintf(&b, "Match:       %s\n", matchSummary(&r, c.wideRange))
	fmt.Fprintf(&b, "Sources:     %s (family %s)\n", strings.Join(r.Match.Breadth, ", "), r.Match.Family)
	fmt.Fprintf(&b, "Levels:      %s\n", strings.Join(r.Match.Levels, ", "))
	if len(r.Match.Services) > 0 {
		fmt.Fprintf(&b, "Fingerprint: %s (matched on any port a probe finds them)\n", strings.Join(r.Match.Services, ", "))
	}
	if len(r.Tags) > 0 {
		fmt.Fprintf(&b, "Tags:        %s\n", strings.Join(r.Tags, ", "))
	}
	fmt.Fprintf(&b, "\n%s\n", strings.TrimSpace(r.Description))
	b.WriteString("\nCompliance:\n")
	if len(r.Compliance) == 0 {
		b.WriteString("  (none)\n")
	}
	for _, ref := range r.Compliance {
		fw, ctl := c.control(ref.Framework, ref.Control)
		if ctl != nil {
			fmt.Fprintf(&b, "  %s %s %s: %s\n", ref.Framework, fw.Version, ref.Control, ctl.Title)
			for _, rn := range ctl.Renumbered {
				fmt.Fprintf(&b, "      (%s in %s)\n", rn.ID, rn.Versions)
			}
		}
	}
	b.WriteString("\nRemediation:\n")
	for _, p := range append([]string{"default"}, exposure.Providers()...) {
		if s := r.Remediation[p]; s != "" {
			fmt.Fprintf(&b, "  %s: %s\n", p, strings.TrimSpace(s))
		}
	}
	if len(r.References) > 0 {
		b.WriteString("\nReferences:\n")
		for _, u := range r.References {
			fmt.Fprintf(&b, "  %s\n", u)
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("show rule %s: %w", id, err)
	}
	return nil
}

// matchSummary renders what a rule matches: "tcp/22", "tcp,udp/3389",
// "all protocols", "tcp,udp range >100 ports".
func matchSummary(r *Rule, threshold int) string {
	protos := strings.Join(r.Match.Protocols, ",")
	var s string
	switch r.Match.Kind {
	case KindPorts:
		s = protos + "/" + strings.Join(r.Match.Ports, ",")
	case KindProtocol:
		s = protos + " any port"
	case KindAllTraffic:
		s = "all protocols"
	case KindAllPorts:
		s = protos + " all ports"
	case KindWideRange:
		s = fmt.Sprintf("range >%d ports", threshold)
		if protos != "" {
			s = protos + " " + s
		}
	case KindICMPAll:
		s = protos + " all types"
	case KindServicePort:
		s = "service on unexpected port"
	}
	if r.Match.Family != FamilyAny && r.Match.Family != "" {
		s += " " + r.Match.Family
	}
	return s
}

func refList(refs []ComplianceRef) string {
	parts := make([]string, len(refs))
	for i, r := range refs {
		parts[i] = r.Framework + ":" + r.Control
	}
	return strings.Join(parts, " ")
}

// versionedRefs renders references with the benchmark version they cite:
// "cis-aws@v3.0.0:5.2" (CIS renumbers controls between versions).
func (c *Catalog) versionedRefs(refs []ComplianceRef) string {
	parts := make([]string, len(refs))
	for i, r := range refs {
		parts[i] = r.Framework + ":" + r.Control
		if fw, _ := c.control(r.Framework, r.Control); fw != nil {
			v, _, _ := strings.Cut(fw.Version, " (") // "2017 (revised points of focus 2022)"
			parts[i] = r.Framework + "@" + strings.ReplaceAll(v, " ", "") + ":" + r.Control
		}
	}
	return strings.Join(parts, " ")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
