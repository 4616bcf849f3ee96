package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"strings"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/demo"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/fix"
	"github.com/portcullis-sec/portcullis/reports"
)

func runExplain(_ context.Context, args []string, e *env) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var fo fixFlags
	fs.BoolVar(&fo.fix, "fix", false, "compute the smallest verified rule changes that close the exposure, with their blast radius")
	fs.StringVar(&fo.keep, "keep", "", "with --fix: comma-separated CIDRs that keep access (the exposure is narrowed to them)")
	fs.StringVar(&fo.snapshot, "snapshot", "", "with --fix: snapshot directory to re-analyze (default: the report's scope.snapshot)")
	fs.StringVar(&fo.format, "format", "text", "with --fix: text or json")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: portcullis explain REPORT.json ID [--fix [--keep CIDR,…] [--snapshot DIR] [--format text|json]]

Explains one exposure of a JSON report (portcullis audit --format json):
where it is, which layers and rules let the traffic in, where a load
balancer or NAT rule sends it, what the probe saw, and the findings it
raised.

ID is an exposure ID, a finding ID (the exposure of that finding is
explained), or the start of either when only one matches; a prefix that
matches several is an error that lists them. Exposure IDs are stable
across runs; the JSON, CSV, SARIF and HTML reports show them.

With --fix, the snapshot the report was made from (scope.snapshot, or
--snapshot) is analyzed again and the smallest rule changes that close the
exposure are computed: revoke or narrow the admitting allow rules, or
insert a deny ahead of them in a NACL, NSG or GCP firewall. Each
alternative was applied to the inventory in memory and re-analyzed before
it is shown: the exposure is gone (or narrowed to --keep), and no other
exposure appears or widens. Its blast radius lists the other exposures it
closes or narrows. Nothing is changed in the cloud: the commands are
printed for you to review and run. See docs/fix.md.

Flags:
`)
		fs.PrintDefaults()
	}
	// Flags may follow the positional arguments (explain R.json ID --fix).
	var pos []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK
			}
			return exitError
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(pos) != 2 {
		fs.Usage()
		return exitError
	}
	if !fo.fix && (fo.keep != "" || fo.snapshot != "" || fo.format != "text") {
		return fail(e, errors.New("explain: --keep, --snapshot and --format go with --fix"))
	}
	d, err := readReport(pos[0])
	if err != nil {
		return fail(e, err)
	}
	x, f, err := resolveID(d, pos[1])
	if err != nil {
		return fail(e, fmt.Errorf("%s: %w", pos[0], err))
	}
	if fo.fix {
		return runFix(e, d, x, fo)
	}
	explain(e.stdout, d, x, f)
	return exitOK
}

// readReport reads a JSON report file through the report contract.
func readReport(name string) (*reports.Document, error) {
	fh, err := os.Open(name) //nolint:gosec // G304: the file the user names on the command line
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
	fmt.Fprintf(w, "  from %s\n", sourcesPhrase(x))
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

// fixFlags are explain's --fix flags.
type fixFlags struct {
	fix                    bool
	keep, snapshot, format string
}

// demoSnapshotName is what `portcullis demo` writes as its report's
// snapshot.
const demoSnapshotName = "(embedded demo estate)"

// runFix re-analyzes the report's snapshot and prints the verified
// changes that close x.
func runFix(e *env, d *reports.Document, x *reports.Exposure, fo fixFlags) int {
	if fo.format != "text" && fo.format != "json" {
		return fail(e, fmt.Errorf("explain --fix: unknown --format %q (text or json)", fo.format))
	}
	var keep *netipx.IPSet
	if fo.keep != "" {
		var err error
		if keep, err = exposure.ParseSources(splitList(fo.keep)...); err != nil {
			return fail(e, fmt.Errorf("explain --fix: --keep: %w", err))
		}
	}
	dir := fo.snapshot
	if dir == "" {
		dir = d.Scope.Snapshot
	}
	var fsys fs.FS
	switch dir {
	case "":
		return fail(e, errors.New("explain --fix: the report names no snapshot (a live audit): give --snapshot DIR, saved with portcullis snapshot"))
	case demoSnapshotName:
		fsys = demo.Estate()
	default:
		var err error
		if fsys, err = audit.DirFS(dir); err != nil {
			return fail(e, fmt.Errorf("explain --fix: %w", err))
		}
	}
	inv, _, err := audit.Normalize(fsys, d.Scope.Providers)
	if err != nil {
		return fail(e, fmt.Errorf("explain --fix: read snapshot %s: %w", dir, err))
	}
	o := fix.Options{Keep: keep}
	// A lab audit (moto hands out loopback Elastic IPs) analyzed loopback
	// endpoints as public; the report keeps the address, so the same
	// analysis can be asked for.
	if a, err := netip.ParseAddr(x.Address); err == nil && a.Unmap().IsLoopback() {
		o.Analysis.LoopbackEndpoints = true
	}
	plan, err := fix.Suggest(inv, x.ID, o)
	if err != nil {
		return fail(e, fmt.Errorf("explain --fix: %w", err))
	}
	if fo.format == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(plan); err != nil {
			return fail(e, err)
		}
		return exitOK
	}
	writeFix(e.stdout, d, x, plan)
	return exitOK
}

// maxLeavesOpen caps the "leaves open" list of the text output.
const maxLeavesOpen = 5

// writeFix writes a fix plan in words.
func writeFix(w io.Writer, d *reports.Document, x *reports.Exposure, plan *fix.Plan) {
	byID := map[string]*reports.Exposure{}
	for _, o := range d.Exposures {
		byID[o.ID] = o
	}
	label := func(id string) string {
		o := byID[id]
		if o == nil {
			return id
		}
		where := o.Target.ID
		if o.Target.Name != "" {
			where = o.Target.Name
		}
		if o.Address != "" {
			where += " " + o.Address
		} else if o.Hostname != "" {
			where += " " + o.Hostname
		}
		return sanitize(fmt.Sprintf("%s  %s %s/%s  %s", id, o.Level, o.Protocol, o.PortLabel(), where))
	}
	list := func(title string, ids []string) {
		if len(ids) == 0 {
			return
		}
		fmt.Fprintf(w, "  %s (%d):\n", title, len(ids))
		for _, id := range ids {
			fmt.Fprintf(w, "    %s\n", label(id))
		}
	}
	goal := "close"
	if len(plan.Keep) > 0 {
		goal = "narrow to " + strings.Join(plan.Keep, ", ")
	}
	fmt.Fprintf(w, "Fix for %s (%s)\n", label(x.ID), goal)
	if len(plan.Alternatives) == 0 {
		fmt.Fprintln(w, "  no verified change closes it: the admitting layers are not ones --fix edits (route tables, listeners, Azure Firewall, firewall policies), or every candidate opened or widened another exposure (below)")
	}
	for i, a := range plan.Alternatives {
		head := fmt.Sprintf("Alternative %d", i+1)
		if i == 0 {
			head += " (smallest blast radius)"
		}
		fmt.Fprintf(w, "\n%s: %d change(s); blast radius %d (other reachable exposures it closes or narrows)\n", head, len(a.Changes), a.Radius)
		for _, c := range a.Changes {
			fmt.Fprintf(w, "  %s\n", sanitize(changeWords(c)))
		}
		list("also closes", a.AlsoCloses)
		list("narrows", a.Narrows)
		// What stays open through the changed layers is listed while it
		// is short; a NACL's or network's list is only counted.
		if n := len(a.LeavesOpen); n > maxLeavesOpen {
			fmt.Fprintf(w, "  leaves open %d other exposure(s) through the changed layers (--format json lists them)\n", n)
		} else {
			list("leaves open through the changed layers", a.LeavesOpen)
		}
		if len(a.Commands) > 0 {
			fmt.Fprintln(w, "  commands:")
			for _, c := range a.Commands {
				fmt.Fprintf(w, "    %s\n", sanitize(c))
			}
		}
	}
	if len(plan.Rejected) > 0 {
		fmt.Fprintf(w, "\nNot offered (the re-analysis rejected them):\n")
		for _, r := range plan.Rejected {
			var cs []string
			for _, c := range r.Changes {
				cs = append(cs, changeWords(c))
			}
			fmt.Fprintf(w, "  %s: %s\n", sanitize(strings.Join(cs, "; ")), sanitize(r.Reason))
		}
	}
}

func changeWords(c fix.Change) string {
	res := c.Resource
	if c.ResourceName != "" && c.ResourceName != c.Resource {
		res += " (" + c.ResourceName + ")"
	}
	ports := "all ports"
	if len(c.Rule.Ports) > 0 {
		var ps []string
		for _, p := range c.Rule.Ports {
			ps = append(ps, p.String())
		}
		ports = strings.Join(ps, ",")
	}
	what := fmt.Sprintf("%s/%s from %s", c.Rule.Protocol, ports, strings.Join(c.Rule.Sources, ", "))
	var s string
	switch c.Action {
	case fix.ActionRevoke:
		s = fmt.Sprintf("revoke %s %s rule %s (%s)", c.Layer, res, c.Rule.ID, what)
	case fix.ActionNarrow:
		s = fmt.Sprintf("narrow %s %s rule %s (%s)", c.Layer, res, c.Rule.ID, what)
		if len(c.Rule.NewSources) > 0 {
			s += " to sources " + strings.Join(c.Rule.NewSources, ", ")
		}
		if len(c.Rule.NewPorts) > 0 {
			var ps []string
			for _, p := range c.Rule.NewPorts {
				ps = append(ps, p.String())
			}
			s += " to ports " + strings.Join(ps, ",")
		}
	case fix.ActionInsertDeny:
		s = fmt.Sprintf("insert deny %s into %s %s at priority %d (%s)", c.Rule.ID, c.Layer, res, c.Rule.Priority, what)
	}
	return s
}

// maxListedSources is how many source ranges explain lists by name.
const maxListedSources = 5

// sourcesPhrase says who can connect, as "anyone: 0.0.0.0/0, ::/0",
// "198.51.100.0/24" or "3 ranges: a, b, c" (the first five of a longer
// list, and how many more).
func sourcesPhrase(x *reports.Exposure) string {
	label := sanitize(x.SourcesLabel)
	if label == "" {
		label = fmt.Sprintf("%d ranges", len(x.Sources))
	}
	if len(x.Sources) == 0 || (len(x.Sources) == 1 && x.Sources[0] == x.SourcesLabel) {
		return label
	}
	if x.SourceBreadth == exposure.BreadthAnyone && len(x.Sources) > 2 {
		// The public internet less what is reserved: naming the pieces
		// says nothing more than "anyone".
		return fmt.Sprintf("%s: %d ranges that cover the public internet", label, len(x.Sources))
	}
	listed := x.Sources
	more := ""
	if len(listed) > maxListedSources {
		listed = listed[:maxListedSources]
		more = fmt.Sprintf(" and %d more", len(x.Sources)-maxListedSources)
	}
	return label + ": " + sanitize(strings.Join(listed, ", ")) + more
}
