// Package notify is the notify stage of Portcullis's serverless audit: it
// diffs a run's report against the stored baselines and sends the alerts
// (audit/track). React shares its configuration (Notifying). It imports
// neither the audit nor any provider, so the notify function links no
// cloud SDK but AWS's.
package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis-sec/portcullis/alerts"
	"github.com/portcullis-sec/portcullis/audit/track"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/functions/internal/runstore"
	"github.com/portcullis-sec/portcullis/functions/internal/stages/base"
	"github.com/portcullis-sec/portcullis/internal/secret"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/rules"
	"github.com/portcullis-sec/portcullis/state"
)

// Environment variables of the notify (and react) function.
const (
	// EnvStateURL is where the baselines live: s3://bucket/prefix or
	// dynamodb://table. Default: the runs bucket under state/.
	EnvStateURL = "STATE_URL"
	// EnvSlackWebhookSecret names the Secrets Manager secret (ARN or name)
	// holding the Slack incoming webhook URL; ssm:… and secretsmanager:…
	// references are accepted as well. Unset: no Slack.
	EnvSlackWebhookSecret = "SLACK_WEBHOOK_SECRET" //nolint:gosec // G101: the name of an environment variable, not a secret
	// EnvSMTPURLSecret names the secret holding smtp://user:pass@host:port
	// (alerts.NewSMTP). When set, email goes through SMTP instead of SES.
	EnvSMTPURLSecret = "SMTP_URL_SECRET" //nolint:gosec // G101: the name of an environment variable, not a secret
	// EnvEmailFrom is the sender (for SES a verified identity) and
	// EnvEmailTo the recipients; both or neither.
	EnvEmailFrom = "EMAIL_FROM"
	EnvEmailTo   = "EMAIL_TO"
	// EnvSESConfigurationSet optionally names the SES configuration set.
	EnvSESConfigurationSet = "SES_CONFIGURATION_SET"

	EnvNotifyMinSeverity = "NOTIFY_MIN_SEVERITY" // default high
	EnvNotifyLatent      = "NOTIFY_LATENT"
	EnvNotifyInitial     = "NOTIFY_INITIAL"
	EnvNotifyResolved    = "NOTIFY_RESOLVED"
	EnvNotifyExpireHours = "NOTIFY_EXPIRE_HOURS" // default 168 (track.DefaultExpire)
	// EnvReportURLTemplate is the link every message carries, with
	// {runId}, {bucket} and {htmlKey} replaced (e.g. an S3 console link).
	EnvReportURLTemplate = "REPORT_URL_TEMPLATE"
)

// ChangesFile is what the notify stage writes next to the report: the
// report's "changes since the last run" section (reports.Changes). The
// report itself is the report stage's, written before notify runs, and is
// not rewritten.
const ChangesFile = "changes.json"

// defaultStatePrefix is the state's prefix in the runs bucket, outside
// runs/ so that the runs' lifecycle expiry never removes a baseline.
const defaultStatePrefix = "state"

// NotifyInput is the event of the Notify stage: the Report state's output
// (only the run ID is read; the report's key follows from it).
type NotifyInput struct {
	RunID string `json:"runId"`
}

// NotifyOutput is what the state machine keeps of the Notify stage.
type NotifyOutput struct {
	RunID      string `json:"runId"`
	ChangesKey string `json:"changesKey"`
	// Counts are the report's changes by kind; Initial is set when this
	// run established the baseline.
	Counts  reports.ChangeCounts `json:"counts"`
	Initial bool                 `json:"initial"`
	// Messages were handed to the notifiers, Delivered went through every
	// channel; Errors counts the state and notify failures.
	Messages  int `json:"messages"`
	Delivered int `json:"delivered"`
	Errors    int `json:"errors"`
}

// ErrNotDelivered is returned (wrapped) when an alert could not be
// delivered or recorded: it stays pending in the state and the next run
// retries it; the state machine records the failure.
var ErrNotDelivered = errors.New("alerts not delivered")

// Notifying is the configuration of the stages that track and alert
// (notify, react). Secrets are names here; their values are read per
// invocation.
type Notifying struct {
	stateURL     string
	slackRef     string
	smtpRef      string
	emailFrom    string
	emailTo      []string
	sesConfigSet string
	policy       track.Policy
	reportURL    string
	// SlackOptions and dial are for tests (pacing, loopback sinks).
	SlackOptions alerts.SlackOptions
}

// reference turns a secret variable into an internal/secret reference: a
// bare ARN or name is a Secrets Manager secret.
func reference(key, v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	if !secret.IsReference(v) {
		if strings.Contains(v, "://") {
			// A URL where a secret's name belongs: the secret itself.
			return "", fmt.Errorf("%s holds a URL (value not shown): set it to the Secrets Manager secret that holds the URL", key)
		}
		v = secret.PrefixSecretsManager + v
	}
	if err := secret.CheckReference(v); err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	return v, nil
}

func NewNotifying(b *base.Base, env base.Env) (Notifying, error) {
	n := Notifying{
		stateURL:     strings.TrimSpace(env(EnvStateURL)),
		emailFrom:    strings.TrimSpace(env(EnvEmailFrom)),
		emailTo:      base.List(env(EnvEmailTo)),
		sesConfigSet: strings.TrimSpace(env(EnvSESConfigurationSet)),
		reportURL:    strings.TrimSpace(env(EnvReportURLTemplate)),
		policy:       track.Policy{MinSeverity: rules.High, Expire: track.DefaultExpire},
	}
	if n.stateURL == "" {
		n.stateURL = "s3://" + b.Store.Bucket() + "/" + defaultStatePrefix
	}
	if scheme, _, _ := strings.Cut(n.stateURL, "://"); scheme != "s3" && scheme != "dynamodb" {
		return n, fmt.Errorf("%s=%q: want s3://BUCKET/PREFIX or dynamodb://TABLE (a function has no lasting directory)", EnvStateURL, n.stateURL)
	}
	var err error
	if n.slackRef, err = reference(EnvSlackWebhookSecret, env(EnvSlackWebhookSecret)); err != nil {
		return n, err
	}
	if n.smtpRef, err = reference(EnvSMTPURLSecret, env(EnvSMTPURLSecret)); err != nil {
		return n, err
	}
	switch {
	case (n.emailFrom == "") != (len(n.emailTo) == 0):
		return n, fmt.Errorf("%s and %s go together: the sender and the recipients of the alerts", EnvEmailFrom, EnvEmailTo)
	case n.smtpRef != "" && n.emailFrom == "":
		return n, fmt.Errorf("%s is set without %s and %s", EnvSMTPURLSecret, EnvEmailFrom, EnvEmailTo)
	}
	if n.emailFrom != "" {
		// Checked once here rather than on every invocation.
		if _, err := alerts.NewEmail(nopTransport{}, n.emailFrom, n.emailTo, alerts.EmailOptions{}); err != nil {
			return n, err
		}
	}
	if s := strings.TrimSpace(env(EnvNotifyMinSeverity)); s != "" {
		if n.policy.MinSeverity, err = rules.ParseSeverity(s); err != nil {
			return n, fmt.Errorf("%s: %w", EnvNotifyMinSeverity, err)
		}
	}
	for key, p := range map[string]*bool{EnvNotifyLatent: &n.policy.Latent, EnvNotifyInitial: &n.policy.Initial, EnvNotifyResolved: &n.policy.ListResolved} {
		if *p, err = base.BoolVar(env, key); err != nil {
			return n, err
		}
	}
	h, err := base.IntVar(env, EnvNotifyExpireHours, int(track.DefaultExpire/time.Hour))
	if err != nil {
		return n, err
	}
	n.policy.Expire = time.Duration(h) * time.Hour
	if n.reportURL != "" {
		u, err := url.Parse(n.reportURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return n, fmt.Errorf("%s=%q: want an http(s) URL, with {runId}, {bucket} or {htmlKey} where they go", EnvReportURLTemplate, n.reportURL)
		}
	}
	return n, nil
}

type nopTransport struct{}

func (nopTransport) Send(context.Context, string, []string, []byte) error { return nil }

// channels names the configured channels, for logs.
func (n *Notifying) channels() []string {
	var c []string
	if n.slackRef != "" {
		c = append(c, "slack")
	}
	if n.emailFrom != "" {
		if n.smtpRef != "" {
			c = append(c, "email (smtp)")
		} else {
			c = append(c, "email (ses)")
		}
	}
	return c
}

// notifiers builds the channels, reading their secrets now: a rotated
// secret is picked up by the next invocation, and no secret outlives one.
// Errors name the variable and the reference, never a value.
func (n *Notifying) notifiers(ctx context.Context, b *base.Base, log *slog.Logger) ([]alerts.Notifier, error) {
	var out []alerts.Notifier
	if n.slackRef != "" {
		hook, err := secret.Fetch(ctx, n.slackRef, b.AWS)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvSlackWebhookSecret, err)
		}
		o := n.SlackOptions
		o.Logger = log
		s, err := alerts.NewSlack(hook, o)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvSlackWebhookSecret, err)
		}
		out = append(out, s)
	}
	if n.emailFrom != "" {
		var t alerts.Transport
		if n.smtpRef != "" {
			u, err := secret.Fetch(ctx, n.smtpRef, b.AWS)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", EnvSMTPURLSecret, err)
			}
			if t, err = alerts.NewSMTP(u, alerts.SMTPOptions{}); err != nil {
				return nil, fmt.Errorf("%s: %w", EnvSMTPURLSecret, err)
			}
		} else {
			ses := alerts.NewSES(b.AWS)
			ses.ConfigurationSet = n.sesConfigSet
			t = ses
		}
		e, err := alerts.NewEmail(t, n.emailFrom, n.emailTo, alerts.EmailOptions{})
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// reportLink fills the report URL template for a run.
func (n *Notifying) reportLink(bucket, run string) string {
	if n.reportURL == "" {
		return ""
	}
	return strings.NewReplacer(
		"{runId}", url.PathEscape(run),
		"{bucket}", url.PathEscape(bucket),
		"{htmlKey}", runstore.Key(run, runstore.ReportHTML),
	).Replace(n.reportURL)
}

// Track diffs doc against the state and sends what the policy selects.
// wrap, when set, wraps each notifier (react adds the event's actor).
func (n *Notifying) Track(ctx context.Context, b *base.Base, doc *reports.Document, run string, log *slog.Logger, wrap func(alerts.Notifier) alerts.Notifier) (*track.TrackResult, error) {
	st, err := openState(ctx, n.stateURL, b.AWS)
	if err != nil {
		return nil, err
	}
	ns, err := n.notifiers(ctx, b, log)
	if err != nil {
		return nil, err
	}
	if wrap != nil {
		for i := range ns {
			ns[i] = wrap(ns[i])
		}
	}
	return track.Track(ctx, doc, track.TrackOptions{
		Store: st, Notifiers: ns, Policy: n.policy,
		ReportURL: n.reportLink(b.Store.Bucket(), run), RunID: run, Logger: log,
	})
}

// Notify diffs a run's report against the stored baselines and sends the
// alerts: the last stage of the state machine.
type Notify struct {
	*base.Base
	Notifying
	securityHub bool
}

// NewNotify configures the notify stage from env.
func NewNotify(b *base.Base, env base.Env) (*Notify, error) {
	n, err := NewNotifying(b, env)
	if err != nil {
		return nil, err
	}
	sh, err := securityHubEnabled(env)
	if err != nil {
		return nil, err
	}
	return &Notify{Base: b, Notifying: n, securityHub: sh}, nil
}

// Handle reads runs/<run-id>/report.json, diffs it against the state
// (STATE_URL), sends the alerts and writes runs/<run-id>/changes.json.
// Alerts that could not be delivered stay pending in the state, and the
// invocation fails (ErrNotDelivered) once changes.json is written, so that
// the state machine records the failure; the next run delivers them.
func (n *Notify) Handle(ctx context.Context, in NotifyInput) (NotifyOutput, error) {
	if err := runstore.ValidRunID(in.RunID); err != nil {
		return NotifyOutput{}, err
	}
	log := n.InvocationLog(ctx, "runId", in.RunID, "stage", "notify")
	ctx, cancel := base.WithMargin(ctx)
	defer cancel()
	key := runstore.Key(in.RunID, runstore.ReportJSON)
	js, err := n.Store.Get(ctx, key)
	if err != nil {
		return NotifyOutput{}, fmt.Errorf("read the report of run %s: %w", in.RunID, err)
	}
	doc, err := reports.Read(bytes.NewReader(js))
	if err != nil {
		return NotifyOutput{}, fmt.Errorf("s3://%s/%s: %w", n.Store.Bucket(), key, err)
	}
	res, err := n.Track(ctx, n.Base, doc, in.RunID, log, nil)
	var shErrs []exposure.Error
	if n.securityHub {
		shErrs = syncSecurityHub(ctx, n.Base, doc, res, log)
	}
	if err != nil && res == nil {
		return NotifyOutput{}, fmt.Errorf("notify run %s: %w", in.RunID, err)
	}
	out, werr := WriteChanges(ctx, n.Base, in.RunID, res)
	if werr != nil {
		return NotifyOutput{}, werr
	}
	log.Info("notified", "channels", n.channels(), "messages", res.Messages, "delivered", res.Delivered,
		"new", out.Counts.New, "widened", out.Counts.Widened, "reopened", out.Counts.Reopened, "resolved", out.Counts.Resolved,
		"initial", out.Initial, "errors", len(res.Errors))
	if err != nil {
		return out, fmt.Errorf("notify run %s: %w", in.RunID, err)
	}
	if len(res.Errors) > 0 {
		return out, fmt.Errorf("notify run %s: %w: %s", in.RunID, ErrNotDelivered, ErrorLines(res))
	}
	if len(shErrs) > 0 {
		return out, securityHubError(in.RunID, shErrs)
	}
	return out, nil
}

// WriteChanges stores the TrackResult's changes next to the report.
func WriteChanges(ctx context.Context, b *base.Base, run string, res *track.TrackResult) (NotifyOutput, error) {
	out := NotifyOutput{RunID: run, ChangesKey: runstore.Key(run, ChangesFile), Messages: res.Messages, Delivered: res.Delivered, Errors: len(res.Errors)}
	changes := res.Changes
	if changes == nil {
		changes = &reports.Changes{Items: []reports.ChangeItem{}}
	}
	out.Counts, out.Initial = changes.Counts, changes.Initial
	if err := b.Store.PutJSON(ctx, out.ChangesKey, changes); err != nil {
		return NotifyOutput{}, err
	}
	return out, nil
}

// ErrorLines sums up a result's errors for the function's error message
// (Step Functions keeps it as the failure's cause).
func ErrorLines(res *track.TrackResult) string {
	var b strings.Builder
	for i, e := range res.Errors {
		if i == 5 {
			b.WriteString("; and " + strconv.Itoa(len(res.Errors)-5) + " more")
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Stage + " " + state.ScopeString(e.Scope) + ": " + e.Message)
	}
	return b.String()
}
