package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/rules"
	"github.com/portcullis-sec/portcullis/state"
)

func runDiff(_ context.Context, args []string, e *env) int {
	fs := flag.NewFlagSet("diff", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	format := fs.String("format", "table", "output format: "+strings.Join(reports.ChangeFormats, ", "))
	output := fs.String("output", "", "write to this file (atomically) instead of standard output")
	failOn := fs.String("fail-on", "", "exit 1 when a new, widened or reopened effective exposure has an active finding at or above this severity (default: never)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: portcullis diff [flags] OLD.json NEW.json

Compares two saved JSON reports (portcullis audit --format json) the way
the monitor compares a run with its state (docs/state.md): per exposure
key (scope, target, address, protocol, forward; not the ports), whether
it is new, widened (more ports, or more sources on a port), narrowed,
resolved or reopened. No state is read or written.

A scope whose collection failed or was partial in NEW resolves nothing:
it is listed as not diffed.

Exit codes: 0 the diff was made (and nothing at or above --fail-on was
newly exposed); 1 with --fail-on, something at or above it was newly
exposed; 2 a report could not be read.

Flags:
`)
		fs.PrintDefaults()
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
	if !contains(reports.ChangeFormats, strings.ToLower(*format)) {
		return fail(e, fmt.Errorf("--format: unknown format %q (want one of %s)", *format, strings.Join(reports.ChangeFormats, ", ")))
	}
	gate := rules.Severity(-1)
	if *failOn != "" {
		s, err := rules.ParseSeverity(*failOn)
		if err != nil {
			return fail(e, fmt.Errorf("--fail-on: %w", err))
		}
		gate = s
	}
	old, err := readReport(fs.Arg(0))
	if err != nil {
		return fail(e, err)
	}
	cur, err := readReport(fs.Arg(1))
	if err != nil {
		return fail(e, err)
	}
	changes, err := state.DiffDocuments(old, cur, time.Now())
	if err != nil {
		return fail(e, err)
	}
	c := state.ReportChanges(changes, skippedScopes(cur, changes), parseTime(old.GeneratedAt), false)
	var buf bytes.Buffer
	if err := reports.WriteChanges(&buf, *format, c); err != nil {
		return fail(e, err)
	}
	if *output == "" || *output == "-" {
		if _, err := io.Copy(e.stdout, &buf); err != nil {
			return fail(e, err)
		}
	} else if err := writeFileAtomic(*output, buf.Bytes()); err != nil {
		return fail(e, err)
	}
	if gate >= 0 {
		for _, it := range c.Items {
			switch it.Kind {
			case reports.ChangeNew, reports.ChangeWidened, reports.ChangeReopened:
				if it.Key.Level == "effective" && it.HasFindings && !it.Suppressed && it.Severity >= gate {
					return exitFindings
				}
			}
		}
	}
	return exitOK
}

// skippedScopes are the scopes of the diff that NEW's errors make
// incomplete: nothing in them was resolved or narrowed.
func skippedScopes(cur *reports.Document, changes []state.Change) []exposure.Scope {
	a, err := state.FromDocument(cur)
	if err != nil {
		return nil
	}
	seen := map[exposure.Scope]bool{}
	var out []exposure.Scope
	add := func(s exposure.Scope) {
		s = state.Partition(s)
		if !seen[s] && a.Incomplete.Contains(s) {
			seen[s] = true
			out = append(out, s)
		}
	}
	for s := range a.Runs {
		add(s)
	}
	for _, c := range changes {
		add(c.Key.Scope)
	}
	return out
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s)
	return t
}
