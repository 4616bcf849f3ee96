package reports

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

// Labels shared by the formats. Each is computed from Document fields
// alone, so a Document read back from JSON is labelled as the one built
// from the Report.

// AddressLabel is the address traffic is sent to, or "(latent)".
func (e *Exposure) AddressLabel() string {
	if e.Address == "" {
		return "(latent)"
	}
	return e.Address
}

// PortLabel is the port range, with the backend ports after an arrow when a
// forward translates them ("443→8443").
func (e *Exposure) PortLabel() string {
	s := portRangeLabel(e.Protocol, e.FromPort, e.ToPort)
	if b := e.Backend; b != nil && (b.FromPort != e.FromPort || b.ToPort != e.ToPort) {
		s += "→" + portRangeLabel(b.Protocol, b.FromPort, b.ToPort)
	}
	return s
}

func portRangeLabel(p exposure.Protocol, from, to int) string {
	// A report read back (Read) holds whatever ints its JSON gave: one
	// outside 0-65535 is shown as it is, not wrapped into a port.
	if from < 0 || from > 65535 || to < 0 || to > 65535 {
		return strconv.Itoa(from) + "-" + strconv.Itoa(to)
	}
	r := exposure.PortRange{From: uint16(from), To: uint16(to)}
	switch {
	case r.IsAll():
		return "all"
	case p.IsICMP():
		return "type " + r.String()
	}
	return r.String()
}

// TargetLabel names the target: its name, or a short form of its ID.
func (e *Exposure) TargetLabel() string {
	if e.Target.Name != "" {
		return e.Target.Name
	}
	return shortID(e.Target.ID, "")
}

// ProbeLabel is the probe outcome ("open ssh"), or "" when not probed.
func (e *Exposure) ProbeLabel() string { return e.Probe.label() }

// ProbeLabel is the outcome of the finding's own probe, or of the
// exposure's when the rules engine tied none to the finding.
func (f *Finding) ProbeLabel() string {
	if f.Probe != nil {
		return f.Probe.label()
	}
	return f.Exposure.ProbeLabel()
}

// ProbeView is the probe shown for the finding.
func (f *Finding) ProbeView() *Probe {
	if f.Probe != nil {
		return f.Probe
	}
	return f.Exposure.Probe
}

func (p *Probe) label() string {
	if p == nil {
		return ""
	}
	s := string(p.State)
	if p.Service != "" {
		s += " " + p.Service
	}
	return s
}

// orderedKinds are the layer kinds whose rule identifiers are what people
// look for (NACL rule numbers, NSG and firewall rule names).
var orderedKinds = map[string]bool{
	exposure.LayerNetworkACL: true, exposure.LayerNSG: true,
	exposure.LayerFirewall: true, exposure.LayerFirewallPolicy: true,
}

// EvidenceLabel lists the layers that let the traffic in, shortly:
// "acl-0a1#100, sg-0b2". Route tables are left out: every public path has
// one and the JSON report names it.
func (e *Exposure) EvidenceLabel() string {
	var parts []string
	for _, ev := range e.Evidence {
		if ev.LayerKind == exposure.LayerRoute {
			continue
		}
		s := shortID(ev.Layer, ev.LayerName)
		if ev.Rule != "" && orderedKinds[ev.LayerKind] {
			s += "#" + ev.Rule
		}
		if !slices.Contains(parts, s) {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ", ")
}

// shortID shortens long resource identifiers (ARNs, Azure resource IDs,
// GCP self-links) to their name.
func shortID(id, name string) string {
	if !strings.Contains(id, "/") {
		return id
	}
	if name != "" {
		return name
	}
	id = strings.TrimRight(id, "/")
	return id[strings.LastIndex(id, "/")+1:]
}

// sourcesLabel summarizes an exposure's published sources for people:
// "anyone", "anyone (IPv4)", one CIDR, or "N ranges". The published list
// (exposure.DisplaySources) is the public part of the source set, with a
// whole family written 0.0.0.0/0 or ::/0, so its public part is the
// analysis' public part exactly.
func sourcesLabel(sources []string) (string, error) {
	s, err := exposure.ParseSources(sources...)
	if err != nil {
		return "", err
	}
	p4, p6 := exposure.PublicPrefixes(s)
	// "Anyone" as exposure.SourceBreadth judges it per family (the whole
	// public internet but at most a /16 of IPv4 or a /32 of IPv6).
	b4, b6 := exposure.FamilyBreadth(s)
	any4, any6 := b4 == exposure.BreadthAnyone, b6 == exposure.BreadthAnyone
	n4, n6 := len(p4), len(p6)
	rangesOf := func(prefixes []netip.Prefix, n int, family string) string {
		if n == 1 {
			return prefixes[0].String()
		}
		return strconv.Itoa(n) + " " + family + " ranges"
	}
	switch {
	case any4 && any6:
		return "anyone", nil
	case any4 && n6 == 0:
		return "anyone (IPv4)", nil
	case any6 && n4 == 0:
		return "anyone (IPv6)", nil
	case any4:
		return "anyone (IPv4) + " + rangesOf(p6, n6, "IPv6"), nil
	case any6:
		return "anyone (IPv6) + " + rangesOf(p4, n4, "IPv4"), nil
	}
	switch n := n4 + n6; n {
	case 0:
		return "none", nil
	case 1:
		return slices.Concat(p4, p6)[0].String(), nil
	default:
		return strconv.Itoa(n) + " ranges", nil
	}
}

// frameworkControls is the compliance state of one framework.
type frameworkControls struct {
	Framework                 string
	Controls                  []ControlEntry
	Pass, Fail, NotApplicable int
}

// complianceByFramework groups sorted controls by framework.
func complianceByFramework(cs []ControlEntry) []*frameworkControls {
	var out []*frameworkControls
	for _, c := range cs {
		if len(out) == 0 || out[len(out)-1].Framework != c.Framework {
			out = append(out, &frameworkControls{Framework: c.Framework})
		}
		fw := out[len(out)-1]
		fw.Controls = append(fw.Controls, c)
		switch c.Status {
		case rules.StatusPass:
			fw.Pass++
		case rules.StatusFail:
			fw.Fail++
		default:
			fw.NotApplicable++
		}
	}
	return out
}

// headerLine names the tool, the scope and the time of the run.
func headerLine(d *Document) string {
	parts := []string{strings.TrimSpace(d.Tool.Name + " " + d.Tool.Version)}
	if parts[0] == "" {
		parts[0] = "portcullis"
	}
	list := func(items []string, limit int, word string) {
		switch {
		case len(items) == 0:
		case len(items) <= limit:
			parts = append(parts, strings.Join(items, ", "))
		default:
			parts = append(parts, plural(len(items), word))
		}
	}
	list(d.Scope.Providers, 3, "provider")
	list(d.Scope.Accounts, 2, "account")
	list(d.Scope.Regions, 3, "region")
	if d.Scope.Snapshot != "" {
		parts = append(parts, "snapshot "+d.Scope.Snapshot)
	}
	if d.GeneratedAt != "" {
		parts = append(parts, d.GeneratedAt)
	}
	return strings.Join(parts, " · ")
}

// summaryLine is the one-line verdict shared by the human formats.
func summaryLine(d *Document) string {
	s := &d.Summary
	var b strings.Builder
	fmt.Fprintf(&b, "Summary: %s", plural(s.Findings.Active, "finding"))
	if sev := severityBreakdown(s.Findings.BySeverity); sev != "" {
		fmt.Fprintf(&b, " (%s)", sev)
	}
	if s.Findings.Suppressed > 0 {
		fmt.Fprintf(&b, ", %d suppressed", s.Findings.Suppressed)
	}
	fmt.Fprintf(&b, "; %d effective and %d latent %s", s.Exposures.Effective, s.Exposures.Latent,
		pluralWord(s.Exposures.Total, "exposure"))
	fmt.Fprintf(&b, "; %d at or above %s", s.Failing, s.FailOn)
	if s.Errors > 0 || s.Partial {
		fmt.Fprintf(&b, "; %s, results are partial", plural(s.Errors, "error"))
	}
	b.WriteString(".")
	return b.String()
}

func severityBreakdown(c SeverityCounts) string {
	var parts []string
	for _, x := range []struct {
		n    int
		name string
	}{{c.Critical, "critical"}, {c.High, "high"}, {c.Medium, "medium"}, {c.Low, "low"}, {c.Info, "info"}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", x.n, x.name))
		}
	}
	return strings.Join(parts, ", ")
}

// findingSentence says what a finding is in one sentence, for the formats
// that carry a message (SARIF, OCSF, ASFF).
func findingSentence(f *Finding) string {
	e := f.Exposure
	var b strings.Builder
	b.WriteString(or(f.Title, f.RuleID))
	if e.Level == exposure.Effective {
		fmt.Fprintf(&b, ": %s/%s reachable at %s", e.Protocol, e.PortLabel(), e.Address)
	} else {
		fmt.Fprintf(&b, ": %s/%s admitted by a %s but not reachable through any path today (latent)", e.Protocol, e.PortLabel(), e.Target.Kind)
	}
	fmt.Fprintf(&b, " from %s; target %s", e.SourcesLabel, e.Target.ID)
	if e.Target.Name != "" {
		fmt.Fprintf(&b, " (%s)", e.Target.Name)
	}
	if ev := e.EvidenceLabel(); ev != "" {
		fmt.Fprintf(&b, "; let in by %s", ev)
	}
	if p := f.ProbeLabel(); p != "" {
		fmt.Fprintf(&b, "; probe: %s", p)
	}
	return b.String() + "."
}

func plural(n int, word string) string { return strconv.Itoa(n) + " " + pluralWord(n, word) }

func pluralWord(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func or(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}
