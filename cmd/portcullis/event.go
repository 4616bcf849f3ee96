package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/providers/aws"
	"github.com/portcullis-sec/portcullis/reports"
)

// eventRun is a prepared --event FILE: the audit is narrowed to the
// event's account-region, and the alerts say who made the change
// (docs/react.md). Its methods are no-ops on nil (no --event).
type eventRun struct {
	event aws.Event
	actor string
}

// maxEventFile bounds what --event reads (EventBridge events are at most
// 256 KB).
const maxEventFile = 1 << 20

// applyEvent reads --event and narrows the audit options to the event's
// scope: AWS only, the event's region, and with --org the event's account
// alone. Without --org the audited account is the credentials' (or
// --role-arn's), which must be the event's: --role-arn is checked now,
// the credentials' account once collected (check).
func (f *auditFlags) applyEvent(o *audit.Options, e *env) (*eventRun, error) {
	if f.event == "" {
		return nil, nil
	}
	if f.snapshot != "" {
		return nil, errors.New("--event re-audits the event's account-region live; --snapshot reads a snapshot: give one or the other")
	}
	info, err := os.Stat(f.event)
	if err != nil {
		return nil, fmt.Errorf("--event: %w", err)
	}
	if info.Size() > maxEventFile {
		return nil, fmt.Errorf("--event %s: %d bytes is not one event", f.event, info.Size())
	}
	b, err := os.ReadFile(f.event)
	if err != nil {
		return nil, fmt.Errorf("--event: %w", err)
	}
	ev, err := aws.ParseEvent(b)
	if err != nil {
		return nil, fmt.Errorf("--event %s: %w", f.event, err)
	}
	if len(o.Providers) > 0 && !slices.Equal(o.Providers, []string{exposure.ProviderAWS}) {
		return nil, errors.New("--event is an AWS CloudTrail event: --provider can only be aws")
	}
	if r := o.AWS.Regions; len(r) > 0 && !slices.Equal(r, []string{ev.Region}) {
		return nil, fmt.Errorf("--event is about %s; --regions %s says otherwise (leave --regions out)", ev.Region, strings.Join(r, ","))
	}
	o.Providers, o.AWS.Regions = []string{exposure.ProviderAWS}, []string{ev.Region}
	if org := o.AWS.Org; org != nil {
		if len(org.Accounts) > 0 && !slices.Equal(org.Accounts, []string{ev.Account}) || slices.Contains(org.ExcludeAccounts, ev.Account) {
			return nil, fmt.Errorf("--event is about account %s, which --accounts/--exclude-accounts leave out", ev.Account)
		}
		org.Accounts = []string{ev.Account}
	} else if f.roleARN != "" {
		if parts := strings.Split(f.roleARN, ":"); len(parts) < 5 || parts[4] != ev.Account {
			return nil, fmt.Errorf("--event is about account %s; --role-arn is a role of another account", ev.Account)
		}
	}
	fmt.Fprintf(e.stderr, "portcullis: event %s %s in aws %s %s by %s: auditing that account-region\n",
		ev.Name, ev.Time.Format("2006-01-02 15:04:05Z"), ev.Account, ev.Region, sanitize(orUnknown(ev.Actor.ARN)))
	if !ev.ChangesExposure() {
		why := "is not one of the calls that change an exposure (docs/react.md)"
		if ev.ErrorCode != "" {
			why = "failed (" + sanitize(ev.ErrorCode) + "): nothing changed"
		}
		fmt.Fprintf(e.stderr, "portcullis: note: %s %s; auditing anyway\n", ev.Name, why)
	}
	return &eventRun{event: ev, actor: aws.Describe([]aws.Event{ev})}, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown principal"
	}
	return s
}

// wrap makes the monitor's alerts carry the event's actor.
func (r *eventRun) wrap(mon *monitor) {
	if r == nil || mon == nil {
		return
	}
	for i, n := range mon.notifiers {
		mon.notifiers[i] = audit.WithActor(n, r.actor)
	}
}

// check refuses a report of other accounts than the event's before the
// state is touched: the credentials were not the event's account's.
func (r *eventRun) check(doc *reports.Document) error {
	if r == nil {
		return nil
	}
	if !slices.Equal(doc.Scope.Accounts, []string{r.event.Account}) {
		return fmt.Errorf("--event is about account %s, but the credentials audited %s: use that account's credentials, --role-arn or --org",
			r.event.Account, strings.Join(doc.Scope.Accounts, ", "))
	}
	return nil
}
