package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/portcullis-sec/portcullis/reports"
)

func runExplain(_ context.Context, args []string, e *env) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: portcullis explain REPORT.json ID

Explains one exposure of a JSON report (portcullis audit --format json):
where it is, which layers and rules let the traffic in, where a load
balancer or NAT rule sends it, what the probe saw, and the findings it
raised.

ID is an exposure ID, a finding ID (the exposure of that finding is
explained), or the start of either when only one matches; a prefix that
matches several is an error that lists them. Exposure IDs are stable
across runs; the JSON, CSV, SARIF and HTML reports show them.
`)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitError
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return exitError
	}
	d, err := readReport(fs.Arg(0))
	if err != nil {
		return fail(e, err)
	}
	x, f, err := resolveID(d, fs.Arg(1))
	if err != nil {
		return fail(e, fmt.Errorf("%s: %w", fs.Arg(0), err))
	}
	explain(e.stdout, d, x, f)
	return exitOK
}

// readReport reads a JSON report file through the report contract.
func readReport(name string) (*reports.Document, error) {
	fh, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	d, err := reports.Read(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return d, nil
}

// maxCandidates caps the list of matches an ambiguous prefix prints.
const maxCandidates = 10

// resolveID finds what id names: an exposure ID or a finding ID exactly,
// else the one exposure or finding whose ID starts with it. A finding is
// returned with its exposure. A prefix that matches an exposure and only
// findings of that exposure (whose default IDs start with the exposure's)
// names the exposure.
func resolveID(d *reports.Document, id string) (*reports.Exposure, *reports.Finding, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return nil, nil, errors.New("empty exposure or finding ID")
	}
	for _, x := range d.Exposures {
		if x.ID == id {
			return x, nil, nil
		}
	}
	for _, f := range d.Findings {
		if f.ID == id {
			return f.Exposure, f, nil
		}
	}
	var exps []*reports.Exposure
	var finds []*reports.Finding
	for _, x := range d.Exposures {
		if strings.HasPrefix(x.ID, id) {
			exps = append(exps, x)
		}
	}
	for _, f := range d.Findings {
		if strings.HasPrefix(f.ID, id) {
			finds = append(finds, f)
		}
	}
	onlyOf := func(x *reports.Exposure) bool {
		return !slices.ContainsFunc(finds, func(f *reports.Finding) bool { return f.Exposure != x })
	}
	switch {
	case len(exps) == 0 && len(finds) == 0:
		return nil, nil, fmt.Errorf("no exposure or finding ID is or starts with %q", id)
	case len(exps) == 1 && onlyOf(exps[0]):
		return exps[0], nil, nil
	case len(exps) == 0 && len(finds) == 1:
		return finds[0].Exposure, finds[0], nil
	}
	var list []string
	for _, x := range exps {
		list = append(list, fmt.Sprintf("  exposure %s  %s %s/%s %s", x.ID, x.Level, x.Protocol, x.PortLabel(), sanitize(x.AddressLabel())))
	}
	for _, f := range finds {
		list = append(list, fmt.Sprintf("  finding  %s  %s %s", sanitize(f.ID), f.Severity, sanitize(f.RuleID)))
	}
	more := ""
	if n := len(list) - maxCandidates; n > 0 {
		list, more = list[:maxCandidates], fmt.Sprintf("\n  …and %d more", n)
	}
	return nil, nil, fmt.Errorf("%q is ambiguous: %d IDs start with it; give more of one:\n%s%s",
		id, len(exps)+len(finds), strings.Join(list, "\n"), more)
}

// explain writes what one exposure is and why it is open; f, when set, is
// the finding the user asked about.
func explain(w io.Writer, d *reports.Document, x *reports.Exposure, f *reports.Finding) {
	ports := func(from, to int) string {
		if from == to {
			return fmt.Sprint(from)
		}
		return fmt.Sprintf("%d-%d", from, to)
	}
	if f != nil {
		fmt.Fprintf(w, "Finding %s: %s %s, on the exposure below\n", sanitize(f.ID), strings.ToUpper(f.Severity.String()), sanitize(f.RuleID))
	}
	fmt.Fprintf(w, "Exposure %s (%s)\n", x.ID, x.Level)
	fmt.Fprintf(w, "  %s %s %s, %s %s\n", sanitize(x.Provider), sanitize(x.Account), sanitize(x.Region), sanitize(x.Target.Kind), sanitize(x.Target.ID))
	if x.Target.Name != "" {
		fmt.Fprintf(w, "  name: %s\n", sanitize(x.Target.Name))
	}
	if x.Address != "" {
		fmt.Fprintf(w, "  reachable at %s %s/%s\n", sanitize(x.Address), x.Protocol, ports(x.FromPort, x.ToPort))
	} else {
		fmt.Fprintf(w, "  admits %s/%s (no path delivers it today)\n", x.Protocol, ports(x.FromPort, x.ToPort))
	}
	fmt.Fprintf(w, "  from %s (%d prefixes)\n", x.SourceBreadth, len(x.Sources))
	if b := x.Backend; b != nil {
		fmt.Fprintf(w, "  forwarded by %s to %s port %s\n", sanitize(b.Forward), sanitize(b.ID), ports(b.FromPort, b.ToPort))
	}
	fmt.Fprintln(w, "Path (every layer that let it in):")
	for _, ev := range x.Evidence {
		line := fmt.Sprintf("  %-22s %s", sanitize(ev.LayerKind), sanitize(ev.Layer))
		if ev.LayerName != "" && ev.LayerName != ev.Layer {
			line += " (" + sanitize(ev.LayerName) + ")"
		}
		if ev.Rule != "" {
			line += "  rule " + sanitize(ev.Rule)
		}
		if len(ev.Sources) > 0 {
			line += "  from " + sanitize(strings.Join(ev.Sources, ", "))
		}
		if ev.Note != "" {
			line += "  — " + sanitize(ev.Note)
		}
		fmt.Fprintln(w, line)
	}
	if p := x.Probe; p != nil {
		fmt.Fprintf(w, "Probe: %s %s %s\n", p.State, sanitize(p.Service), sanitize(p.Product))
	}
	fmt.Fprintln(w, "Findings:")
	n := 0
	for _, g := range d.Findings {
		if g.Exposure != x {
			continue
		}
		n++
		sup := ""
		if g.Suppressed {
			sup = " (suppressed by an exception)"
		}
		mark := " "
		if g == f {
			mark = "*"
		}
		fmt.Fprintf(w, " %s%-8s %s %s%s\n", mark, strings.ToUpper(g.Severity.String()), sanitize(g.RuleID), sanitize(g.Title), sup)
		var refs []string
		for _, c := range g.Compliance {
			refs = append(refs, c.Framework+" "+c.Control)
		}
		if len(refs) > 0 {
			fmt.Fprintf(w, "           %s\n", sanitize(strings.Join(refs, ", ")))
		}
		if g.Remediation != "" {
			fmt.Fprintf(w, "           fix: %s\n", sanitize(g.Remediation))
		}
	}
	if n == 0 {
		fmt.Fprintln(w, "  none: no catalog rule matches this exposure")
	}
}
