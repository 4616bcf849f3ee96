package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/portcullis-sec/portcullis/rules"
)

func runRules(_ context.Context, args []string, e *env) int {
	fs := flag.NewFlagSet("rules", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	format := fs.String("format", "table", "output format: table or json")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: portcullis rules list [--format table|json]
       portcullis rules show ID [--format table|json]

Prints the embedded rule catalog: what each rule matches (protocol, ports,
level, source breadth), its severity, remediation and compliance references
(CIS AWS/GCP/Azure, PCI DSS, NIST SP 800-53, SOC 2). docs/rules.md explains
the schema, the severity model and how to write custom rules and exceptions.

Flags:
`)
		fs.PrintDefaults()
	}
	// Flags may come before or after the subcommand.
	var rest []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK
			}
			return exitError
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	cat, err := rules.LoadCatalog()
	if err != nil {
		return fail(e, err)
	}
	switch {
	case len(rest) == 0 || (len(rest) == 1 && rest[0] == "list"):
		err = cat.WriteList(e.stdout, *format)
	case len(rest) == 2 && rest[0] == "show":
		id, ok := ruleID(cat, rest[1])
		if !ok {
			return fail(e, fmt.Errorf("rules show: no rule %q%s (portcullis rules list shows them all)", rest[1], similarRules(cat, rest[1])))
		}
		err = cat.WriteRule(e.stdout, id, *format)
	case rest[0] == "list":
		return fail(e, fmt.Errorf("rules list takes no argument (got %q)", strings.Join(rest[1:], " ")))
	case rest[0] == "show":
		return fail(e, errors.New("rules show takes one rule ID, as in: portcullis rules show PORT-SSH"))
	default:
		return fail(e, fmt.Errorf("rules: unknown subcommand %q (want list or show ID; portcullis rules -h)", rest[0]))
	}
	if err != nil {
		return fail(e, err)
	}
	return exitOK
}

// ruleID finds a rule by its ID, whatever the case: IDs are written
// upper-case (PORT-SSH) but people type them as they like.
func ruleID(cat *rules.Catalog, id string) (string, bool) {
	if _, ok := cat.Rule(id); ok {
		return id, true
	}
	for _, r := range cat.Rules() {
		if strings.EqualFold(r.ID, id) {
			return r.ID, true
		}
	}
	return "", false
}

// similarRules suggests up to three rule IDs that contain what was typed.
func similarRules(cat *rules.Catalog, id string) string {
	var near []string
	for _, r := range cat.Rules() {
		if id != "" && strings.Contains(strings.ToLower(r.ID), strings.ToLower(id)) {
			near = append(near, r.ID)
		}
	}
	if len(near) == 0 {
		return ""
	}
	if len(near) > 3 {
		near = append(near[:3], "…")
	}
	return "; did you mean " + strings.Join(near, ", ") + "?"
}
