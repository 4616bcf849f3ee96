package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/portcullis-sec/portcullis/internal/mototest"
)

// TestAuditEvent: `portcullis audit --event FILE` audits the event's
// account-region only and the alert names the event's actor.
func TestAuditEvent(t *testing.T) {
	const region = "ap-northeast-1"
	cfg := mototest.Config(motoURL)
	cfg.Region = region
	c := ec2.NewFromConfig(cfg)
	publicInstance(t, c, region, "10.71.0.0/16", "web")

	dir := t.TempDir()
	event := func(account, region string) string {
		b, err := os.ReadFile("../../providers/aws/testdata/events/authorize-ingress.json")
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(string(b), "111122223333", account)
		s = strings.ReplaceAll(s, "eu-west-1", region)
		p := filepath.Join(dir, account+"-"+region+".json")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	slack := newSlackSink(t)
	vars := map[string]string{"PORTCULLIS_SLACK_WEBHOOK_URL": slack.URL + slackSecretPath}
	audit := func(args ...string) (int, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		e := &env{stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return vars[k] }}
		code := run(context.Background(), append([]string{"audit", "--aws-endpoint", motoURL, "--no-probe", "--format", "json",
			"--output", filepath.Join(dir, "report.json")}, args...), e)
		return code, stderr.String()
	}
	state := filepath.Join(dir, "state")
	ev := event(mototest.Account, region)
	if code, stderr := audit("--event", ev, "--state", state, "--notify", "slack"); code == exitError {
		t.Fatalf("first --event run: exit %d\n%s", code, stderr)
	}
	if m := slack.take(); len(m) != 1 || !strings.Contains(m[0], "Baseline established") {
		t.Fatalf("first run: %v", m)
	}
	rep, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil || !bytes.Contains(rep, []byte(`"regions": [
      "`+region+`"
    ]`)) {
		t.Errorf("the report does not cover only %s: %v\n%.600s", region, err, rep)
	}

	publicInstance(t, c, region, "10.72.0.0/16", "db")
	code, stderr := audit("--event", ev, "--state", state, "--notify", "slack")
	if code == exitError {
		t.Fatalf("second --event run: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "event AuthorizeSecurityGroupIngress 2026-12-01 10:02:39Z in aws "+mototest.Account+" "+region+" by arn:aws:sts::444455556666:assumed-role/PlatformAdmin/alice") {
		t.Errorf("stderr does not say what the event is: %s", stderr)
	}
	m := slack.take()
	if len(m) != 1 || !strings.Contains(m[0], "NEW · high") ||
		!strings.Contains(m[0], "opened by arn:aws:sts::444455556666:assumed-role/PlatformAdmin/alice (AuthorizeSecurityGroupIngress) from 198.51.100.7") {
		t.Errorf("second run: %v", m)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"other region", []string{"--event", ev, "--regions", "eu-west-1"}, "--regions eu-west-1 says otherwise"},
		{"snapshot", []string{"--event", ev, "--snapshot", dir}, "give one or the other"},
		{"other account", []string{"--event", event("111122223333", region)}, "the credentials audited " + mototest.Account},
		{"role of another account", []string{"--event", ev, "--role-arn", "arn:aws:iam::111122223333:role/x"}, "a role of another account"},
		{"missing file", []string{"--event", filepath.Join(dir, "absent.json")}, "--event:"},
		{"not an event", []string{"--event", filepath.Join(dir, "report.json")}, "not a CloudTrail management event"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stderr := audit(tc.args...)
			if code != exitError || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %s; want exit 2 and %q", code, stderr, tc.want)
			}
		})
	}
}
