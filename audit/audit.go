// Package audit wires Portcullis's stages together: scope → collect (or
// read a snapshot) → normalize → analyze → evaluate → probe → evaluate
// again with what the probes saw → report. The CLI and the Lambda
// functions only parse their input and call this package.
package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/probe"
	"github.com/portcullis-sec/portcullis/providers"
	"github.com/portcullis-sec/portcullis/providers/aws"
	"github.com/portcullis-sec/portcullis/providers/azure"
	"github.com/portcullis-sec/portcullis/providers/gcp"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/rules"
)

// Options configures one audit.
type Options struct {
	// Providers to audit (names from Providers). Empty: aws for a live audit;
	// every provider present in the snapshot for an offline one.
	Providers []string
	AWS       aws.Config
	GCP       gcp.Config
	Azure     azure.Config

	// Snapshot, when set, is read instead of calling cloud APIs: a
	// directory written by `portcullis snapshot` (or by hand from CLI
	// exports). SnapshotDir names it in the report.
	Snapshot    fs.FS
	SnapshotDir string

	// Rules: custom rules file, exceptions file, framework, clock.
	Rules rules.Options

	// Probe confirms effective exposures with network probes.
	Probe ProbeOptions

	// Observations, when set, are probe results given as input, as
	// Snapshot is: the rules evaluate them exactly as if the probes had run
	// in this process. The serverless Probe stage writes them and the
	// Report stage reads them back. Not allowed with Probe.Enabled: a run
	// has one source of probe results.
	Observations []exposure.Observation

	// FailOn is recorded in the report's summary.
	FailOn rules.Severity

	Version  string
	Progress providers.Progress
	Logger   *slog.Logger
}

// ProbeOptions configures the confirmation stage.
type ProbeOptions struct {
	Enabled bool
	Config  probe.Config
	Plan    probe.PlanOptions
	// Progress receives probe progress; nil discards it.
	Progress probe.Progress
	// Setup, when set, runs once the probe plan is known and before any
	// probe: the demo and tests start their loopback services here and
	// return the redirects onto them (merged into Config.Redirect).
	Setup func(ctx context.Context, targets []probe.Target) (map[netip.AddrPort]netip.AddrPort, error)
}

// ErrNothingAudited is returned when not a single provider scope could be
// collected or read: there is no report to speak of.
var ErrNothingAudited = errors.New("nothing could be audited")

// driver is one row of the provider table: what the provider promises
// (its providers.Driver) and how audit builds its collector from Options.
// The construction stays typed here because each provider's Config differs.
type driver struct {
	providers.Driver
	collector func(ctx context.Context, o *Options) (providers.Collector, error)
}

// drivers is the one table of providers, sorted by name; it is never
// modified. Every list of providers (the CLI's --provider check, offline
// normalization, the conformance suite) is read from it through Drivers,
// Providers and Lookup; the serverless run store restates the drivers'
// scope checks (its functions must not link audit) under a test that holds
// them equal. Adding a provider is
// one row here (docs/providers/README.md).
var drivers = []driver{
	{aws.Driver, func(ctx context.Context, o *Options) (providers.Collector, error) {
		return aws.NewCollector(ctx, o.AWS)
	}},
	{azure.Driver, func(ctx context.Context, o *Options) (providers.Collector, error) {
		return azure.NewCollector(ctx, o.Azure)
	}},
	{gcp.Driver, func(ctx context.Context, o *Options) (providers.Collector, error) {
		return gcp.NewCollector(ctx, o.GCP)
	}},
}

// Drivers returns the contract of every provider, sorted by name.
func Drivers() []providers.Driver {
	out := make([]providers.Driver, len(drivers))
	for i, d := range drivers {
		out[i] = d.Driver
	}
	return out
}

// Providers lists the supported provider names, sorted.
func Providers() []string {
	names := make([]string, len(drivers))
	for i, d := range drivers {
		names[i] = d.Name
	}
	return names
}

// Lookup returns the contract of the provider called name. The error for
// an unknown name lists the providers there are.
func Lookup(name string) (providers.Driver, error) {
	d, err := lookup(name)
	return d.Driver, err
}

func lookup(name string) (driver, error) {
	for _, d := range drivers {
		if d.Name == name {
			return d, nil
		}
	}
	return driver{}, fmt.Errorf("unknown provider %q (want one of %s)", name, strings.Join(Providers(), ", "))
}

func (o *Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (o *Options) progress() providers.Progress {
	if o.Progress != nil {
		return o.Progress
	}
	return providers.NoProgress{}
}

func checkProviders(names []string) error {
	for _, n := range names {
		if _, err := lookup(n); err != nil {
			return err
		}
	}
	return nil
}

// Collect runs the live collection of every requested provider into one
// snapshot. A provider that cannot be collected at all is recorded as an
// error in the snapshot; ErrNothingAudited is returned when none could.
func Collect(ctx context.Context, o Options) (*providers.Snapshot, error) {
	names := o.Providers
	if len(names) == 0 {
		names = []string{exposure.ProviderAWS}
	}
	if err := checkProviders(names); err != nil {
		return nil, err
	}
	snap := providers.NewSnapshot()
	ok := 0
	for _, n := range names {
		d, _ := lookup(n) // checked above
		c, err := d.collector(ctx, &o)
		if err == nil {
			err = c.Collect(ctx, snap, o.progress())
			if cl, ok := c.(io.Closer); ok {
				_ = cl.Close() // API clients' connections; nothing to report
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			o.logger().Debug("collection failed", "provider", n, "error", err)
			snap.AddError(exposure.Error{Scope: exposure.Scope{Provider: n}, Stage: "collect", Message: err.Error()})
			continue
		}
		ok++
	}
	if ok == 0 {
		return snap, fmt.Errorf("%w: %v", ErrNothingAudited, snap.Errors())
	}
	return snap, nil
}

// Result is a finished audit: the report and what produced it.
type Result struct {
	Report    *reports.Report
	Inventory *exposure.Inventory
	// Engine is the rules engine the audit used (for re-evaluation).
	Engine *rules.Engine
}

// Run performs a whole audit and returns its report. Rule, custom-rule and
// exception files are loaded before any cloud call, so a mistake in them
// costs nothing. Partial failures are in the report (Report.Partial and
// Report.Errors); an error is returned only when the audit could not run.
func Run(ctx context.Context, o Options) (*Result, error) {
	cat, engine, err := o.engine()
	if err != nil {
		return nil, err
	}
	if err := checkProviders(o.Providers); err != nil {
		return nil, err
	}
	if o.Probe.Enabled && o.Observations != nil {
		return nil, errors.New("audit: observations given and probing on: a run has one source of probe results")
	}

	st := StartStage()
	fsys, collectErrs, err := o.source(ctx)
	if err != nil {
		return nil, err
	}
	if o.Snapshot != nil {
		o.logStage("read", st, "snapshot", o.SnapshotDir, "errors", len(collectErrs))
	} else {
		o.logStage("collect", st, "errors", len(collectErrs))
	}
	// A snapshot's audit shows its stages on the progress display (a live
	// collection has shown its units already): on a large estate each
	// takes seconds, and a silent terminal looks hung.
	stages := providers.Progress(providers.NoProgress{})
	if o.Snapshot != nil {
		stages = o.progress()
		stages.Add(3)
	}
	st = StartStage()
	inv, present, err := Normalize(fsys, o.Providers)
	if err != nil {
		return nil, err
	}
	o.logStage("normalize", st, "providers", present, "targets", len(inv.Targets), "layers", len(inv.Layers), "errors", len(inv.Errors))
	stages.Done(fmt.Sprintf("read %d targets, %d layers; analyzing", len(inv.Targets), len(inv.Layers)))
	inv.Errors = append(collectErrs, inv.Errors...)
	// A provider directory that yields nothing readable audited nothing:
	// it neither passes compliance nor makes a report "clean".
	audited := auditedProviders(inv, present)
	if len(audited) == 0 {
		if len(inv.Errors) == 0 {
			return nil, fmt.Errorf("%w: the snapshot holds no account-region, project or subscription with readable data", ErrNothingAudited)
		}
		return nil, fmt.Errorf("%w: %v", ErrNothingAudited, inv.Errors)
	}
	for _, n := range present {
		if !slices.Contains(audited, n) {
			inv.Errors = append(inv.Errors, exposure.Error{Scope: exposure.Scope{Provider: n}, Stage: "normalize",
				Message: "nothing of " + n + " could be read from the snapshot: its controls are not applicable"})
		}
	}

	// The lab switch that lets probes reach loopback also lets loopback
	// endpoints (an emulator's addresses) stand in for public ones.
	st = StartStage()
	res := exposure.AnalyzeWith(inv, exposure.Options{LoopbackEndpoints: o.Probe.Enabled && o.Probe.Config.AllowLoopback})
	o.logStage("analyze", st, "effective", len(res.Effective), "latent", len(res.Latent), "errors", len(res.Errors))
	stages.Done(fmt.Sprintf("%d effective, %d latent exposures; evaluating rules", len(res.Effective), len(res.Latent)))
	inv.Errors = append(inv.Errors, res.Errors...)
	exps := append(append([]*exposure.Exposure{}, res.Effective...), res.Latent...)
	input := rules.Input{Exposures: exps, Layers: Layers(inv), Providers: audited}

	obs := o.Observations
	if o.Probe.Enabled {
		st = StartStage()
		obs, err = Confirm(ctx, inv, res.Effective, cat, o.Probe)
		if err != nil {
			inv.Errors = append(inv.Errors, exposure.Error{Stage: "probe", Message: err.Error()})
		}
		o.logStage("probe", st, "observations", len(obs), "open", countOpen(obs), "failed", err != nil)
	} else {
		o.logger().Info("probe", "stage", "probe", "enabled", false, "observationsGiven", len(obs))
	}
	input.Observations = obs
	rep := o.report(engine, input, inv.Errors, scopeOf(inv, audited, o))
	stages.Done(fmt.Sprintf("%d findings", len(rep.Findings)))
	rep.Scope.Units = Units(fsys, audited)
	return &Result{Report: rep, Inventory: inv, Engine: engine}, nil
}

// report evaluates the rules over input and shapes the report: the one
// tail of Run (a whole estate) and Merge (unit results), so that both give
// the same report for the same exposures and layers. errs are the partial
// failures met so far; the rules' own errors are added after them.
func (o *Options) report(engine *rules.Engine, input rules.Input, errs []exposure.Error, scope reports.Scope) *reports.Report {
	st := StartStage()
	result := engine.EvaluateInput(input)
	o.logStage("evaluate", st, "findings", len(result.Findings), "controls", len(result.Compliance),
		"misconfigurations", len(result.Misconfigurations), "ruleErrors", len(result.RuleErrors))
	rep := &reports.Report{
		Tool:              reports.Tool{Name: "portcullis", Version: o.Version},
		GeneratedAt:       o.Rules.Now.UTC(),
		Scope:             scope,
		Exposures:         input.Exposures,
		Findings:          result.Findings,
		Observations:      input.Observations,
		Compliance:        result.Compliance,
		Exceptions:        result.Exceptions,
		Misconfigurations: result.Misconfigurations,
		Errors:            errs,
		FailOn:            o.FailOn,
	}
	for _, e := range result.RuleErrors {
		rep.Errors = append(rep.Errors, exposure.Error{Stage: "evaluate", Resource: e.Target, Message: e.Error()})
	}
	rep.Partial = len(rep.Errors) > 0
	return rep
}

// engine loads the rule catalog and builds the rules engine of o's rule
// options, dating them now when o gives no time: the start of Run and Merge.
func (o *Options) engine() (*rules.Catalog, *rules.Engine, error) {
	if o.Rules.Now.IsZero() {
		o.Rules.Now = time.Now()
	}
	cat, err := rules.LoadCatalog()
	if err != nil {
		return nil, nil, fmt.Errorf("load rule catalog: %w", err)
	}
	engine, err := rules.NewEngine(cat, o.Rules)
	if err != nil {
		return nil, nil, err
	}
	return cat, engine, nil
}

// logStage logs a finished stage at Info (audit -v): its name, how long it
// took and what it counted.
func (o *Options) logStage(name string, st Stage, counts ...any) {
	st.Done(o.logger(), name, counts...)
}

func countOpen(obs []exposure.Observation) int {
	n := 0
	for _, x := range obs {
		if x.State == exposure.ProbeOpen {
			n++
		}
	}
	return n
}

// source returns the snapshot to normalize: the one given, or a live
// collection.
func (o *Options) source(ctx context.Context) (fs.FS, []exposure.Error, error) {
	if o.Snapshot != nil {
		return o.readScopedSnapshot()
	}
	snap, err := Collect(ctx, *o)
	if err != nil {
		return nil, nil, err
	}
	return snap.FS(), snap.Errors(), nil
}

// Normalize reads every provider directory of a snapshot (only those named,
// when names is not empty) into one inventory. It returns the providers it
// found. A provider named but absent from the snapshot is an error in the
// inventory, not a failure.
func Normalize(fsys fs.FS, names []string) (*exposure.Inventory, []string, error) {
	inv := &exposure.Inventory{}
	var audited []string
	wanted := names
	if len(wanted) == 0 {
		wanted = Providers()
	}
	for _, n := range wanted {
		sub, err := fs.Sub(fsys, n)
		if err != nil {
			return nil, nil, err
		}
		if _, err := fs.Stat(fsys, n); err != nil {
			if len(names) > 0 {
				inv.Errors = append(inv.Errors, exposure.Error{Scope: exposure.Scope{Provider: n}, Stage: "snapshot",
					Message: "the snapshot has no " + n + "/ directory"})
			}
			continue
		}
		d, err := lookup(n)
		if err != nil {
			return nil, nil, err
		}
		pi, err := d.Normalize(sub)
		if err != nil {
			inv.Errors = append(inv.Errors, exposure.Error{Scope: exposure.Scope{Provider: n}, Stage: "normalize", Message: err.Error()})
			continue
		}
		inv.Merge(pi)
		audited = append(audited, n)
	}
	return inv, audited, nil
}

// Layers lists every distinct layer of an inventory: its Layers and those
// on the targets' and backends' paths.
func Layers(inv *exposure.Inventory) []*exposure.Layer {
	seen := map[*exposure.Layer]bool{}
	var out []*exposure.Layer
	add := func(p exposure.Path) {
		for _, h := range p {
			for _, l := range h.Layers {
				if l != nil && !seen[l] {
					seen[l] = true
					out = append(out, l)
				}
			}
		}
	}
	for _, l := range inv.Layers {
		if l != nil && !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	for _, t := range inv.Targets {
		if t == nil {
			continue
		}
		add(t.Path)
		for _, f := range t.Forwards {
			add(f.BackendPath)
		}
	}
	return out
}

// Confirm probes the effective exposures of an inventory. Only the
// inventory's own public addresses are in scope, and the prober's guard
// refuses everything else.
func Confirm(ctx context.Context, inv *exposure.Inventory, effective []*exposure.Exposure, cat *rules.Catalog, po ProbeOptions) ([]exposure.Observation, error) {
	scope := map[netip.Addr]bool{}
	for _, t := range inv.Targets {
		if t == nil {
			continue
		}
		for _, ep := range t.Endpoints {
			if ep.IP.IsValid() {
				scope[ep.IP.Unmap()] = true
			}
		}
	}
	plan := po.Plan
	if plan.RiskyPorts == nil {
		plan.RiskyPorts = cat.RiskyPorts()
	}
	targets := probe.Plan(effective, plan)
	if len(targets) == 0 {
		return nil, nil
	}
	cfg := po.Config
	if po.Setup != nil {
		redirect, err := po.Setup(ctx, targets)
		if err != nil {
			return nil, fmt.Errorf("set up probes: %w", err)
		}
		merged := make(map[netip.AddrPort]netip.AddrPort, len(cfg.Redirect)+len(redirect))
		for k, v := range cfg.Redirect {
			merged[k] = v
		}
		for k, v := range redirect {
			merged[k] = v
		}
		cfg.Redirect = merged
	}
	p, err := probe.New(cfg, func(a netip.Addr) bool { return scope[a.Unmap()] })
	if err != nil {
		return nil, fmt.Errorf("configure prober: %w", err)
	}
	progress := po.Progress
	if progress == nil {
		progress = providers.NoProgress{}
	}
	return p.Run(ctx, targets, progress), nil
}

func scopeOf(inv *exposure.Inventory, audited []string, o Options) reports.Scope {
	accounts, regions := scopeSets(inv)
	return reportScope(accounts, regions, audited, o)
}

// scopeSets returns the accounts and regions of an inventory's targets and
// listed layers.
func scopeSets(inv *exposure.Inventory) (accounts, regions map[string]bool) {
	accounts, regions = map[string]bool{}, map[string]bool{}
	note := func(s exposure.Scope) {
		if s.Account != "" {
			accounts[s.Account] = true
		}
		if s.Region != "" {
			regions[s.Region] = true
		}
	}
	for _, t := range inv.Targets {
		if t != nil {
			note(t.Scope)
		}
	}
	for _, l := range inv.Layers {
		if l != nil {
			note(l.Scope)
		}
	}
	return accounts, regions
}

func reportScope(accounts, regions map[string]bool, audited []string, o Options) reports.Scope {
	return reports.Scope{
		Providers: audited,
		Accounts:  sortedKeys(accounts),
		Regions:   sortedKeys(regions),
		Snapshot:  o.SnapshotDir,
		Framework: o.Rules.Framework,
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// DirFS opens a snapshot directory, checking that it exists.
func DirFS(dir string) (fs.FS, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("snapshot: %s is not a directory", dir)
	}
	return os.DirFS(dir), nil
}
