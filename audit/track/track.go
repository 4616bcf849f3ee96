// Package track is the monitor of Portcullis: it diffs a report against the
// stored baselines (package state), records the changes and sends the
// alerts a Policy asks for (docs/alerts.md). It imports no provider, so the
// notify function links neither the audit nor any cloud's SDK.
package track

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/portcullis-sec/portcullis/alerts"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/rules"
	"github.com/portcullis-sec/portcullis/state"
)

// Policy says which changes are worth a message (docs/alerts.md).
type Policy struct {
	// MinSeverity: only exposures with an active (unsuppressed) finding at
	// or above it are announced (--notify-min-severity, default high).
	MinSeverity rules.Severity
	// Latent also announces latent exposures (--notify-latent); by
	// default only effective ones, which the internet reaches now.
	Latent bool
	// Initial announces every exposure on the first run over an empty
	// baseline (--notify-initial); by default that run sends one
	// "baseline established" summary per account.
	Initial bool
	// ListResolved lists resolved exposures like the others and sends a
	// message for them alone (--notify-resolved); by default they are one
	// summary line in the next message.
	ListResolved bool
	// Expire gives up on an alert still undelivered after this long
	// (--notify-expire, default DefaultExpire).
	Expire time.Duration
}

// DefaultExpire is how long an undelivered alert is retried.
const DefaultExpire = 7 * 24 * time.Hour

// TrackOptions configures Track.
type TrackOptions struct {
	Store     state.Store
	Notifiers []alerts.Notifier
	Policy    Policy
	// DryRun reads the state and hands the messages to the notifiers (a
	// dry-run notifier prints them) but saves nothing: the next real run
	// sees the same changes.
	DryRun    bool
	ReportURL string
	// RunID names the run in the state and the messages; default: the
	// report's generation time.
	RunID  string
	Now    time.Time
	Logger *slog.Logger
}

// TrackResult is what one Track call did.
type TrackResult struct {
	// Changes is the report's "changes since the last run" section, also
	// attached to the document.
	Changes *reports.Changes
	// Messages counts the messages handed to notifiers; Delivered those
	// every notifier took.
	Messages, Delivered int
	// Errors are the failures of the state and notify stages (also added
	// to the document's errors). They do not make the audit partial.
	Errors []exposure.Error
	// Diffs are the state's changes of every scope tracked, the first
	// run's included: what a caller mirroring the state elsewhere needs
	// (Security Hub: first-seen times, the findings Retired).
	Diffs []state.Change
}

// kindsAnnounced are the changes an alert is sent for.
var kindsAnnounced = map[state.ChangeKind]alerts.Kind{
	state.New: alerts.KindNew, state.Widened: alerts.KindWidened, state.Reopened: alerts.KindReopened,
}

// Track diffs a finished report against the stored baselines, scope by
// scope, and announces what the policy selects. For each scope of the
// report (and each stored scope the report covered) it loads the
// baseline, diffs, records the alerts as pending and saves (compare and
// swap, retried on conflict). Then it sends one message per account
// through every notifier, and marks what was delivered, in a second
// save. A crash between sending and the second save repeats an alert on
// the next run; an alert is never lost: what was not delivered stays
// pending and is retried by every run until Policy.Expire.
//
// Scopes whose collection failed or was partial this run are diffed
// without resolving anything (state.Run.Incomplete). Errors of the state
// or a notifier are returned in the result and added to doc's errors; an
// error is returned only when nothing could be tracked at all.
func Track(ctx context.Context, doc *reports.Document, o TrackOptions) (*TrackResult, error) {
	if o.Store == nil {
		return nil, errors.New("track: no state store")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC()
	expire := cmp.Or(o.Policy.Expire, DefaultExpire)
	au, err := state.FromDocument(doc)
	if err != nil {
		return nil, fmt.Errorf("track: %w", err)
	}
	// Two runs of one second must not share a name: the outbox keys pending
	// alerts by kind and run.
	runID := cmp.Or(o.RunID, now.Format(time.RFC3339Nano))
	for _, r := range au.Runs {
		r.RunID = runID
	}
	stored, err := o.Store.Scopes(ctx)
	if err != nil {
		return nil, fmt.Errorf("track: list stored baselines: %w", err)
	}
	scopes := state.SortedScopes(au.Runs)
	// Units where nothing was found get a baseline too, so that what
	// appears there later is new rather than part of a first baseline.
	for _, s := range au.Units() {
		if _, ok := au.Runs[s]; !ok {
			stored = append(stored, s)
		}
	}
	for _, s := range slices.Compact(slices.SortedFunc(slices.Values(stored), compareScopes)) {
		if _, ok := au.Runs[s]; !ok && au.Run(s) != nil && !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	slices.SortFunc(scopes, compareScopes)

	t := &tracker{doc: doc, o: o, now: now, runID: runID, log: log, res: &TrackResult{}}
	var tracked []*scopeRun
	for _, s := range scopes {
		run := au.Run(s)
		if run == nil {
			continue
		}
		run.RunID = runID
		sr, err := t.diffScope(ctx, s, run, expire)
		if err != nil {
			t.fail(s, "state", err)
			continue
		}
		tracked = append(tracked, sr)
		t.res.Diffs = append(t.res.Diffs, sr.changes...)
	}
	if len(tracked) == 0 && len(scopes) > 0 {
		t.attach(tracked)
		return t.res, fmt.Errorf("track: no baseline could be loaded or saved: %v", t.res.Errors)
	}
	t.notify(ctx, tracked)
	t.attach(tracked)
	return t.res, nil
}

// tracker is one Track call's working state.
type tracker struct {
	doc   *reports.Document
	o     TrackOptions
	now   time.Time
	runID string
	log   *slog.Logger
	res   *TrackResult
	// byKey and findings index the document's exposures and findings
	// (built on first use by rows).
	byKey    map[exposure.Key][]*reports.Exposure
	findings map[string][]*reports.Finding
}

// scopeRun is what one scope's diff produced.
type scopeRun struct {
	scope      exposure.Scope
	next       *state.Baseline
	changes    []state.Change
	initial    bool
	incomplete bool
	since      time.Time
	expired    []state.Expired
	// saved and version are the baseline as last saved this run (nil in a
	// dry run): the delivery marks start from it instead of a fresh load.
	saved   *state.Baseline
	version state.Version
}

func (t *tracker) fail(s exposure.Scope, stage string, err error) {
	e := exposure.Error{Scope: s, Stage: stage, Message: err.Error()}
	t.res.Errors = append(t.res.Errors, e)
	t.log.Warn(stage+" failed", "scope", state.ScopeString(s), "error", err)
}

// diffScope loads, diffs and (unless a dry run) saves one scope.
func (t *tracker) diffScope(ctx context.Context, s exposure.Scope, run *state.Run, expire time.Duration) (*scopeRun, error) {
	var sr *scopeRun
	apply := func(prev *state.Baseline) (*state.Baseline, error) {
		initial := prev.RunID == "" && len(prev.Entries) == 0
		next, changes := state.Diff(prev, run, t.now)
		next.History = appendHistory(prev.History, next, t.runID, t.now)
		for _, c := range changes {
			t.record(c, initial)
		}
		expired := next.ExpirePending(expire, t.now)
		sr = &scopeRun{scope: s, next: next, changes: changes, initial: initial, incomplete: run.Incomplete, since: prev.Updated, expired: expired}
		return next, nil
	}
	if t.o.DryRun {
		prev, _, err := t.o.Store.Load(ctx, s)
		if err != nil {
			return nil, err
		}
		if _, err := apply(prev); err != nil {
			return nil, err
		}
	} else {
		saved, v, err := state.Update(ctx, t.o.Store, s, apply)
		if err != nil {
			return nil, err
		}
		sr.saved, sr.version = saved, v
	}
	for _, x := range sr.expired {
		t.fail(s, "notify", fmt.Errorf("gave up on the %s alert of %s after %s undelivered", x.Kind, x.Key, expire))
	}
	return sr, nil
}

// announced reports whether an entry is worth a message under the policy:
// effective (or latent with Policy.Latent), an active finding at or above
// the minimum severity, not suppressed.
func (t *tracker) announced(e *state.Entry) bool {
	if e == nil || e.Suppressed || len(e.Findings) == 0 || e.Severity < t.o.Policy.MinSeverity {
		return false
	}
	return e.Key.Level == exposure.Effective || t.o.Policy.Latent
}

// record puts what a change warrants into its entry's outbox.
func (t *tracker) record(c state.Change, initial bool) {
	after := c.After
	if after == nil {
		return
	}
	switch {
	case c.Kind == state.Resolved:
		// What was never announced needs no resolution either; an alert
		// still pending is replaced by the resolution, so the message says
		// what is true now.
		if t.announced(c.Before) || len(after.Outbox.Pending) > 0 {
			after.Outbox.Pending = nil
			after.Outbox.Delivered = nil
			after.Outbox.Add(state.Resolved, t.runID, t.now)
		}
		return
	case !t.announced(after):
		// Suppressed, below the threshold or latent: nothing pending may
		// be sent for it.
		after.Outbox.Pending = slices.DeleteFunc(after.Outbox.Pending, func(p state.Pending) bool { return p.Kind != state.Resolved })
		if len(after.Outbox.Pending) == 0 {
			after.Outbox.Delivered = nil
		}
		return
	case initial && !t.o.Policy.Initial:
		return // the baseline summary stands for it
	}
	kind, ok := kindsAnnounced[c.Kind]
	if !ok && !t.announced(c.Before) && c.Before != nil && c.Kind != state.Unverified {
		// Unchanged traffic that became worth announcing: an exception
		// expired, or a finding reached the threshold.
		kind, ok = alerts.KindNew, true
	}
	if !ok {
		return
	}
	after.Outbox.Delivered = nil
	after.Outbox.Add(state.ChangeKind(kind), t.runID, t.now)
	if c.Kind == state.Widened && len(after.Outbox.Pending) > 0 {
		after.Outbox.Pending[len(after.Outbox.Pending)-1].Detail = c.AddedText()
	}
}

func appendHistory(h []state.Totals, next *state.Baseline, runID string, now time.Time) []state.Totals {
	tot := state.Totals{RunID: runID, At: now, BySeverity: map[string]int{}}
	for i := range next.Entries {
		e := &next.Entries[i]
		if !e.Active() {
			continue
		}
		if e.Key.Level == exposure.Effective {
			tot.Effective++
		} else {
			tot.Latent++
		}
		if len(e.Findings) > 0 && !e.Suppressed {
			tot.BySeverity[e.Severity.String()]++
		}
	}
	h = append(slices.Clone(h), tot)
	if len(h) > state.MaxHistory {
		h = h[len(h)-state.MaxHistory:]
	}
	return h
}

// account groups the scopes of one account: one message each.
type account struct {
	scope  exposure.Scope // provider and account
	scopes []*scopeRun
}

// notify sends one message per account through every notifier, then marks
// what was delivered.
func (t *tracker) notify(ctx context.Context, tracked []*scopeRun) {
	var accounts []*account
	for _, sr := range tracked {
		a := exposure.Scope{Provider: sr.scope.Provider, Account: sr.scope.Account}
		if n := len(accounts); n == 0 || accounts[n-1].scope != a {
			accounts = append(accounts, &account{scope: a})
		}
		accounts[len(accounts)-1].scopes = append(accounts[len(accounts)-1].scopes, sr)
	}
	for _, a := range accounts {
		t.notifyAccount(ctx, a)
	}
}

// pendingRef is one entry of a message, remembered to mark it delivered.
type pendingRef struct {
	scope   exposure.Scope
	key     exposure.Key
	pending []state.Pending
}

func (t *tracker) notifyAccount(ctx context.Context, a *account) {
	m := alerts.Message{RunID: t.runID, ReportURL: t.o.ReportURL, Scope: a.scope, ListResolved: t.o.Policy.ListResolved}
	var refs []pendingRef
	allInitial := true
	var initial alerts.InitialSummary
	for _, sr := range a.scopes {
		if sr.initial && !t.o.Policy.Initial {
			for i := range sr.next.Entries {
				e := &sr.next.Entries[i]
				if e.Active() && t.announced(e) {
					if initial.BySeverity == nil {
						initial.BySeverity = map[rules.Severity]int{}
					}
					initial.Exposures++
					initial.BySeverity[e.Severity]++
				}
			}
		} else {
			allInitial = false
		}
		for _, e := range sr.next.Pending() {
			refs = append(refs, pendingRef{scope: sr.scope, key: e.Key, pending: slices.Clone(e.Outbox.Pending)})
			it := t.item(e)
			if e.Outbox.Pending[len(e.Outbox.Pending)-1].Kind == state.Resolved {
				it.Kind = alerts.KindResolved
				m.Resolved = append(m.Resolved, it)
			} else {
				m.Items = append(m.Items, it)
			}
		}
	}
	if allInitial && !t.o.Policy.Initial && len(m.Items) == 0 {
		// The first run over this account: one summary, and only when it
		// holds something worth announcing.
		if initial.Exposures == 0 {
			return
		}
		m.Initial = &initial
	} else if len(m.Items) == 0 && (len(m.Resolved) == 0 || !t.o.Policy.ListResolved) {
		// Resolutions alone wait for the next message (one summary line)
		// unless --notify-resolved asks for a message of their own.
		return
	}
	t.res.Messages++
	delivered := map[string]bool{}
	all := true
	for _, n := range t.o.Notifiers {
		if t.allDelivered(a, refs, n.Name()) {
			delivered[n.Name()] = true
			continue
		}
		if err := n.Notify(ctx, m); err != nil {
			all = false
			t.fail(a.scope, "notify", fmt.Errorf("%s: %w", n.Name(), err))
			continue
		}
		delivered[n.Name()] = true
	}
	if all {
		t.res.Delivered++
	}
	if t.o.DryRun || len(refs) == 0 {
		return
	}
	t.markDelivered(ctx, a, refs, delivered, all)
}

// allDelivered reports whether channel already delivered every pending
// change of the message (a retry after a partial failure).
func (t *tracker) allDelivered(a *account, refs []pendingRef, channel string) bool {
	if len(refs) == 0 {
		return false
	}
	for _, r := range refs {
		e := t.entry(a, r)
		if e == nil || !slices.Contains(e.Outbox.Delivered, channel) {
			return false
		}
	}
	return true
}

func (t *tracker) entry(a *account, r pendingRef) *state.Entry {
	for _, sr := range a.scopes {
		if sr.scope == r.scope {
			return sr.next.Find(r.key)
		}
	}
	return nil
}

// markDelivered saves, per scope, that the changes sent are delivered
// (every channel) or delivered by some channels. Pending changes recorded
// meanwhile by another run stay pending.
func (t *tracker) markDelivered(ctx context.Context, a *account, refs []pendingRef, delivered map[string]bool, all bool) {
	byScope := map[exposure.Scope][]pendingRef{}
	for _, r := range refs {
		byScope[r.scope] = append(byScope[r.scope], r)
	}
	for _, sr := range a.scopes {
		rs := byScope[sr.scope]
		if len(rs) == 0 {
			continue
		}
		saved, v, err := state.UpdateFrom(ctx, t.o.Store, sr.scope, sr.saved, sr.version, func(prev *state.Baseline) (*state.Baseline, error) {
			next := prev.Clone()
			for _, r := range rs {
				e := next.Find(r.key)
				if e == nil {
					continue
				}
				if !all {
					for name := range delivered {
						if !slices.Contains(e.Outbox.Delivered, name) {
							e.Outbox.Delivered = append(e.Outbox.Delivered, name)
						}
					}
					slices.Sort(e.Outbox.Delivered)
					for _, err := range t.res.Errors {
						if err.Stage == "notify" && err.Account == a.scope.Account && err.Provider == a.scope.Provider {
							e.Outbox.Failed(err.Message, t.now)
						}
					}
					continue
				}
				rest := slices.DeleteFunc(slices.Clone(e.Outbox.Pending), func(p state.Pending) bool {
					return slices.ContainsFunc(r.pending, func(q state.Pending) bool { return q.Kind == p.Kind && q.RunID == p.RunID })
				})
				if len(rest) == 0 {
					e.Outbox.Sent(t.now)
				} else {
					e.Outbox.Pending, e.Outbox.Delivered = rest, nil
				}
			}
			return next, nil
		})
		if err != nil {
			t.fail(sr.scope, "state", fmt.Errorf("record delivered alerts: %w", err))
			sr.saved, sr.version = nil, ""
			continue
		}
		sr.saved, sr.version = saved, v
	}
}

// item is the render-ready form of an entry, from this run's rows of its
// key (or the entry alone when it resolved).
func (t *tracker) item(e *state.Entry) alerts.Item {
	p := e.Outbox.Pending[len(e.Outbox.Pending)-1]
	it := alerts.Item{
		Kind: alerts.Kind(p.Kind), Severity: e.Severity, Level: e.Key.Level,
		Address: e.Key.Endpoint, Protocol: e.Key.Protocol.String(), Ports: state.PortsText(e.Ports),
		TargetID: e.Key.Target,
	}
	for _, q := range e.Outbox.Pending {
		if q.Kind == state.Widened && q.Detail != "" {
			it.NewPorts = q.Detail
		}
	}
	rows := t.rows(e)
	var widest *reports.Exposure
	for _, x := range rows {
		if widest == nil || breadthRank(x.SourceBreadth) > breadthRank(widest.SourceBreadth) {
			widest = x
		}
	}
	if widest != nil {
		it.TargetName = widest.Target.Name
		it.Sources = widest.SourcesLabel
		it.Path = strings.ReplaceAll(widest.EvidenceLabel(), ", ", " → ")
		it.ExposureID = widest.ID
		if b := widest.Backend; b != nil && (b.FromPort != widest.FromPort || b.ToPort != widest.ToPort) {
			if pr, ok := portRange(b.FromPort, b.ToPort); ok {
				it.BackendPorts = state.PortsText([]exposure.PortRange{pr})
			}
		}
	}
	seen := map[string]bool{}
	for _, x := range rows {
		if pr := x.Probe; pr != nil && it.Probe == "" && pr.State == exposure.ProbeOpen {
			it.Probe = strings.TrimSpace(string(pr.State) + " " + pr.Service)
			if pr.Product != "" {
				it.Probe += " (" + pr.Product + ")"
			}
		}
		for _, f := range t.findings[x.ID] {
			if f.Suppressed || seen[f.RuleID] {
				continue
			}
			seen[f.RuleID] = true
			it.Findings = append(it.Findings, alerts.FindingRef{RuleID: f.RuleID, Title: f.Title, Severity: f.Severity})
		}
	}
	slices.SortStableFunc(it.Findings, func(a, b alerts.FindingRef) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), strings.Compare(a.RuleID, b.RuleID))
	})
	return it
}

func breadthRank(b exposure.Breadth) int {
	switch b {
	case exposure.BreadthAnyone:
		return 3
	case exposure.BreadthBroad:
		return 2
	case exposure.BreadthNarrow:
		return 1
	}
	return 0
}

// rows returns this run's exposures of the entry's key.
func (t *tracker) rows(e *state.Entry) []*reports.Exposure {
	if t.byKey == nil {
		t.byKey = map[exposure.Key][]*reports.Exposure{}
		t.findings = map[string][]*reports.Finding{}
		for _, x := range t.doc.Exposures {
			t.byKey[x.Key] = append(t.byKey[x.Key], x)
		}
		for _, f := range t.doc.Findings {
			t.findings[f.ExposureID] = append(t.findings[f.ExposureID], f)
		}
	}
	if !e.Active() {
		return nil
	}
	return t.byKey[e.Key]
}

// attach builds the report's changes section and adds the errors.
func (t *tracker) attach(tracked []*scopeRun) {
	var changes []state.Change
	var skipped []exposure.Scope
	var since time.Time
	initial := len(tracked) > 0
	trend := map[string]*reports.TrendPoint{}
	for _, sr := range tracked {
		if sr.since.After(since) {
			since = sr.since
		}
		if sr.incomplete {
			skipped = append(skipped, sr.scope)
		}
		for _, h := range sr.next.History {
			p := trend[h.RunID]
			if p == nil {
				p = &reports.TrendPoint{RunID: h.RunID, At: h.At.UTC().Format(time.RFC3339)}
				trend[h.RunID] = p
			}
			p.Effective += h.Effective
			p.Latent += h.Latent
			for name, n := range h.BySeverity {
				if sev, err := rules.ParseSeverity(name); err == nil {
					addSeverity(&p.BySeverity, sev, n)
				}
			}
		}
		if sr.initial {
			continue // the first run establishes the baseline: nothing is new
		}
		initial = false
		changes = append(changes, sr.changes...)
	}
	c := state.ReportChanges(changes, skipped, since, initial)
	for _, p := range trend {
		c.Trend = append(c.Trend, *p)
	}
	slices.SortFunc(c.Trend, func(a, b reports.TrendPoint) int {
		return cmp.Or(strings.Compare(a.At, b.At), strings.Compare(a.RunID, b.RunID))
	})
	t.res.Changes = c
	t.doc.AttachChanges(c)
	t.doc.Errors = append(t.doc.Errors, t.res.Errors...)
	t.doc.Summary.Errors = len(t.doc.Errors)
}

func addSeverity(c *reports.SeverityCounts, s rules.Severity, n int) {
	switch s {
	case rules.Critical:
		c.Critical += n
	case rules.High:
		c.High += n
	case rules.Medium:
		c.Medium += n
	case rules.Low:
		c.Low += n
	default:
		c.Info += n
	}
}

func compareScopes(a, b exposure.Scope) int {
	return cmp.Or(strings.Compare(a.Provider, b.Provider), strings.Compare(a.Account, b.Account), strings.Compare(a.Region, b.Region))
}

// portRange is a document's backend port range as a PortRange. The
// document's ports are ints; a range outside 0-65535 (which this run's own
// rows never hold) is not shown rather than wrapped into another port.
func portRange(from, to int) (exposure.PortRange, bool) {
	if from < 0 || from > math.MaxUint16 || to < 0 || to > math.MaxUint16 || from > to {
		return exposure.PortRange{}, false
	}
	return exposure.PortRange{From: uint16(from), To: uint16(to)}, true
}
