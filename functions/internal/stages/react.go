package stages

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/sync/errgroup"

	"github.com/portcullis-sec/portcullis/alerts"
	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/functions/internal/runstore"
	"github.com/portcullis-sec/portcullis/functions/internal/stages/notify"
	"github.com/portcullis-sec/portcullis/providers/aws"
	"github.com/portcullis-sec/portcullis/reports"
)

// EnvReactConcurrency bounds the scopes re-audited at once by one
// invocation (default 4).
const EnvReactConcurrency = "REACT_CONCURRENCY"

// React re-audits the account-regions that CloudTrail management events
// changed, and alerts through the monitor with the events' actors
// (docs/react.md). It takes the events batched by an SQS queue (the
// queue's batching window coalesces a burst) or one EventBridge event
// invoked directly.
type React struct {
	*Base
	collect *Collect
	reporting
	notify.Notifying
	concurrency int
	// now is the clock of the run IDs; tests replace it.
	now func() time.Time
}

// NewReact configures the react stage from env: the collect stage's
// member role, the report stage's rules, the notify stage's state and
// channels.
func NewReact(b *Base, env Env) (*React, error) {
	c, err := NewCollect(b, env)
	if err != nil {
		return nil, err
	}
	rep, err := newReporting(env)
	if err != nil {
		return nil, err
	}
	n, err := notify.NewNotifying(b, env)
	if err != nil {
		return nil, err
	}
	conc, err := intVar(env, EnvReactConcurrency, 4)
	if err != nil {
		return nil, err
	}
	return &React{Base: b, collect: c, reporting: rep, Notifying: n, concurrency: conc, now: time.Now}, nil
}

// ReactOutput is what one invocation did. BatchItemFailures names the SQS
// messages whose scope could not be re-audited or alerted: the event
// source mapping (ReportBatchItemFailures) returns them to the queue, and
// after its maxReceiveCount they go to the dead-letter queue.
type ReactOutput struct {
	Events            int                          `json:"events"`
	Ignored           int                          `json:"ignored"`
	Reaudits          int                          `json:"reaudits"`
	Messages          int                          `json:"messages"`
	Delivered         int                          `json:"delivered"`
	Failed            int                          `json:"failed"`
	RunIDs            []string                     `json:"runIds"`
	BatchItemFailures []events.SQSBatchItemFailure `json:"batchItemFailures"`
}

// received is one event and the SQS message it came in ("" when invoked
// directly).
type received struct {
	event   aws.Event
	message string
}

// Handle takes an SQS batch of EventBridge events, or one EventBridge
// event, and re-audits each account-region they changed once.
func (r *React) Handle(ctx context.Context, raw json.RawMessage) (ReactOutput, error) {
	log := r.InvocationLog(ctx, "stage", "react")
	ctx, cancel := withMargin(ctx)
	defer cancel()
	var batch events.SQSEvent
	var in []received
	var out ReactOutput
	var bad []string // messages that are not events at all: retrying cannot help
	if err := json.Unmarshal(raw, &batch); err == nil && len(batch.Records) > 0 && batch.Records[0].EventSource == "aws:sqs" {
		for _, m := range batch.Records {
			e, err := aws.ParseEvent([]byte(m.Body))
			if err != nil {
				log.Warn("react: unreadable event, dropped", "messageId", m.MessageId, "error", err)
				bad = append(bad, m.MessageId)
				continue
			}
			in = append(in, received{event: e, message: m.MessageId})
		}
	} else {
		e, err := aws.ParseEvent(raw)
		if err != nil {
			return out, err
		}
		in = append(in, received{event: e})
	}
	out.Events = len(in) + len(bad)
	out.Ignored = len(bad)
	byScope := coalesce(in)
	for _, g := range byScope {
		out.Ignored += len(g.ignored)
	}
	log.Info("react: events", "events", out.Events, "scopes", len(byScope), "ignored", out.Ignored)

	var mu sync.Mutex
	var failedMsgs []string
	var failures []error
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.concurrency)
	for _, sg := range byScope {
		if len(sg.events) == 0 {
			continue
		}
		g.Go(func() error {
			run, res, err := r.reaudit(gctx, sg, log)
			mu.Lock()
			defer mu.Unlock()
			out.Reaudits++
			if run != "" {
				out.RunIDs = append(out.RunIDs, run)
			}
			if res != nil {
				out.Messages += res.Messages
				out.Delivered += res.Delivered
			}
			if err != nil {
				out.Failed++
				failures = append(failures, err)
				failedMsgs = append(failedMsgs, sg.messages()...)
				log.Error("react: re-audit failed", "scope", scopeText(sg.scope), "error", err)
			}
			return nil
		})
	}
	_ = g.Wait()
	slices.Sort(out.RunIDs)
	slices.Sort(failedMsgs)
	for _, id := range slices.Compact(failedMsgs) {
		if id != "" {
			out.BatchItemFailures = append(out.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
		}
	}
	if out.BatchItemFailures == nil {
		out.BatchItemFailures = []events.SQSBatchItemFailure{}
	}
	log.Info("react: done", "reaudits", out.Reaudits, "messages", out.Messages, "delivered", out.Delivered, "failed", out.Failed)
	if len(failures) > 0 && len(batch.Records) == 0 {
		// Invoked directly: EventBridge's retry policy (and its DLQ)
		// takes over.
		return out, errors.Join(failures...)
	}
	return out, nil
}

// scopeEvents are the events of one account-region in a batch.
type scopeEvents struct {
	scope   exposure.Scope
	events  []aws.Event
	ignored []aws.Event
	msgs    []string
}

func (s *scopeEvents) messages() []string { return s.msgs }

// coalesce groups events by account-region, each event once (SQS
// delivers at least once; EventBridge retries), keeping the
// exposure-changing successful calls; the others are counted as ignored.
func coalesce(in []received) []*scopeEvents {
	by := map[exposure.Scope]*scopeEvents{}
	seen := map[string]bool{}
	for _, r := range in {
		e := r.event
		s := by[e.Scope()]
		if s == nil {
			s = &scopeEvents{scope: e.Scope()}
			by[e.Scope()] = s
		}
		s.msgs = append(s.msgs, r.message)
		if e.ID != "" && seen[e.ID] {
			continue
		}
		seen[e.ID] = e.ID != ""
		if e.ChangesExposure() {
			s.events = append(s.events, e)
		} else {
			s.ignored = append(s.ignored, e)
		}
	}
	out := make([]*scopeEvents, 0, len(by))
	for _, s := range by {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *scopeEvents) int {
		return cmp.Or(strings.Compare(a.scope.Account, b.scope.Account), strings.Compare(a.scope.Region, b.scope.Region))
	})
	return out
}

func scopeText(s exposure.Scope) string { return s.Provider + " " + s.Account + " " + s.Region }

// reaudit collects one account-region through its member role, audits it
// with the deployment's rules and exceptions, writes the re-audit's
// report under its own run ID, and tracks it with only that scope: the
// other scopes' baselines are not touched (audit.Track diffs the scopes a
// report covers).
func (r *React) reaudit(ctx context.Context, sg *scopeEvents, log *slog.Logger) (string, *audit.TrackResult, error) {
	item := runstore.Item{Provider: exposure.ProviderAWS, Account: sg.scope.Account, Region: sg.scope.Region}
	if err := item.Validate(); err != nil {
		return "", nil, err
	}
	run := "react-" + item.Account + "-" + item.Region + "-" + r.now().UTC().Format("20060102T150405.000Z")
	log = log.With("runId", run, "account", item.Account, "region", item.Region)
	o, err := r.collect.options(ctx, item, log)
	if err != nil {
		return run, nil, err
	}
	o.FailOn = r.failOn
	o.Rules.Framework = r.framework
	if r.rulesKey != "" || r.exceptionsKey != "" {
		dir, err := os.MkdirTemp("", "portcullis-rules-")
		if err != nil {
			return run, nil, fmt.Errorf("rules files: %w", err)
		}
		defer os.RemoveAll(dir)
		if o.Rules.CustomRulesFile, err = download(ctx, r.Base, r.rulesKey, filepath.Join(dir, "rules.yaml")); err != nil {
			return run, nil, err
		}
		if o.Rules.ExceptionsFile, err = download(ctx, r.Base, r.exceptionsKey, filepath.Join(dir, "exceptions.yaml")); err != nil {
			return run, nil, err
		}
	}
	res, err := audit.Run(ctx, o)
	if err != nil {
		return run, nil, fmt.Errorf("re-audit %s: %w", item, err)
	}
	if _, err := writeReport(ctx, r.Base, run, res.Report); err != nil {
		return run, nil, err
	}
	doc := reports.NewDocument(res.Report)
	actor := aws.Describe(sg.events)
	tr, err := r.Track(ctx, r.Base, doc, run, log, func(n alerts.Notifier) alerts.Notifier { return audit.WithActor(n, actor) })
	if err != nil && tr == nil {
		return run, nil, fmt.Errorf("track %s: %w", item, err)
	}
	if _, werr := notify.WriteChanges(ctx, r.Base, run, tr); werr != nil {
		return run, tr, werr
	}
	log.Info("react: re-audited", "events", len(sg.events), "exposures", len(res.Report.Exposures),
		"messages", tr.Messages, "delivered", tr.Delivered, "errors", len(tr.Errors))
	if err != nil {
		return run, tr, fmt.Errorf("track %s: %w", item, err)
	}
	if len(tr.Errors) > 0 {
		return run, tr, fmt.Errorf("track %s: %w: %s", item, notify.ErrNotDelivered, notify.ErrorLines(tr))
	}
	return run, tr, nil
}
