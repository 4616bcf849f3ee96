package stages

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/portcullis-sec/portcullis/functions/internal/stages/notify"
	"github.com/portcullis-sec/portcullis/internal/mototest"
)

// cloudTrailEvent is an EventBridge event carrying a CloudTrail
// management event, as the rule delivers it.
func cloudTrailEvent(id, account, region, source, name, errorCode string, at time.Time) string {
	detail := map[string]any{
		"eventVersion": "1.09",
		"userIdentity": map[string]any{"type": "AssumedRole", "arn": "arn:aws:sts::" + account + ":assumed-role/terraform/ci-" + id, "accountId": account},
		"eventTime":    at.UTC().Format(time.RFC3339), "eventSource": source, "eventName": name, "awsRegion": region,
		"sourceIPAddress": "203.0.113.9", "userAgent": "APN/1.0 HashiCorp/1.0 Terraform/1.9.8",
		"eventID": "ct-" + id, "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": account,
	}
	if errorCode != "" {
		detail["errorCode"] = errorCode
	}
	b, _ := json.Marshal(map[string]any{
		"version": "0", "id": "eb-" + id, "detail-type": "AWS API Call via CloudTrail", "source": "aws." + strings.TrimSuffix(source, ".amazonaws.com"),
		"account": account, "time": at.UTC().Format(time.RFC3339), "region": region, "resources": []string{}, "detail": detail,
	})
	return string(b)
}

func sqsBatch(bodies []string) json.RawMessage {
	var ev events.SQSEvent
	for i, b := range bodies {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprintf("m-%03d", i), Body: b, EventSource: "aws:sqs", AWSRegion: "us-east-1"})
	}
	raw, _ := json.Marshal(ev)
	return raw
}

// TestReact: on a moto estate with two audited regions, a burst of 100
// events in 10 s (one SQS batch) re-audits the one region they changed
// once, sends one Slack message and one email naming the actor, and
// leaves the other region's baseline as it was. The figures (event to
// Slack, re-audits per burst) are logged, not asserted.
func TestReact(t *testing.T) {
	ctx := lambdaCtx(t)
	var logs bytes.Buffer
	b := newBase(t, "react", &logs)
	a, other := newEstate(t, b, "ap-southeast-2"), newEstate(t, b, "ca-central-1")
	sink := newSlackSink(t)
	const from = "alerts-react@example.com"
	env := notifyEnv(t, b, sink, from)
	env[EnvMemberRoleName] = "PortcullisAudit"

	// The scheduled runs establish both regions' baselines.
	n := newNotifyForTest(t, b, env)
	for _, e := range []*estate{a, other} {
		run := "sched-" + e.region
		e.report(ctx, run)
		if _, err := n.Handle(ctx, notify.NotifyInput{RunID: run}); err != nil {
			t.Fatal(err)
		}
	}
	otherKey := "state/aws/" + mototest.Account + "/ca-central-1.json"
	otherBefore, err := b.Store.Get(ctx, otherKey)
	if err != nil {
		t.Fatal(err)
	}
	posts0, mails0 := sink.count(), len(sesSent(t, from))

	r, err := NewReact(b, envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	r.SlackOptions.Interval = time.Millisecond

	// A Terraform apply: telnet opened on a new host, and 99 more calls
	// over 10 s, some of them failed or not exposure-changing.
	a.launch(23)
	t0 := time.Date(2026, 12, 1, 10, 2, 0, 0, time.UTC)
	var bodies []string
	names := []string{"AuthorizeSecurityGroupIngress", "RunInstances", "CreateRoute", "AssociateRouteTable", "ModifyNetworkInterfaceAttribute"}
	for i := range 100 {
		at := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		id := fmt.Sprintf("%03d", i)
		switch i % 25 {
		case 24:
			bodies = append(bodies, cloudTrailEvent(id, mototest.Account, a.region, "ec2.amazonaws.com", "CreateTags", "", at))
		case 23:
			bodies = append(bodies, cloudTrailEvent(id, mototest.Account, a.region, "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", "Client.UnauthorizedOperation", at))
		default:
			bodies = append(bodies, cloudTrailEvent(id, mototest.Account, a.region, "ec2.amazonaws.com", names[i%len(names)], "", at))
		}
	}
	bodies = append(bodies, bodies[0]) // SQS delivers at least once
	start := time.Now()
	out, err := r.Handle(ctx, sqsBatch(bodies))
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if out.Events != 101 || out.Reaudits != 1 || out.Ignored != 8 || out.Messages != 1 || out.Delivered != 1 || out.Failed != 0 || len(out.BatchItemFailures) != 0 {
		t.Errorf("burst output %+v", out)
	}
	posts := sink.since(posts0)
	if len(posts) != 1 {
		t.Fatalf("burst: %d slack posts, want 1: %v", len(posts), posts)
	}
	if !strings.Contains(posts[0], ":23/tcp") || !strings.Contains(posts[0], "NEW · critical") ||
		!strings.Contains(posts[0], "opened by arn:aws:sts::"+mototest.Account+":assumed-role/terraform/ci-000") ||
		!strings.Contains(posts[0], "92 calls: AuthorizeSecurityGroupIngress, RunInstances, CreateRoute, …") ||
		!strings.Contains(posts[0], "between 2026-12-01 10:02 and 10:02 UTC") && !strings.Contains(posts[0], "at 2026-12-01 10:02 UTC") {
		t.Errorf("burst message lacks the exposure or the actor: %s", posts[0])
	}
	if m := sesSent(t, from)[mails0:]; len(m) != 1 || !strings.Contains(m[0], "opened by arn:aws:sts::") {
		t.Errorf("burst: %d emails", len(m))
	}
	sink.mu.Lock()
	toSlack := sink.received[len(sink.received)-1].Sub(start)
	sink.mu.Unlock()
	t.Logf("burst of 100 events (10 s of event time, one SQS batch, 1 duplicate): %d re-audit(s) of %d scope(s); handler %s, event batch to Slack %s",
		out.Reaudits, 1, elapsed.Round(time.Millisecond), toSlack.Round(time.Millisecond))

	// The other region's baseline was not touched, nor its report.
	otherAfter, err := b.Store.Get(ctx, otherKey)
	if err != nil || !bytes.Equal(otherBefore, otherAfter) {
		t.Errorf("the baseline of ca-central-1 changed (%v)", err)
	}
	if len(out.RunIDs) != 1 || !strings.HasPrefix(out.RunIDs[0], "react-"+mototest.Account+"-ap-southeast-2-") {
		t.Fatalf("run IDs %v", out.RunIDs)
	}
	js, err := b.Store.Get(ctx, "runs/"+out.RunIDs[0]+"/report.json")
	if err != nil || bytes.Contains(js, []byte("ca-central-1")) {
		t.Errorf("the re-audit's report covers more than its region (%v)", err)
	}

	// One event invoked directly (no queue): same path, one message.
	a.launch(445)
	one := cloudTrailEvent("direct", mototest.Account, a.region, "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", "", t0.Add(time.Hour))
	start = time.Now()
	out, err = r.Handle(ctx, json.RawMessage(one))
	if err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	toSlack = sink.received[len(sink.received)-1].Sub(start)
	sink.mu.Unlock()
	if out.Reaudits != 1 || out.Messages != 1 || sink.count() != posts0+2 {
		t.Errorf("direct event: %+v, %d posts", out, sink.count()-posts0)
	}
	if p := sink.since(posts0 + 1); len(p) != 1 || !strings.Contains(p[0], ":445/tcp") || !strings.Contains(p[0], "(AuthorizeSecurityGroupIngress) from 203.0.113.9 (APN/1.0 HashiCorp/1.0 Terraform/1.9.8) at 2026-12-01 11:02 UTC") {
		t.Errorf("direct event message: %v", p)
	}
	t.Logf("one event invoked directly: event to Slack %s", toSlack.Round(time.Millisecond))

	// Nothing exposure-changing: no re-audit at all.
	out, err = r.Handle(ctx, sqsBatch([]string{cloudTrailEvent("tags", mototest.Account, a.region, "ec2.amazonaws.com", "CreateTags", "", t0)}))
	if err != nil || out.Reaudits != 0 || out.Ignored != 1 {
		t.Errorf("tag-only batch: %+v, %v", out, err)
	}
	// An unreadable message is dropped (a retry cannot fix it) and the
	// rest of the batch goes on.
	out, err = r.Handle(ctx, sqsBatch([]string{`{"not":"an event"}`}))
	if err != nil || out.Ignored != 1 || len(out.BatchItemFailures) != 0 {
		t.Errorf("unreadable message: %+v, %v", out, err)
	}
	if strings.Contains(logs.String(), sink.path) {
		t.Error("the webhook URL was logged")
	}
}

// TestReactFailureReturnsMessages: a scope whose re-audit cannot be
// delivered returns its messages to the queue (batch item failures), so
// the queue retries them and its dead-letter queue keeps what never
// succeeds.
func TestReactFailureReturnsMessages(t *testing.T) {
	ctx := lambdaCtx(t)
	b := newBase(t, "react-failure", nil)
	e := newEstate(t, b, "sa-east-1")
	sink := newSlackSink(t)
	env := notifyEnv(t, b, sink, "alerts-react-failure@example.com")
	env[EnvMemberRoleName] = "PortcullisAudit"
	r, err := NewReact(b, envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	r.SlackOptions.Interval = time.Millisecond
	e.report(ctx, "sched-1")
	if _, err := newNotifyForTest(t, b, env).Handle(ctx, notify.NotifyInput{RunID: "sched-1"}); err != nil {
		t.Fatal(err)
	}
	posts0 := sink.count()
	e.launch(23)
	sink.setStatus(500)
	at := time.Date(2026, 12, 1, 10, 2, 0, 0, time.UTC)
	out, err := r.Handle(ctx, sqsBatch([]string{
		cloudTrailEvent("f1", mototest.Account, e.region, "ec2.amazonaws.com", "CreateRoute", "", at),
		cloudTrailEvent("f2", mototest.Account, e.region, "elasticloadbalancing.amazonaws.com", "CreateListener", "", at),
	}))
	if err != nil {
		t.Fatal(err)
	}
	if out.Failed != 1 || len(out.BatchItemFailures) != 2 || out.BatchItemFailures[0].ItemIdentifier != "m-000" || out.BatchItemFailures[1].ItemIdentifier != "m-001" {
		t.Errorf("output %+v", out)
	}
	// The retry delivers once.
	sink.setStatus(200)
	out, err = r.Handle(ctx, sqsBatch([]string{cloudTrailEvent("f1", mototest.Account, e.region, "ec2.amazonaws.com", "CreateRoute", "", at)}))
	if err != nil || out.Failed != 0 || len(out.BatchItemFailures) != 0 || sink.count() != posts0+1 || !strings.Contains(sink.since(posts0)[0], ":23/tcp") {
		t.Errorf("retry: %+v, %v, %d posts", out, err, sink.count()-posts0)
	}
}
