package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

// explainReport is the part of the JSON report `explain` reads.
type explainReport struct {
	Exposures []struct {
		ID       string `json:"id"`
		Provider string `json:"provider"`
		Account  string `json:"account"`
		Region   string `json:"region"`
		Address  string `json:"address"`
		Protocol string `json:"protocol"`
		FromPort int    `json:"fromPort"`
		ToPort   int    `json:"toPort"`
		Level    string `json:"level"`
		Target   struct {
			Kind, ID, Name, Owner string
		} `json:"target"`
		Backend *struct {
			ID       string `json:"id"`
			Forward  string `json:"forward"`
			FromPort int    `json:"fromPort"`
			ToPort   int    `json:"toPort"`
		} `json:"backend"`
		SourceBreadth string   `json:"sourceBreadth"`
		Sources       []string `json:"sources"`
		Evidence      []struct {
			Layer, LayerKind, LayerName, Rule, Action, Note string
			Sources                                         []string
		} `json:"evidence"`
		Probe *struct {
			State, Service, Product string
		} `json:"probe"`
	} `json:"exposures"`
	Findings []struct {
		RuleID     string `json:"ruleId"`
		Title      string `json:"title"`
		Severity   string `json:"severity"`
		ExposureID string `json:"exposureId"`
		Suppressed bool   `json:"suppressed"`
		Compliance []struct {
			Framework, Control string
		} `json:"compliance"`
		Remediation string `json:"remediation"`
	} `json:"findings"`
}

func runExplain(_ context.Context, args []string, e *env) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: portcullis explain REPORT.json EXPOSURE-ID

Explains one exposure of a JSON report (portcullis audit --format json):
where it is, which layers and rules let the traffic in, where a load
balancer or NAT rule sends it, what the probe saw, and the findings it
raised. Exposure IDs are stable across runs; the table and HTML reports
show them.
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
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return fail(e, err)
	}
	var r explainReport
	if err := json.Unmarshal(data, &r); err != nil {
		return fail(e, fmt.Errorf("%s: not a portcullis JSON report: %w", fs.Arg(0), err))
	}
	id := fs.Arg(1)
	for _, x := range r.Exposures {
		if x.ID != id {
			continue
		}
		w := e.stdout
		ports := fmt.Sprint(x.FromPort)
		if x.ToPort != x.FromPort {
			ports = fmt.Sprintf("%d-%d", x.FromPort, x.ToPort)
		}
		fmt.Fprintf(w, "Exposure %s (%s)\n", x.ID, x.Level)
		fmt.Fprintf(w, "  %s %s %s, %s %s\n", x.Provider, sanitize(x.Account), sanitize(x.Region), x.Target.Kind, sanitize(x.Target.ID))
		if x.Target.Name != "" {
			fmt.Fprintf(w, "  name: %s\n", sanitize(x.Target.Name))
		}
		if x.Address != "" {
			fmt.Fprintf(w, "  reachable at %s %s/%s\n", sanitize(x.Address), x.Protocol, ports)
		} else {
			fmt.Fprintf(w, "  admits %s/%s (no path delivers it today)\n", x.Protocol, ports)
		}
		fmt.Fprintf(w, "  from %s (%d prefixes)\n", x.SourceBreadth, len(x.Sources))
		if x.Backend != nil {
			bp := fmt.Sprint(x.Backend.FromPort)
			if x.Backend.ToPort != x.Backend.FromPort {
				bp = fmt.Sprintf("%d-%d", x.Backend.FromPort, x.Backend.ToPort)
			}
			fmt.Fprintf(w, "  forwarded by %s to %s port %s\n", sanitize(x.Backend.Forward), sanitize(x.Backend.ID), bp)
		}
		fmt.Fprintln(w, "Path (every layer that let it in):")
		for _, ev := range x.Evidence {
			line := fmt.Sprintf("  %-22s %s", ev.LayerKind, sanitize(ev.Layer))
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
		if x.Probe != nil {
			fmt.Fprintf(w, "Probe: %s %s %s\n", x.Probe.State, sanitize(x.Probe.Service), sanitize(x.Probe.Product))
		}
		fmt.Fprintln(w, "Findings:")
		n := 0
		for _, f := range r.Findings {
			if f.ExposureID != id {
				continue
			}
			n++
			sup := ""
			if f.Suppressed {
				sup = " (suppressed by an exception)"
			}
			fmt.Fprintf(w, "  %-8s %s %s%s\n", strings.ToUpper(f.Severity), f.RuleID, sanitize(f.Title), sup)
			var refs []string
			for _, c := range f.Compliance {
				refs = append(refs, c.Framework+" "+c.Control)
			}
			if len(refs) > 0 {
				fmt.Fprintf(w, "           %s\n", strings.Join(refs, ", "))
			}
			if f.Remediation != "" {
				fmt.Fprintf(w, "           fix: %s\n", sanitize(f.Remediation))
			}
		}
		if n == 0 {
			fmt.Fprintln(w, "  none: no catalog rule matches this exposure")
		}
		return exitOK
	}
	return fail(e, fmt.Errorf("no exposure %q in %s", id, fs.Arg(0)))
}
