package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

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
		err = cat.WriteRule(e.stdout, rest[1], *format)
	default:
		fs.Usage()
		return exitError
	}
	if err != nil {
		return fail(e, err)
	}
	return exitOK
}
