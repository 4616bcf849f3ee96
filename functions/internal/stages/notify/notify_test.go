package notify

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-sec/portcullis/functions/internal/runstore"
	"github.com/portcullis-sec/portcullis/functions/internal/stages/stagetest"
	"github.com/portcullis-sec/portcullis/internal/mototest"
)

// The tests of notify through the whole pipeline (collect, report, notify
// over consecutive runs) are in package stages, which runs every stage;
// these check the configuration alone.

func TestMain(m *testing.M) { os.Exit(mototest.Main(m, true, nil)) }

// envOf is the environment of a function under test.
// The shared test helpers, under this package's old names.
var (
	envOf     = stagetest.Env
	newBase   = stagetest.NewBase
	lambdaCtx = stagetest.LambdaCtx
)

func TestNotifyRejects(t *testing.T) {
	b := newBase(t, "notify-rejects", nil)
	for _, env := range []map[string]string{
		{EnvStateURL: "/tmp/state"},
		{EnvStateURL: "file:///tmp/state"},
		{EnvSlackWebhookSecret: "https://hooks.slack.com/services/T/B/planted"},
		{EnvEmailFrom: "alerts@example.com"},
		{EnvEmailTo: "oncall@example.com"},
		{EnvEmailFrom: "not an address", EnvEmailTo: "oncall@example.com"},
		{EnvSMTPURLSecret: "portcullis/smtp"},
		{EnvNotifyMinSeverity: "urgent"},
		{EnvNotifyLatent: "maybe"},
		{EnvNotifyExpireHours: "0"},
		{EnvReportURLTemplate: "javascript:alert(1)"},
	} {
		_, err := NewNotify(b, envOf(env))
		if err == nil {
			t.Errorf("NewNotify(%v) accepted", env)
			continue
		}
		if strings.Contains(err.Error(), "planted") {
			t.Errorf("the error quotes what may be a secret: %v", err)
		}
	}
	n, err := NewNotify(b, envOf(map[string]string{EnvSlackWebhookSecret: "arn:aws:secretsmanager:us-east-1:123456789012:secret:slack-AbCdEf",
		EnvNotifyMinSeverity: "critical", EnvNotifyLatent: "true", EnvNotifyExpireHours: "24"}))
	if err != nil {
		t.Fatal(err)
	}
	if n.slackRef != "secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:slack-AbCdEf" ||
		n.stateURL != "s3://notify-rejects/state" || !n.policy.Latent || n.policy.Expire != 24*time.Hour || n.policy.MinSeverity.String() != "critical" {
		t.Errorf("configuration %+v", n.Notifying)
	}
	ctx := lambdaCtx(t)
	if _, err := n.Handle(ctx, NotifyInput{RunID: "../x"}); err == nil {
		t.Error("run id ../x accepted")
	}
	// No report: a clear error, nothing sent.
	if _, err := n.Handle(ctx, NotifyInput{RunID: "absent"}); err == nil || !strings.Contains(err.Error(), "read the report of run absent") {
		t.Errorf("missing report: %v", err)
	}
	// A secret that does not exist: the function fails, naming it.
	if err := b.Store.Put(ctx, runstore.Key("r1", runstore.ReportJSON), "application/json", []byte(`{"schemaVersion":"1.1","generatedAt":"2026-12-01T10:00:00Z","scope":{"providers":["aws"],"accounts":["123456789012"],"regions":["eu-west-1"]},"summary":{},"findings":[],"exposures":[],"errors":[]}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Handle(ctx, NotifyInput{RunID: "r1"}); err == nil || !strings.Contains(err.Error(), EnvSlackWebhookSecret) {
		t.Errorf("missing secret: %v", err)
	}
}
