package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/iacplan"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/rules"
)

func runPlan(ctx context.Context, args []string, e *env) int {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var (
		snapshot, tfPlan, changeSet, template string
		account, region                       string
		format, output, failOn                string
		rulesFile, exceptions                 string
		verbose                               bool
	)
	fs.StringVar(&snapshot, "snapshot", "", "the estate as it is: a snapshot directory (from 'portcullis snapshot' or CLI exports); without it the plan is audited alone, as a new stack")
	fs.StringVar(&tfPlan, "terraform", "", "a Terraform plan as JSON: terraform show -json PLANFILE > plan.json")
	fs.StringVar(&changeSet, "cloudformation", "", "a CloudFormation change set: aws cloudformation describe-change-set --include-property-values … > changeset.json")
	fs.StringVar(&template, "template", "", "with --cloudformation: the stack's template (JSON or YAML), to resolve references the change set leaves unresolved")
	fs.StringVar(&account, "account", "", "AWS account of planned resources that refer to nothing in the snapshot (default: the snapshot's only account, the stack's, else "+iacplan.PlaceholderAccount+")")
	fs.StringVar(&region, "region", "", "AWS region of planned resources that refer to nothing in the snapshot (default: the snapshot's only region, else the plan's provider region)")
	fs.StringVar(&format, "format", "table", "output format: "+strings.Join(iacplan.Formats(), ", ")+" (markdown fits a pull-request comment)")
	fs.StringVar(&output, "output", "", "write the diff to this file instead of standard output")
	fs.StringVar(&failOn, "fail-on", "high", "exit 1 when a new or widened effective exposure has an active finding of this severity or above: info, low, medium, high, critical")
	fs.StringVar(&rulesFile, "rules", "", "custom rules file (see docs/rules.md)")
	fs.StringVar(&exceptions, "exceptions", "", "exceptions file (see docs/rules.md)")
	fs.BoolVar(&verbose, "v", false, "log what is being done to stderr")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: portcullis plan [--snapshot DIR] (--terraform PLAN.json | --cloudformation CHANGESET.json [--template FILE]) [flags]

Checks an infrastructure change before it is applied, along the whole path:
applies the planned creates, updates and deletes of security groups, NACLs,
routes and route-table associations, internet gateways, Elastic IPs,
instances and interfaces, load balancers, listeners and target groups (AWS),
VPC firewall rules (GCP) and NSGs (Azure) onto an in-memory copy of the
snapshot, audits the
snapshot before and after, and reports what the change newly exposes,
widens, narrows or closes. A 0.0.0.0/0 rule on a group of a private instance
is latent; a route-table change that makes a subnet public is a new
effective exposure without any security-group change.

Values known only after apply are read at their widest (an unknown CIDR is
0.0.0.0/0, an unknown public IP a placeholder address) and the rows are
marked "known after apply: widest reading". Planned resources of types the
overlay does not model are listed as not modelled. See docs/plan.md.

Exit codes: 0 nothing new or widened at or above --fail-on; 1 a new or
widened effective exposure has an active finding at or above --fail-on;
2 the plan could not be checked; 3 an audit was partial or a network
resource is not modelled, and nothing at or above --fail-on was found.

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
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "portcullis plan: unexpected argument %q\n", fs.Arg(0))
		return exitError
	}
	if (tfPlan == "") == (changeSet == "") {
		return fail(e, errors.New("give one of --terraform PLAN.json or --cloudformation CHANGESET.json"))
	}
	if template != "" && changeSet == "" {
		return fail(e, errors.New("--template goes with --cloudformation"))
	}
	sev, err := rules.ParseSeverity(failOn)
	if err != nil {
		return fail(e, fmt.Errorf("--fail-on: %w", err))
	}
	if !contains(iacplan.Formats(), strings.ToLower(format)) {
		return fail(e, fmt.Errorf("--format: unknown format %q (want one of %s)", format, strings.Join(iacplan.Formats(), ", ")))
	}

	var plan *iacplan.Plan
	switch {
	case tfPlan != "":
		plan, err = readWith(tfPlan, iacplan.ParseTerraform)
	default:
		var tmpl []byte
		if template != "" {
			if tmpl, err = os.ReadFile(template); err != nil { //nolint:gosec // G304: the --template file the user names on the command line
				return fail(e, fmt.Errorf("--template: %w", err))
			}
		}
		plan, err = readWith(changeSet, func(r io.Reader) (*iacplan.Plan, error) { return iacplan.ParseChangeSet(r, tmpl) })
	}
	if err != nil {
		return fail(e, err)
	}
	o := audit.Options{Version: toolVersion(), FailOn: sev,
		Rules: rules.Options{CustomRulesFile: rulesFile, ExceptionsFile: exceptions, Now: time.Now()}}
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	o.Logger = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))

	var base fsFS
	if snapshot != "" {
		if base, err = audit.DirFS(snapshot); err != nil {
			return fail(e, err)
		}
	}
	ov, err := iacplan.Apply(base, plan, iacplan.Options{Account: account, Region: region})
	if err != nil {
		return fail(e, err)
	}
	o.SnapshotDir = snapshot
	o.Snapshot = ov.Planned
	after, err := audit.Run(ctx, o)
	switch {
	case err != nil && ov.Empty && errors.Is(err, audit.ErrNothingAudited):
		// A new stack without a single network resource the overlay
		// models: nothing to expose (what was skipped is listed).
		after = &audit.Result{Report: &reports.Report{Tool: reports.Tool{Name: "portcullis", Version: o.Version}, GeneratedAt: o.Rules.Now.UTC(), FailOn: sev}}
	case err != nil:
		return fail(e, fmt.Errorf("audit the snapshot with the plan applied: %w", err))
	}
	var baseDoc *reports.Document
	if ov.Empty {
		baseDoc = iacplan.EmptyBase(after.Report)
	} else {
		o.Snapshot = ov.Base
		before, err := audit.Run(ctx, o)
		if err != nil {
			return fail(e, fmt.Errorf("audit the snapshot: %w", err))
		}
		baseDoc = reports.NewDocument(before.Report)
	}
	res, err := iacplan.Compare(baseDoc, reports.NewDocument(after.Report), ov, sev, o.Rules.Now)
	if err != nil {
		return fail(e, err)
	}
	res.Source, res.Snapshot = plan.Source, snapshot
	var buf bytes.Buffer
	if err := iacplan.Render(&buf, format, res); err != nil {
		return fail(e, fmt.Errorf("write %s: %w", format, err))
	}
	if output == "" || output == "-" {
		if _, err := io.Copy(e.stdout, &buf); err != nil {
			return fail(e, err)
		}
	} else if err := writeFileAtomic(output, buf.Bytes()); err != nil {
		return fail(e, err)
	}
	switch {
	case res.Failing > 0:
		return exitFindings
	case res.Partial:
		return exitPartial
	}
	return exitOK
}

// fsFS is a snapshot; nil for a new stack.
type fsFS = iofs.FS

func readWith(name string, parse func(io.Reader) (*iacplan.Plan, error)) (*iacplan.Plan, error) {
	fh, err := os.Open(name) //nolint:gosec // G304: the file the user names on the command line
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	p, err := parse(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}
