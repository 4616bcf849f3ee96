package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/portcullis-sec/portcullis/reports"
)

func runReport(_ context.Context, args []string, e *env) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	in := fs.String("in", "", "the JSON report file to read (written by portcullis audit --format json)")
	format := fs.String("format", "table", "output format: "+strings.Join(reports.Formats(), ", "))
	output := fs.String("output", "", "write the report to this file (atomically) instead of standard output")
	color := fs.String("color", "auto", "colour in the table: auto, always, never")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: portcullis report --in REPORT.json [--format FORMAT] [--output FILE]

Renders a saved JSON report (portcullis audit --format json) in any
format, without auditing again: the JSON report holds everything every
format shows, so the output is the one the audit would have written in
that format. Audit once, keep report.json, and make the HTML page, the
SARIF file for code scanning or the ASFF findings for Security Hub from it.

This release writes schemaVersion %s and reads 2.x and 1.x reports: a
1.x report is migrated as it is read (--format json rewrites it as 2.0;
the exposure keys of a 1.0 report are derived from its other fields);
fields added by a newer minor version are ignored.

Flags:
`, reports.SchemaVersion)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), `
Examples:
  portcullis audit --format json --output report.json
  portcullis report --in report.json --format html --output report.html
  portcullis report --in report.json --format sarif --output report.sarif
`)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitError
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "portcullis report: unexpected argument %q\n", fs.Arg(0))
		return exitError
	}
	if *in == "" {
		return fail(e, errors.New("report: --in REPORT.json is required"))
	}
	if err := checkFormat(*format); err != nil {
		return fail(e, err)
	}
	d, err := readReport(*in)
	if err != nil {
		return fail(e, err)
	}
	if err := writeDocument(e, d, *format, *output, *color); err != nil {
		return fail(e, err)
	}
	return exitOK
}
