// Command portcullis audits what lets internet traffic into AWS, GCP and
// Azure estates: it computes what is effectively reachable through the
// whole path, judges it against a risky-port catalog and compliance
// controls, confirms it with targeted probes and reports it.
//
// Exit codes:
//
//	0  the audit ran and found nothing at or above --fail-on
//	1  findings at or above --fail-on (not suppressed by an exception)
//	2  the audit could not run: bad flags or rule files, no credentials,
//	   nothing could be collected
//	3  the audit ran but part of the scope failed (see the report's
//	   errors) and nothing at or above --fail-on was found in the rest
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
)

// Exit codes; documented in the package comment, README and --help.
const (
	exitOK       = 0
	exitFindings = 1
	exitError    = 2
	exitPartial  = 3
)

// version is set at build time with -ldflags "-X main.version=…"; the
// module version from the build info is used otherwise.
var version = ""

func toolVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, env *env) int
}

// env is what a command reads and writes besides its flags.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	// stderrTTY says whether stderr is a terminal (progress display).
	stderrTTY bool
	stdoutTTY bool
}

func commands() map[string]command {
	return map[string]command{
		"audit":    {"audit an estate (live or from a snapshot) and report", runAudit},
		"snapshot": {"save the raw API responses of a live collection for an offline audit", runSnapshot},
		"demo":     {"audit the embedded demo estate, with probes against loopback stand-ins", runDemo},
		"rules":    {"list the rule catalog or show one rule (rules list | rules show ID)", runRules},
		"diff":     {"compare two JSON reports: new, widened, narrowed, resolved and reopened exposures", runDiff},
		"plan":     {"check a Terraform plan or CloudFormation change set: what it would newly expose, widen, narrow or close", runPlan},
		"explain":  {"explain one exposure (or finding) of a JSON report: its path, evidence and findings", runExplain},
		"report":   {"render a saved JSON report in another format (report --in report.json --format html)", runReport},
		"version":  {"print the version", runVersion},
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `portcullis — what in this estate is open to the internet, really?

Portcullis reads security groups, network ACLs, route tables, firewall rules,
NSGs, load balancers and public IPs (AWS, GCP, Azure), computes what is
effectively reachable through the whole path, judges it against a catalog of
risky ports and compliance controls (CIS, PCI DSS, NIST, SOC 2), confirms it
with targeted probes, and reports it.

Usage:
  portcullis <command> [flags]

Commands:
`)
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, cmds[n].summary)
	}
	fmt.Fprint(w, `
Run 'portcullis <command> -h' for the command's flags.

Examples:
  portcullis audit                                   # AWS, every enabled region, standard credentials
  portcullis audit --provider aws,gcp --gcp-projects prod-1 --fail-on critical
  portcullis snapshot --out ./snap                   # on the client side
  portcullis audit --snapshot ./snap --format html --output report.html
  portcullis report --in report.json --format sarif  # re-render a saved JSON report
  portcullis demo                                    # no cloud account needed

Exit codes: 0 nothing at or above --fail-on; 1 findings at or above --fail-on;
2 the audit could not run; 3 part of the scope failed, nothing at or above
--fail-on in the rest.
`)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{
		stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv,
		stderrTTY: isTerminal(os.Stderr), stdoutTTY: isTerminal(os.Stdout),
	}
	os.Exit(run(ctx, os.Args[1:], e))
}

func run(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 {
		usage(e.stderr)
		return exitError
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(e.stdout)
		return exitOK
	case "-v", "--version":
		return runVersion(ctx, nil, e)
	}
	c, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "portcullis: unknown command %q\n\n", args[0])
		usage(e.stderr)
		return exitError
	}
	return c.run(ctx, args[1:], e)
}

func runVersion(_ context.Context, _ []string, e *env) int {
	fmt.Fprintf(e.stdout, "portcullis %s\n", toolVersion())
	return exitOK
}

// fail prints an error and returns exitError.
func fail(e *env, err error) int {
	msg := err.Error()
	if errors.Is(err, context.Canceled) {
		msg = "interrupted"
	}
	fmt.Fprintf(e.stderr, "portcullis: %s\n", strings.TrimSpace(msg))
	return exitError
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
