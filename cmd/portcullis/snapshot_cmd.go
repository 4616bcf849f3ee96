package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/portcullis-sec/portcullis/audit"
)

func runSnapshot(ctx context.Context, args []string, e *env) int {
	fs := flag.NewFlagSet("snapshot", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var f auditFlags
	f.register(fs, true)
	out := fs.String("out", "", "directory to write the snapshot to (required)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: portcullis snapshot --out DIR [flags]

Collects the raw API responses an audit needs (read-only calls only) and
writes them under DIR: DIR/aws/<account>/<region>/*.json,
DIR/gcp/<project>/*.json, DIR/azure/<subscription>/*.json, plus
DIR/errors.json with anything that could not be collected. The files are
what the clouds' own CLIs print (aws ec2 describe-security-groups --output
json, gcloud compute firewall-rules list --format=json, az rest ...), so a
snapshot can also be assembled by hand; docs/providers/ gives the layout.

With --org, every ACTIVE account of the AWS Organization is collected
(see portcullis audit -h): DIR/aws/<account>/<region>/ for each.

Audit it anywhere, with no cloud access: portcullis audit --snapshot DIR

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
	if *out == "" {
		fmt.Fprintln(e.stderr, "portcullis snapshot: --out DIR is required")
		return exitError
	}
	o, _, err := f.options(e)
	if err != nil {
		return fail(e, err)
	}
	var bar *progressBar
	if e.stderrTTY && e.getenv("AWS_LAMBDA_FUNCTION_NAME") == "" {
		bar = newProgressBar(e.stderr, "collecting")
		o.Progress = bar
	}
	snap, err := audit.Collect(ctx, o)
	if bar != nil {
		bar.Finish()
	}
	if snap != nil {
		if werr := snap.WriteDir(*out); werr != nil {
			return fail(e, werr)
		}
	}
	if err != nil {
		return fail(e, err)
	}
	errs := snap.Errors()
	fmt.Fprintf(e.stderr, "portcullis: wrote %d files to %s", len(snap.Names()), *out)
	if len(errs) > 0 {
		fmt.Fprintf(e.stderr, " (%d parts could not be collected: see %s/errors.json)\n", len(errs), *out)
		for _, x := range errs {
			fmt.Fprintf(e.stderr, "  %s\n", sanitize(x.Error()))
		}
		return exitPartial
	}
	fmt.Fprintln(e.stderr)
	return exitOK
}
