package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"golang.org/x/term"

	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/internal/atomicfile"
	"github.com/portcullis-sec/portcullis/probe"
	"github.com/portcullis-sec/portcullis/providers/aws"
	"github.com/portcullis-sec/portcullis/providers/azure"
	"github.com/portcullis-sec/portcullis/providers/gcp"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/rules"
	"github.com/portcullis-sec/portcullis/securityhub"
)

// auditFlags are the flags of `audit` (and, in part, of `snapshot` and
// `demo`).
type auditFlags struct {
	providers   string
	regions     string
	profile     string
	roleARN     string
	externalID  string
	awsEndpoint string

	org                bool
	roleName           string
	accounts           string
	ous                string
	excludeAccounts    string
	accountConcurrency int
	accountRate        float64

	gcpProjects string
	gcpOrg      string
	gcpFolder   string
	gcpEndpoint string

	azureSubs     string
	azureMGs      string
	azureCloud    string
	azureEndpoint string

	snapshot    string
	concurrency int

	probe, noProbe     bool
	probeAllowLoopback bool
	probeTimeout       time.Duration
	probeRate          float64
	probeConcurrency   int

	format     string
	output     string
	failOn     string
	rulesFile  string
	exceptions string
	framework  string
	color      string
	width      int
	verbose    bool
	event      string

	securityHub bool
	// offline: registered without the audit-only flags (snapshot).
	offline bool
}

func (f *auditFlags) register(fs *flag.FlagSet, offline bool) {
	f.offline = offline
	fs.StringVar(&f.providers, "provider", "", "providers to audit, comma-separated: "+strings.Join(audit.Providers(), ", ")+" (default: "+exposure.ProviderAWS+" live; every provider in the snapshot offline)")
	fs.StringVar(&f.regions, "regions", "", "AWS regions, comma-separated (default: every enabled region; offline: every region of the snapshot)")
	fs.StringVar(&f.profile, "profile", "", "AWS shared-config profile (default: the standard credential chain)")
	fs.StringVar(&f.roleARN, "role-arn", "", "AWS role to assume before collecting (read-only audit role)")
	fs.StringVar(&f.externalID, "external-id", "", "external ID for --role-arn, or with --org for the member role")
	fs.BoolVar(&f.org, "org", false, "audit every ACTIVE account of the AWS Organization: each through its member role, the caller's own account with its own credentials (needs the management or a delegated administrator account)")
	fs.StringVar(&f.roleName, "role-name", "", "with --org: the read-only member role in each account (default "+aws.DefaultMemberRole+", as infra/member-role.yaml deploys)")
	fs.StringVar(&f.accounts, "accounts", "", "with --org: only these AWS accounts, comma-separated")
	fs.StringVar(&f.ous, "ous", "", "with --org: only accounts under these organizational units or roots (ou-…, r-…), at any depth, comma-separated")
	fs.StringVar(&f.excludeAccounts, "exclude-accounts", "", "with --org: never these AWS accounts, comma-separated")
	fs.IntVar(&f.accountConcurrency, "account-concurrency", 4, "with --org: accounts collected at once (--concurrency bounds the account-regions across them)")
	fs.Float64Var(&f.accountRate, "account-rate", aws.DefaultAccountRate, "with --org: most API requests per second to one account, all its regions together (0: no limit)")
	fs.StringVar(&f.awsEndpoint, "aws-endpoint", "", "AWS endpoint URL for an emulator such as moto (also AWS_ENDPOINT_URL)")
	fs.StringVar(&f.gcpProjects, "gcp-projects", "", "GCP projects, comma-separated (default: every active project the credentials can list; offline: every project of the snapshot)")
	fs.StringVar(&f.gcpOrg, "gcp-organization", "", "GCP: every active project under these organizations (numeric IDs, comma-separated), at any depth")
	fs.StringVar(&f.gcpFolder, "gcp-folder", "", "GCP: every active project under these folders (numeric IDs, comma-separated), at any depth")
	fs.StringVar(&f.gcpEndpoint, "gcp-endpoint", "", "GCP API endpoint URL for an emulator or private endpoint (a loopback http URL needs no credentials)")
	fs.StringVar(&f.azureSubs, "azure-subscriptions", "", "Azure subscription IDs, comma-separated (default: every enabled subscription; offline: every subscription of the snapshot)")
	fs.StringVar(&f.azureMGs, "azure-management-group", "", "Azure: every enabled subscription below these management groups (IDs, comma-separated), at any depth")
	fs.StringVar(&f.azureCloud, "azure-cloud", "public", "Azure cloud: public, china or usgovernment")
	fs.StringVar(&f.azureEndpoint, "azure-endpoint", "", "Azure Resource Manager endpoint URL for an emulator (a loopback http URL needs no credentials)")
	fs.IntVar(&f.concurrency, "concurrency", 0, "regions, projects or subscriptions collected at once per provider; with --org, account-regions across the organization (default: the provider's)")
	fs.BoolVar(&f.verbose, "v", false, "log what is being done to stderr")
	if offline {
		return
	}
	fs.StringVar(&f.event, "event", "", "re-audit the account-region of this EventBridge/CloudTrail event document, naming its actor in the alerts (docs/react.md)")
	fs.StringVar(&f.snapshot, "snapshot", "", "audit a snapshot directory (from 'portcullis snapshot' or CLI exports) instead of calling cloud APIs")
	fs.BoolVar(&f.probe, "probe", false, "confirm effective exposures with probes (default on for live audits against real clouds)")
	fs.BoolVar(&f.noProbe, "no-probe", false, "do not probe")
	fs.BoolVar(&f.probeAllowLoopback, "probe-allow-loopback", false, "labs and tests only: let probes reach 127.0.0.0/8 and ::1 (nothing else is ever allowed beyond public addresses in the inventory)")
	fs.DurationVar(&f.probeTimeout, "probe-timeout", 3*time.Second, "timeout of each probe step (connect, read)")
	fs.Float64Var(&f.probeRate, "probe-rate", 100, "probes per second overall (each address gets at most 10 per second)")
	fs.IntVar(&f.probeConcurrency, "probe-concurrency", 64, "ports probed at once")
	fs.StringVar(&f.format, "format", "table", "report format: "+strings.Join(reports.Formats(), ", "))
	fs.StringVar(&f.output, "output", "", "write the report to this file instead of standard output")
	fs.StringVar(&f.failOn, "fail-on", "high", "exit 1 when a finding has this severity or above: info, low, medium, high, critical")
	fs.StringVar(&f.rulesFile, "rules", "", "custom rules file (CEL over the exposure model, see docs/rules.md)")
	fs.StringVar(&f.exceptions, "exceptions", "", "exceptions file: suppressions with reason, owner and expiry (see docs/rules.md)")
	fs.StringVar(&f.framework, "framework", "", "scope findings to one compliance framework: "+strings.Join(rules.Frameworks(), ", "))
	fs.StringVar(&f.color, "color", "auto", "colour in the table: auto, always, never")
	fs.IntVar(&f.width, "width", 0, "line width of the table (default: the terminal's, else $COLUMNS, else 120)")
	fs.BoolVar(&f.securityHub, "securityhub", false, "after the audit, import the findings into AWS Security Hub under the calling account (BatchImportFindings); with --state, also archive the findings that resolved and date each finding from its exposure's first sighting (docs/deployment.md)")
}

// checkNumbers rejects numbers that mean nothing: a negative concurrency,
// a probe rate, concurrency or timeout that is not positive. offline
// commands have no probe flags.
func (f *auditFlags) checkNumbers(offline bool) error {
	if f.concurrency < 0 {
		return fmt.Errorf("--concurrency: %d is negative (0 means the provider's default)", f.concurrency)
	}
	if offline {
		return nil
	}
	switch {
	case !(f.probeRate > 0) || math.IsInf(f.probeRate, 0):
		return fmt.Errorf("--probe-rate: %v is not a positive number of probes per second", f.probeRate)
	case f.probeConcurrency <= 0:
		return fmt.Errorf("--probe-concurrency: %d is not a positive number of ports", f.probeConcurrency)
	case f.probeTimeout <= 0:
		return fmt.Errorf("--probe-timeout: %v is not a positive duration", f.probeTimeout)
	}
	return nil
}

// checkColor accepts the values --color documents.
func checkColor(color string) error {
	switch color {
	case "auto", "always", "never":
		return nil
	}
	return fmt.Errorf("--color: unknown value %q (want auto, always or never)", color)
}

// options turns flags into audit options. It reports which endpoint
// override, if any, points the SDKs away from the real clouds.
func (f *auditFlags) options(e *env) (audit.Options, string, error) {
	o := audit.Options{Providers: splitList(f.providers), Version: toolVersion()}
	if err := f.checkNumbers(f.offline); err != nil {
		return o, "", err
	}
	o.AWS.Regions = splitList(f.regions)
	o.AWS.Profile = f.profile
	o.AWS.RoleARN = f.roleARN
	o.AWS.ExternalID = f.externalID
	o.AWS.Endpoint = f.awsEndpoint
	o.AWS.Concurrency = f.concurrency
	if err := f.orgOptions(&o); err != nil {
		return o, "", err
	}
	o.GCP.Projects = splitList(f.gcpProjects)
	o.GCP.Endpoint = f.gcpEndpoint
	for _, id := range splitList(f.gcpOrg) {
		o.GCP.Parents = append(o.GCP.Parents, "organizations/"+strings.TrimPrefix(id, "organizations/"))
	}
	for _, id := range splitList(f.gcpFolder) {
		o.GCP.Parents = append(o.GCP.Parents, "folders/"+strings.TrimPrefix(id, "folders/"))
	}
	for _, p := range o.GCP.Parents {
		if err := gcp.ValidParent(p); err != nil {
			return o, "", fmt.Errorf("--gcp-organization / --gcp-folder: %w", err)
		}
	}
	if len(o.GCP.Parents) > 0 && len(o.GCP.Projects) > 0 {
		return o, "", errors.New("--gcp-projects names the projects; --gcp-organization and --gcp-folder list them: give one or the other")
	}
	o.GCP.Concurrency = f.concurrency
	o.Azure.Subscriptions = splitList(f.azureSubs)
	o.Azure.Cloud = f.azureCloud
	o.Azure.ManagementGroups = splitList(f.azureMGs)
	for _, g := range o.Azure.ManagementGroups {
		if err := azure.ValidManagementGroup(g); err != nil {
			return o, "", fmt.Errorf("--azure-management-group: %w", err)
		}
	}
	if len(o.Azure.ManagementGroups) > 0 && len(o.Azure.Subscriptions) > 0 {
		return o, "", errors.New("--azure-subscriptions names the subscriptions; --azure-management-group lists them: give one or the other")
	}
	o.Azure.Endpoint = f.azureEndpoint
	o.Azure.Concurrency = f.concurrency
	for _, p := range o.Providers {
		if _, err := audit.Lookup(p); err != nil {
			return o, "", fmt.Errorf("--provider: %w", err)
		}
	}
	for name, v := range map[string]string{"--aws-endpoint": f.awsEndpoint, "--gcp-endpoint": f.gcpEndpoint, "--azure-endpoint": f.azureEndpoint} {
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || u.Scheme == "" || u.Host == "" {
			return o, "", fmt.Errorf("%s: %q is not a URL", name, v)
		}
	}
	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelDebug
	}
	o.Logger = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	o.AWS.Logger, o.GCP.Logger, o.Azure.Logger = o.Logger, o.Logger, o.Logger

	override := ""
	switch {
	case f.awsEndpoint != "":
		override = "--aws-endpoint"
	case e.getenv("AWS_ENDPOINT_URL") != "":
		override = "AWS_ENDPOINT_URL"
	case f.gcpEndpoint != "":
		override = "--gcp-endpoint"
	case f.azureEndpoint != "":
		override = "--azure-endpoint"
	}
	return o, override, nil
}

// orgOptions turns the --org flags into o.AWS.Org.
func (f *auditFlags) orgOptions(o *audit.Options) error {
	if !f.org {
		for name, v := range map[string]string{"--role-name": f.roleName, "--accounts": f.accounts, "--ous": f.ous, "--exclude-accounts": f.excludeAccounts} {
			if v != "" {
				return fmt.Errorf("%s needs --org", name)
			}
		}
		return nil
	}
	if f.roleARN != "" {
		// One role to list the organization and another to read each
		// member would need two external IDs; a shared-config profile
		// with role_arn gives the first.
		return errors.New("--org and --role-arn: run --org with the management (or delegated administrator) account's credentials, e.g. a --profile that assumes a role there")
	}
	if f.snapshot != "" {
		return errors.New("--org collects live; --snapshot reads a snapshot (take one with portcullis snapshot --org)")
	}
	if len(o.Providers) > 0 && !contains(o.Providers, exposure.ProviderAWS) {
		return errors.New("--org audits an AWS Organization: --provider must include aws")
	}
	rate := f.accountRate
	if rate == 0 {
		rate = -1 // aws.Org: negative is no limit
	} else if rate < 0 {
		return fmt.Errorf("--account-rate %v: want a positive number of requests per second, or 0 for no limit", f.accountRate)
	}
	if f.accountConcurrency < 1 {
		return fmt.Errorf("--account-concurrency %d: want at least 1", f.accountConcurrency)
	}
	org := &aws.Org{
		RoleName: f.roleName, ExternalID: f.externalID,
		Accounts: splitList(f.accounts), OUs: splitList(f.ous), ExcludeAccounts: splitList(f.excludeAccounts),
		AccountConcurrency: f.accountConcurrency, AccountRate: rate,
	}
	if err := org.Validate(); err != nil {
		return fmt.Errorf("--org: %w", err)
	}
	o.AWS.Org, o.AWS.ExternalID = org, ""
	return nil
}

func runAudit(ctx context.Context, args []string, e *env) int {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var f auditFlags
	f.register(fs, false)
	var mf monitorFlags
	mf.register(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: portcullis audit [flags]

Audits an estate: collects (or reads a snapshot of) what lets internet
traffic in, computes what is effectively reachable through the whole path
(route → network ACL → security groups / firewall / NSGs → public address or
load-balancer listener), judges it against the rule catalog, confirms it with
probes, and reports findings.

Credentials come from each cloud's standard chain: AWS (environment, shared
config, SSO, instance or task role), GCP (Application Default Credentials),
Azure (DefaultAzureCredential). Only read-only calls are made; docs/ lists
the exact permissions.

--org audits every ACTIVE account of the AWS Organization from the
management (or a delegated administrator) account: each member through its
read-only role (--role-name, default PortcullisAudit, with --external-id),
the caller's own account with its own credentials. An account whose role
cannot be assumed is an error naming it; the others are audited.
--accounts, --ous and --exclude-accounts narrow the accounts.

Probing is on for live audits against real clouds and off for snapshots and
emulators (an endpoint override), unless --probe or --no-probe says otherwise.
Only public addresses of the audited inventory are probed, at a bounded rate.

With --state, the run is diffed against the last one (new, widened,
reopened, resolved exposures; docs/state.md) and, with --notify, newly
exposed ports are announced on Slack and by email, once, at least once
(secrets from PORTCULLIS_SLACK_WEBHOOK_URL and PORTCULLIS_SMTP_URL, never
from flags; docs/alerts.md).

--securityhub imports the findings into AWS Security Hub under the calling
account (BatchImportFindings, batches of 100 per region; GCP and Azure
findings as resources of type Other). With --state it also archives the
findings this run no longer raises (exposures that resolved, rules that
stopped matching; never in a scope whose collection failed or was partial)
and dates each finding from its exposure's first sighting. Without --state
nothing is archived: resolved findings stay active there.

Exit codes: 0 nothing at or above --fail-on; 1 findings at or above --fail-on;
2 the audit could not run; 3 part of the scope failed and nothing at or
above --fail-on was found in the rest.

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
		fmt.Fprintf(e.stderr, "portcullis audit: unexpected argument %q\n", fs.Arg(0))
		return exitError
	}
	if err := mf.check(); err != nil {
		return fail(e, err)
	}
	o, override, err := f.options(e)
	if err != nil {
		return fail(e, err)
	}
	ev, err := f.applyEvent(&o, e)
	if err != nil {
		return fail(e, err)
	}
	failOn, err := rules.ParseSeverity(f.failOn)
	if err != nil {
		return fail(e, fmt.Errorf("--fail-on: %w", err))
	}
	o.FailOn = failOn
	if err := checkFormat(f.format); err != nil {
		return fail(e, err)
	}
	if f.width < 0 {
		return fail(e, fmt.Errorf("--width %d: want a positive number of columns (or 0 for the terminal's)", f.width))
	}
	if err := checkColor(f.color); err != nil {
		return fail(e, err)
	}
	if f.framework != "" && !contains(rules.Frameworks(), f.framework) {
		return fail(e, fmt.Errorf("--framework: unknown framework %q (want one of %s)", f.framework, strings.Join(rules.Frameworks(), ", ")))
	}
	o.Rules = rules.Options{CustomRulesFile: f.rulesFile, ExceptionsFile: f.exceptions, Framework: f.framework}
	if f.snapshot != "" {
		fsys, err := audit.DirFS(f.snapshot)
		if err != nil {
			return fail(e, err)
		}
		o.Snapshot, o.SnapshotDir = fsys, f.snapshot
	}

	// Probing: on for live audits against the real clouds, off otherwise
	// unless asked; said aloud either way it is off by default.
	switch {
	case f.probe && f.noProbe:
		return fail(e, errors.New("--probe and --no-probe contradict each other"))
	case f.noProbe:
	case f.probe:
		o.Probe.Enabled = true
	case f.snapshot != "":
		fmt.Fprintln(e.stderr, "portcullis: offline audit of a snapshot: probing is off (pass --probe to confirm exposures from this machine)")
	case override != "":
		fmt.Fprintf(e.stderr, "portcullis: %s points the SDKs at an emulator: probing is off (pass --probe to probe anyway)\n", override)
	default:
		o.Probe.Enabled = true
	}
	o.Probe.Config = probe.Config{
		Timeout: f.probeTimeout, Rate: f.probeRate, Concurrency: f.probeConcurrency,
		AllowLoopback: f.probeAllowLoopback,
	}
	mon, err := mf.prepare(ctx, e, f.profile, f.awsEndpoint, o.Logger)
	if err != nil {
		return fail(e, err)
	}
	ev.wrap(mon)
	var bar, probeBar *progressBar
	if e.stderrTTY && e.getenv("AWS_LAMBDA_FUNCTION_NAME") == "" {
		label := "collecting"
		if f.snapshot != "" {
			label = "auditing" // the stages of a snapshot's audit
		}
		bar, probeBar = newProgressBar(e.stderr, label), newProgressBar(e.stderr, "probing")
		o.Progress, o.Probe.Progress = bar, probeBar
	}
	res, err := audit.Run(ctx, o)
	if bar != nil {
		bar.Finish()
		probeBar.Finish()
	}
	if err != nil {
		code := fail(e, err)
		if errors.Is(err, audit.ErrNothingAudited) && f.snapshot == "" {
			fmt.Fprintln(e.stderr, "portcullis: "+nothingAuditedHint(err))
		}
		return code
	}
	st := audit.StartStage()
	doc := reports.NewDocument(res.Report)
	st.Done(o.Logger, "document", "exposures", len(doc.Exposures), "findings", len(doc.Findings))
	if err := ev.check(doc); err != nil {
		return fail(e, err)
	}
	var tracked *audit.TrackResult
	if mon != nil {
		tracked = mon.track(ctx, e, doc)
	}
	if f.securityHub {
		importSecurityHub(ctx, e, &f, doc, tracked, o.Logger)
	}
	st = audit.StartStage()
	if err := writeDocumentWidth(e, doc, f.format, f.output, f.color, f.width); err != nil {
		return fail(e, err)
	}
	output := f.output
	if output == "" {
		output = "stdout"
	}
	st.Done(o.Logger, "write", "format", f.format, "output", output, "findings", len(doc.Findings), "exposures", len(doc.Exposures))
	return exitCode(doc)
}

// unreachableCauses are how the Go net package and the kernel say that an
// API could not be reached at all. audit records collection failures as text
// (exposure.Error.Message), so the hint matches the text; it only chooses
// which advice to print, the error itself is printed whole above it.
var unreachableCauses = []string{
	syscall.ECONNREFUSED.Error(), // "connection refused": nothing listens (an emulator not started)
	syscall.ECONNRESET.Error(),
	syscall.ENETUNREACH.Error(),
	syscall.EHOSTUNREACH.Error(),
	"no such host", // a name that does not resolve (net.DNSError)
	"i/o timeout",  // a dial or read that never got an answer
}

// nothingAuditedHint is the advice printed under ErrNothingAudited: a
// provider that could not be reached is a network or endpoint problem, not a
// credentials one, so the hint says which it looks like. -v adds the debug
// log: each provider's failure, each region, project or subscription as it
// is collected, and the cloud SDKs' own warnings.
func nothingAuditedHint(err error) string {
	const verbose = "-v logs each provider's failure and each region or project collected"
	msg := err.Error()
	for _, c := range unreachableCauses {
		if strings.Contains(msg, c) {
			return "a provider's API could not be reached (" + c + "): check the endpoint (--aws-endpoint, AWS_ENDPOINT_URL, --gcp-endpoint, --azure-endpoint), the proxy and the network; " + verbose
		}
	}
	return "check the credentials of each provider (README, \"Your first audit\"): AWS profile or environment, GCP Application Default Credentials, Azure login; " + verbose
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func checkFormat(format string) error {
	if !contains(reports.Formats(), strings.ToLower(format)) {
		return fmt.Errorf("--format: unknown format %q (want one of %s)", format, strings.Join(reports.Formats(), ", "))
	}
	return nil
}

// writeReport renders the report to a file (atomically: a reader never sees
// half a report) or to standard output.
func writeReport(e *env, r *reports.Report, format, output, color string) error {
	return writeDocument(e, reports.NewDocument(r), format, output, color)
}

// writeDocument renders a report document as writeReport does.
func writeDocument(e *env, d *reports.Document, format, output, color string) error {
	return writeDocumentWidth(e, d, format, output, color, 0)
}

// writeDocumentWidth renders a report document; width, when positive, is
// the table's line width (--width). The writers stream: the report goes
// to its destination as it is rendered, never whole in memory (hundreds of
// megabytes of JSON for the largest estates). A file is still replaced
// atomically: the rendering goes to a temporary file that is renamed over
// the destination once complete.
func writeDocumentWidth(e *env, d *reports.Document, format, output, color string, width int) error {
	if err := checkColor(color); err != nil {
		return err
	}
	if strings.EqualFold(strings.TrimSpace(format), "asff") {
		// The file holds AWS findings only; say what it leaves out.
		if _, skipped, err := reports.ASFF(d, reports.ASFFOptions{}); err == nil {
			if w := reports.ASFFSkipWarning(skipped); w != "" {
				fmt.Fprintln(e.stderr, "portcullis: "+w)
			}
		}
	}
	render := func(w io.Writer) error {
		var err error
		if strings.EqualFold(format, "table") {
			opts := reports.TableOptions{Width: tableWidth(e, output, width)}
			switch color {
			case "always":
				opts.Color = true
			case "auto":
				opts.Color = output == "" && e.stdoutTTY && e.getenv("NO_COLOR") == ""
			}
			err = reports.RenderTable(w, d, opts)
		} else {
			err = reports.Render(w, format, d)
		}
		if err != nil {
			return fmt.Errorf("write %s report: %w", format, err)
		}
		return nil
	}
	if output == "" || output == "-" {
		bw := bufio.NewWriterSize(e.stdout, 64<<10)
		if err := render(bw); err != nil {
			return err
		}
		return bw.Flush()
	}
	if dir := filepath.Dir(output); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return atomicfile.Write(output, 0o644, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 64<<10)
		if err := render(bw); err != nil {
			return err
		}
		return bw.Flush()
	})
}

// writeFileAtomic replaces a file with data (see internal/atomicfile),
// creating its directory.
func writeFileAtomic(name string, data []byte) error {
	if dir := filepath.Dir(name); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return atomicfile.WriteFile(name, data, 0o644)
}

// tableWidth is the table's line width: --width when given; for standard
// output, the terminal's width when it is one, else $COLUMNS (which shells
// set but do not always export); else 120.
func tableWidth(e *env, output string, flagWidth int) int {
	if flagWidth > 0 {
		return flagWidth
	}
	if output != "" && output != "-" {
		return 0
	}
	if f, ok := e.stdout.(*os.File); ok && e.stdoutTTY {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	if n, err := strconv.Atoi(strings.TrimSpace(e.getenv("COLUMNS"))); err == nil && n > 0 {
		return n
	}
	return 0
}

// importSecurityHub imports the findings into Security Hub under the
// account of the standard credential chain (not --role-arn's read-only
// role: importing is a write). With the state's result (--state) it also
// archives the findings the state retired and sets each finding's
// CreatedAt to its exposure's first sighting; without, nothing is
// archived, and it says so. What fails goes to stderr and into the
// report's errors (stage "securityhub"); it does not make the audit
// partial, so the exit code keeps its meaning.
func importSecurityHub(ctx context.Context, e *env, f *auditFlags, d *reports.Document, tracked *audit.TrackResult, log *slog.Logger) {
	fail := func(errs ...exposure.Error) {
		for _, x := range errs {
			fmt.Fprintln(e.stderr, "portcullis: Security Hub:", sanitize(x.Error()))
			d.Errors = append(d.Errors, x)
		}
		d.Summary.Errors = len(d.Errors)
	}
	start := time.Now()
	opts := []func(*config.LoadOptions) error{}
	if f.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(f.profile))
	}
	if f.awsEndpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(f.awsEndpoint))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		fail(exposure.Error{Scope: exposure.Scope{Provider: exposure.ProviderAWS}, Stage: "securityhub", Message: "load aws configuration: " + err.Error()})
		return
	}
	if cfg.Region == "" {
		// GCP and Azure findings go to this region.
		cfg.Region = "us-east-1"
		if r := splitList(f.regions); len(r) > 0 {
			cfg.Region = r[0]
		}
	}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		fail(exposure.Error{Scope: exposure.Scope{Provider: exposure.ProviderAWS}, Stage: "securityhub", Message: "find the calling account: " + err.Error()})
		return
	}
	hub, err := securityhub.NewHub(cfg, awssdk.ToString(id.Account))
	if err == nil {
		var tr *securityhub.Tracking
		if tracked != nil {
			tr = securityhub.TrackingOf(tracked.Diffs)
		}
		var res securityhub.SyncResult
		res, err = securityhub.Sync(ctx, hub, d, tr, time.Now())
		fail(res.Errors(hub.Account)...)
		log.Info("security hub import", "account", hub.Account, "calls", res.Import.Batches, "imported", len(res.Import.Imported),
			"refused", len(res.Import.Failed), "failedCalls", len(res.Import.CallErrors), "archived", len(res.Archive.Imported),
			"notActive", len(res.Archive.NotFound), "duration", time.Since(start).Round(time.Millisecond))
		if err == nil {
			fmt.Fprintf(e.stderr, "portcullis: Security Hub: %d of %d findings imported into account %s (%d calls)\n",
				len(res.Import.Imported), len(d.Findings), hub.Account, res.Import.Batches)
			switch {
			case tr == nil:
				fmt.Fprintln(e.stderr, "portcullis: Security Hub: without --state nothing is archived: findings that resolved stay active there (docs/deployment.md)")
			case len(tr.Retired) > 0:
				fmt.Fprintf(e.stderr, "portcullis: Security Hub: %d findings no longer raised: %d archived, %d not active there\n",
					len(tr.Retired), len(res.Archive.Imported), len(res.Archive.NotFound))
			}
		}
	}
	if err != nil {
		fail(exposure.Error{Scope: exposure.Scope{Provider: exposure.ProviderAWS, Account: awssdk.ToString(id.Account)}, Stage: "securityhub", Message: err.Error()})
	}
}

// exitCode says how the audit went (see the package comment), from the
// counts the report itself publishes.
func exitCode(d *reports.Document) int {
	switch {
	case d.Summary.Failing > 0:
		return exitFindings
	case d.Partial:
		return exitPartial
	}
	return exitOK
}
