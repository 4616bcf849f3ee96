package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/portcullis-sec/portcullis/alerts"
	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/internal/secret"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/rules"
	"github.com/portcullis-sec/portcullis/state"
)

// monitorFlags are the flags of the monitor: the state, the diff against
// it and the alerts (docs/state.md, docs/alerts.md). The names are a
// contract other tooling depends on.
type monitorFlags struct {
	state       string
	notify      string
	emailTo     string
	emailFrom   string
	minSeverity string
	dryRun      bool
	initial     bool
	resolved    bool
	latent      bool
	expire      time.Duration
	reportURL   string
	runID       string
}

func (m *monitorFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.state, "state", "", "keep the run-to-run state here and report what changed since the last run: a directory, s3://bucket/prefix or dynamodb://table (docs/state.md)")
	fs.StringVar(&m.notify, "notify", "", "with --state: alert on newly exposed ports through these channels, comma-separated: slack, email (secrets from "+alerts.EnvSlackWebhookURL+" and "+alerts.EnvSMTPURL+"; docs/alerts.md)")
	fs.StringVar(&m.emailTo, "email-to", "", "email recipients, comma-separated (with --notify email)")
	fs.StringVar(&m.emailFrom, "email-from", "", "email sender address (with --notify email); through SES unless "+alerts.EnvSMTPURL+" is set")
	fs.StringVar(&m.minSeverity, "notify-min-severity", "high", "alert only on exposures with an active finding at or above this severity: info, low, medium, high, critical")
	fs.BoolVar(&m.dryRun, "notify-dry-run", false, "print the messages instead of sending them, and leave the state as it was")
	fs.BoolVar(&m.initial, "notify-initial", false, "on the first run over an empty state, alert on every exposure (default: one \"baseline established\" summary per account)")
	fs.BoolVar(&m.resolved, "notify-resolved", false, "list resolved exposures and send a message for them alone (default: one summary line in the next message)")
	fs.BoolVar(&m.latent, "notify-latent", false, "also alert on latent exposures (a rule admits the internet but no path delivers it today)")
	fs.DurationVar(&m.expire, "notify-expire", audit.DefaultExpire, "give up on an alert still undelivered after this long (it is retried by every run until then)")
	fs.StringVar(&m.reportURL, "report-url", "", "link to the report in the messages (e.g. where --output is published)")
	fs.StringVar(&m.runID, "run-id", "", "name of this run in the state and the messages (default: the report's time)")
}

// channels returns the --notify channels, checked.
func (m *monitorFlags) channels() ([]string, error) {
	var out []string
	for _, c := range splitList(m.notify) {
		c = strings.ToLower(c)
		switch c {
		case "slack", "email":
		default:
			return nil, fmt.Errorf("--notify: unknown channel %q (want slack, email)", c)
		}
		if !contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// check validates the flags before any cloud call, so a mistake costs
// nothing.
func (m *monitorFlags) check() error {
	chans, err := m.channels()
	if err != nil {
		return err
	}
	if m.state == "" {
		for name, set := range map[string]bool{"--notify": m.notify != "", "--notify-dry-run": m.dryRun, "--notify-initial": m.initial,
			"--notify-resolved": m.resolved, "--notify-latent": m.latent, "--report-url": m.reportURL != "", "--run-id": m.runID != "",
			"--email-to": m.emailTo != "", "--email-from": m.emailFrom != ""} {
			if set {
				return fmt.Errorf("%s needs --state (the alerts are about what changed since the last run)", name)
			}
		}
		return nil
	}
	if _, err := rules.ParseSeverity(m.minSeverity); err != nil {
		return fmt.Errorf("--notify-min-severity: %w", err)
	}
	if m.expire <= 0 {
		return fmt.Errorf("--notify-expire: want a positive duration, got %s", m.expire)
	}
	if contains(chans, "email") {
		if m.emailFrom == "" || m.emailTo == "" {
			return errors.New("--notify email needs --email-from and --email-to")
		}
		if _, err := mail.ParseAddress(m.emailFrom); err != nil {
			return fmt.Errorf("--email-from: %q is not an email address", m.emailFrom)
		}
		for _, a := range splitList(m.emailTo) {
			if _, err := mail.ParseAddress(a); err != nil {
				return fmt.Errorf("--email-to: %q is not an email address", a)
			}
		}
	} else if m.emailFrom != "" || m.emailTo != "" {
		return errors.New("--email-from and --email-to go with --notify email")
	}
	return nil
}

// monitorAWS is the AWS configuration of the monitor's own calls (state
// in S3 or DynamoDB, SES, secrets in SSM or Secrets Manager): the caller's
// credentials, with the audit's profile and endpoint, never the audited
// accounts' roles.
func monitorAWS(ctx context.Context, profile, endpoint string) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{config.WithRetryMode(aws.RetryModeAdaptive)}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	if endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(endpoint))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, fmt.Errorf("load aws configuration for the state and alerts: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return cfg, nil
}

// monitor is a prepared --state: the store and the channels, opened and
// checked before the audit runs, so that a bad location or a missing
// secret costs nothing.
type monitor struct {
	flags     *monitorFlags
	store     state.Store
	notifiers []alerts.Notifier
	log       *slog.Logger
}

// prepare opens the state and the channels; nil without --state.
func (m *monitorFlags) prepare(ctx context.Context, e *env, profile, endpoint string, log *slog.Logger) (*monitor, error) {
	if m.state == "" {
		return nil, nil
	}
	cfg, err := monitorAWS(ctx, profile, endpoint)
	if err != nil {
		return nil, err
	}
	st, err := state.Open(ctx, m.state, cfg)
	if err != nil {
		return nil, fmt.Errorf("--state: %w", err)
	}
	notifiers, err := m.notifiers(ctx, e, cfg, log)
	if err != nil {
		return nil, err
	}
	return &monitor{flags: m, store: st, notifiers: notifiers, log: log}, nil
}

// track diffs the document against the state and sends the alerts. What
// failed (the state, a channel) is printed and recorded in the document's
// errors (stages state and notify); it never changes the exit code's
// meaning, and what was not delivered is retried by the next run. It
// returns what Track did (nil when it could do nothing), for Security Hub.
func (mon *monitor) track(ctx context.Context, e *env, doc *reports.Document) *audit.TrackResult {
	m := mon.flags
	minSev, _ := rules.ParseSeverity(m.minSeverity) // checked by check
	res, err := audit.Track(ctx, doc, audit.TrackOptions{
		Store: mon.store, Notifiers: mon.notifiers, DryRun: m.dryRun, ReportURL: m.reportURL, RunID: m.runID, Logger: mon.log,
		Policy: audit.Policy{MinSeverity: minSev, Latent: m.latent, Initial: m.initial, ListResolved: m.resolved, Expire: m.expire},
	})
	if res != nil {
		for _, x := range res.Errors {
			fmt.Fprintf(e.stderr, "portcullis: %s\n", sanitize(x.Error()))
		}
		if c := res.Changes; c != nil {
			fmt.Fprintf(e.stderr, "portcullis: %s\n", changesLine(c, res, m))
		}
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "portcullis: %s\n", sanitize(err.Error()))
		doc.Errors = append(doc.Errors, exposure.Error{Stage: "state", Message: err.Error()})
		doc.Summary.Errors = len(doc.Errors)
	}
	return res
}

// changesLine is the one-line summary of the monitor's work on stderr.
func changesLine(c *reports.Changes, res *audit.TrackResult, m *monitorFlags) string {
	if c.Initial {
		return "state: baseline established (the next run reports what changed)"
	}
	n := c.Counts
	s := fmt.Sprintf("state: since the last run %d new, %d widened, %d reopened, %d narrowed, %d resolved", n.New, n.Widened, n.Reopened, n.Narrowed, n.Resolved)
	if len(c.Skipped) > 0 {
		s += fmt.Sprintf("; %d scope(s) not diffed (collection failed)", len(c.Skipped))
	}
	if m.notify != "" || m.dryRun {
		verb := "sent"
		if m.dryRun {
			verb = "printed"
		}
		s += fmt.Sprintf("; %d message(s) %s", res.Delivered, verb)
		if f := res.Messages - res.Delivered; f > 0 {
			s += fmt.Sprintf(", %d not delivered (retried next run)", f)
		}
	}
	return s
}

// notifiers builds the channels of --notify; with --notify-dry-run one
// printer stands for all of them.
func (m *monitorFlags) notifiers(ctx context.Context, e *env, cfg aws.Config, log *slog.Logger) ([]alerts.Notifier, error) {
	chans, _ := m.channels()
	if m.dryRun {
		return []alerts.Notifier{alerts.NewDryRun(e.stdout, strings.Join(chans, ", "))}, nil
	}
	var out []alerts.Notifier
	for _, c := range chans {
		switch c {
		case "slack":
			url, ok, err := secret.Lookup(ctx, e.getenv, alerts.EnvSlackWebhookURL, cfg)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, fmt.Errorf("--notify slack: set %s to the incoming webhook URL (or ssm:/name, secretsmanager:id)", alerts.EnvSlackWebhookURL)
			}
			s, err := alerts.NewSlack(url, alerts.SlackOptions{Logger: log})
			if err != nil {
				return nil, fmt.Errorf("--notify slack: %w", err)
			}
			out = append(out, s)
		case "email":
			var t alerts.Transport
			smtpURL, ok, err := secret.Lookup(ctx, e.getenv, alerts.EnvSMTPURL, cfg)
			if err != nil {
				return nil, err
			}
			if ok {
				if t, err = alerts.NewSMTP(smtpURL, alerts.SMTPOptions{}); err != nil {
					return nil, fmt.Errorf("--notify email: %w", err)
				}
			} else {
				t = alerts.NewSES(cfg)
			}
			em, err := alerts.NewEmail(t, m.emailFrom, splitList(m.emailTo), alerts.EmailOptions{})
			if err != nil {
				return nil, fmt.Errorf("--notify email: %w", err)
			}
			out = append(out, em)
		}
	}
	return out, nil
}
