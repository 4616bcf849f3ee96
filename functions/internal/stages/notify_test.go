package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/portcullis-sec/portcullis/functions/internal/runstore"
	"github.com/portcullis-sec/portcullis/functions/internal/stages/notify"
	"github.com/portcullis-sec/portcullis/internal/mototest"
	"github.com/portcullis-sec/portcullis/reports"
)

// slackSink is an incoming webhook on loopback: it records every post and
// answers with status (200 unless a test sets it).
type slackSink struct {
	srv *httptest.Server
	// path is the webhook's secret part: it must appear in no log line.
	path string

	mu       sync.Mutex
	status   int
	posts    []string // bodies answered 200
	refused  int      // posts answered otherwise
	received []time.Time
}

func newSlackSink(t *testing.T) *slackSink {
	t.Helper()
	s := &slackSink{path: "/services/T0PLANTED/B0PLANTED/webhook-secret-xyzzy-42", status: http.StatusOK}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.URL.Path != s.path || r.Method != http.MethodPost {
			http.Error(w, "no such webhook", http.StatusNotFound)
			return
		}
		if s.status != http.StatusOK {
			s.refused++
			http.Error(w, "internal_error", s.status)
			return
		}
		s.posts = append(s.posts, string(b))
		s.received = append(s.received, time.Now())
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *slackSink) URL() string { return s.srv.URL + s.path }

func (s *slackSink) setStatus(code int) {
	s.mu.Lock()
	s.status = code
	s.mu.Unlock()
}

// since returns the posts received after the first n.
func (s *slackSink) since(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.posts[n:]...)
}

func (s *slackSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.posts)
}

// sesSent is what moto's SES backend recorded as sent from source (its
// model dump, /moto-api/data.json).
func sesSent(t *testing.T, source string) []string {
	t.Helper()
	resp, err := http.Get(os.Getenv("AWS_ENDPOINT_URL") + "/moto-api/data.json") //nolint:gosec // G704: the loopback moto_server mototest.Main started
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		SES struct {
			RawMessage []struct {
				Source  string `json:"source"`
				RawData string `json:"raw_data"`
			}
		} `json:"ses"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range d.SES.RawMessage {
		if m.Source == source {
			out = append(out, m.RawData)
		}
	}
	return out
}

// estate is one moto account-region audited by the real stages.
type estate struct {
	t      *testing.T
	b      *Base
	region string
	sg     string
	ec2    *ec2.Client
}

func newEstate(t *testing.T, b *Base, region string) *estate {
	return &estate{t: t, b: b, region: region, sg: seedRegion(t, b.AWS, region),
		ec2: ec2.NewFromConfig(b.AWS, func(o *ec2.Options) { o.Region = region })}
}

// launch starts an instance in the estate's subnet behind a new group
// that admits port from anywhere: a new exposure (exposure.Key has no
// ports, so opening a port on the existing host widens that one).
func (e *estate) launch(port int32) {
	e.t.Helper()
	ctx := context.Background()
	must := func(err error) {
		e.t.Helper()
		if err != nil {
			e.t.Fatal(err)
		}
	}
	sgs, err := e.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{e.sg}})
	must(err)
	vpc := sgs.SecurityGroups[0].VpcId
	sns, err := e.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{aws.ToString(vpc)}}}})
	must(err)
	g, err := e.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{VpcId: vpc, GroupName: aws.String(fmt.Sprintf("port-%d", port)), Description: aws.String("test")})
	must(err)
	_, err = e.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: g.GroupId,
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(port), ToPort: aws.Int32(port),
			IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}})
	must(err)
	_, err = e.ec2.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-12c6146b"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), InstanceType: ec2types.InstanceTypeT3Micro,
		NetworkInterfaces: []ec2types.InstanceNetworkInterfaceSpecification{{
			DeviceIndex: aws.Int32(0), SubnetId: sns.Subnets[0].SubnetId, Groups: []string{aws.ToString(g.GroupId)}, AssociatePublicIpAddress: aws.Bool(true)}},
	})
	must(err)
}

// report runs collect and report for the estate as the state machine
// does, leaving runs/<run>/report.json.
func (e *estate) report(ctx context.Context, run string) {
	e.t.Helper()
	c, err := NewCollect(e.b, envOf(map[string]string{EnvMemberRoleName: "PortcullisAudit"}))
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := c.Handle(ctx, CollectInput{RunID: run, Item: runstore.Item{Provider: "aws", Account: mototest.Account, Region: e.region}}); err != nil {
		e.t.Fatal(err)
	}
	if err := e.b.Store.PutJSON(ctx, runstore.Key(run, runstore.PlanFile),
		[]runstore.Item{{Provider: "aws", Account: mototest.Account, Region: e.region}}); err != nil {
		e.t.Fatal(err)
	}
	r, err := NewReport(e.b, envOf(nil))
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := r.Handle(ctx, ReportInput{RunID: run, Probe: &ProbeState{Skipped: true}}); err != nil {
		e.t.Fatal(err)
	}
}

// notifyEnv is a notify function's environment: Slack through a secret
// holding the sink's URL, email through SES from a verified identity.
func notifyEnv(t *testing.T, b *Base, sink *slackSink, from string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out, err := secretsmanager.NewFromConfig(b.AWS).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("portcullis/slack-" + b.Store.Bucket()), SecretString: aws.String(sink.URL())})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sesv2.NewFromConfig(b.AWS).CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(from)}); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		notify.EnvSlackWebhookSecret: aws.ToString(out.ARN),
		notify.EnvEmailFrom:          "Portcullis <" + from + ">",
		notify.EnvEmailTo:            "oncall@example.com, sec@example.com",
		notify.EnvReportURLTemplate:  "https://console.example.com/s3/object/{bucket}?prefix={htmlKey}",
	}
}

func newNotifyForTest(t *testing.T, b *Base, env map[string]string) *notify.Notify {
	t.Helper()
	n, err := notify.NewNotify(b, envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	n.SlackOptions.Interval = time.Millisecond // pacing is alerts' own test
	return n
}

// TestNotify runs the pipeline's stages over consecutive runs of one moto
// estate, with the state in S3 (the default: the runs bucket under
// state/) and in DynamoDB, and checks exactly which messages reach the
// Slack sink and SES.
func TestNotify(t *testing.T) {
	for _, backend := range []string{"s3", "dynamodb"} {
		t.Run(backend, func(t *testing.T) {
			ctx := lambdaCtx(t)
			var logs bytes.Buffer
			b := newBase(t, "notify-"+backend, &logs)
			region := map[string]string{"s3": "eu-west-2", "dynamodb": "eu-south-1"}[backend]
			e := newEstate(t, b, region)
			sink := newSlackSink(t)
			from := "alerts-" + backend + "@example.com"
			env := notifyEnv(t, b, sink, from)
			if backend == "dynamodb" {
				table := "portcullis-state-test"
				if _, err := dynamodb.NewFromConfig(b.AWS).CreateTable(ctx, &dynamodb.CreateTableInput{
					TableName:            aws.String(table),
					AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
					KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
					BillingMode:          ddbtypes.BillingModePayPerRequest,
				}); err != nil {
					t.Fatal(err)
				}
				env[notify.EnvStateURL] = "dynamodb://" + table
			}
			n := newNotifyForTest(t, b, env)
			mails := func() int { return len(sesSent(t, from)) }

			// Run 1: an empty state. The baseline is established and one
			// "baseline established" summary goes out per channel.
			e.report(ctx, "run-1")
			out, err := n.Handle(ctx, notify.NotifyInput{RunID: "run-1"})
			if err != nil {
				t.Fatal(err)
			}
			if !out.Initial || out.Messages != 1 || out.Delivered != 1 || out.Errors != 0 || out.ChangesKey != "runs/run-1/changes.json" {
				t.Errorf("run 1 output %+v", out)
			}
			if got := sink.since(0); len(got) != 1 || !strings.Contains(got[0], "Baseline established") {
				t.Fatalf("run 1 slack posts %d: %v", len(got), got)
			}
			if m := mails(); m != 1 {
				t.Fatalf("run 1: %d emails, want the baseline summary", m)
			}
			switch backend {
			case "s3":
				obj, err := b.Store.Get(ctx, "state/aws/"+mototest.Account+"/"+region+".json")
				if err != nil {
					t.Fatalf("no baseline under state/ in the runs bucket: %v", err)
				}
				if bytes.Contains(obj, []byte(sink.path)) {
					t.Error("the state holds the webhook URL")
				}
			case "dynamodb":
				scan, err := dynamodb.NewFromConfig(b.AWS).Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("portcullis-state-test")})
				if err != nil {
					t.Fatalf("dynamodb state: scan: %v", err)
				}
				if scan.Count != 1 {
					t.Fatalf("dynamodb state: %d items, want 1", scan.Count)
				}
				if keys := objectsUnder(ctx, t, b, "state/"); len(keys) != 0 {
					t.Errorf("dynamodb state, yet objects under state/: %v", keys)
				}
			}

			// Run 2: nothing changed, nothing is sent.
			e.report(ctx, "run-2")
			if out, err := n.Handle(ctx, notify.NotifyInput{RunID: "run-2"}); err != nil || out.Messages != 0 || out.Initial {
				t.Fatalf("run 2 (unchanged): %+v, %v", out, err)
			}
			if sink.count() != 1 || mails() != 1 {
				t.Fatalf("run 2 (unchanged) sent: %d slack, %d email", sink.count(), mails())
			}

			// Run 3: telnet opened to the world, a new critical exposure:
			// exactly one Slack message and one email.
			e.launch(23)
			e.report(ctx, "run-3")
			out, err = n.Handle(ctx, notify.NotifyInput{RunID: "run-3"})
			if err != nil {
				t.Fatal(err)
			}
			if out.Counts.New != 1 || out.Messages != 1 || out.Delivered != 1 {
				t.Errorf("run 3 output %+v", out)
			}
			posts := sink.since(1)
			if len(posts) != 1 || !strings.Contains(posts[0], "NEW · critical") || !strings.Contains(posts[0], ":23/tcp") || !strings.Contains(posts[0], "PORT-TELNET") {
				t.Fatalf("run 3 slack posts: %v", posts)
			}
			if !strings.Contains(posts[0], "https://console.example.com/s3/object/notify-"+backend+"?prefix=runs/run-3/report.html") {
				t.Errorf("run 3 message lacks the report link: %s", posts[0])
			}
			sent := sesSent(t, from)
			if len(sent) != 2 || !strings.Contains(sent[1], "Subject: [Portcullis] 1 new exposure in aws "+mototest.Account+" (1 critical)") ||
				!strings.Contains(sent[1], "<oncall@example.com>") || !strings.Contains(sent[1], "<sec@example.com>") {
				t.Fatalf("run 3: %d emails; last %.400s", len(sent), sent[len(sent)-1])
			}
			js, err := b.Store.Get(ctx, out.ChangesKey)
			if err != nil {
				t.Fatal(err)
			}
			var ch reports.Changes
			if err := json.Unmarshal(js, &ch); err != nil || ch.Counts.New != 1 || len(ch.Items) == 0 || ch.Items[0].Kind != "new" || ch.Items[0].Ports != "23" {
				t.Errorf("changes.json: %v: counts %+v, items %+v", err, ch.Counts, ch.Items)
			}
			// The report is the report stage's: notify does not rewrite it.
			if rep, _ := b.Store.Get(ctx, runstore.Key("run-3", runstore.ReportJSON)); bytes.Contains(rep, []byte(`"changes"`)) {
				t.Error("notify rewrote report.json")
			}

			// Run 4: SMB opened while Slack answers 500. Email goes out;
			// Slack's alert stays pending and the invocation fails.
			e.launch(445)
			e.report(ctx, "run-4")
			sink.setStatus(http.StatusInternalServerError)
			out, err = n.Handle(ctx, notify.NotifyInput{RunID: "run-4"})
			if !errors.Is(err, notify.ErrNotDelivered) || !strings.Contains(err.Error(), "HTTP 500") {
				t.Fatalf("run 4 with slack failing: error %v", err)
			}
			if out.Messages != 1 || out.Delivered != 0 || out.Errors == 0 || out.Counts.New != 1 {
				t.Errorf("run 4 output %+v", out)
			}
			if sink.count() != 2 || mails() != 3 {
				t.Fatalf("run 4: %d slack posts accepted, %d emails; want 2 and 3", sink.count(), mails())
			}
			if _, err := b.Store.Get(ctx, runstore.Key("run-4", notify.ChangesFile)); err != nil {
				t.Errorf("a failed delivery left no changes.json: %v", err)
			}

			// Run 5: nothing changed and Slack is back: the pending alert
			// is delivered once, to Slack only (email already has it).
			sink.setStatus(http.StatusOK)
			e.report(ctx, "run-5")
			out, err = n.Handle(ctx, notify.NotifyInput{RunID: "run-5"})
			if err != nil {
				t.Fatal(err)
			}
			posts = sink.since(2)
			if len(posts) != 1 || !strings.Contains(posts[0], ":445/tcp") || strings.Contains(posts[0], ":23/tcp") {
				t.Fatalf("run 5 slack posts: %v", posts)
			}
			if mails() != 3 {
				t.Errorf("run 5 sent the email again: %d emails", mails())
			}
			// Run 6: delivered means delivered: nothing more.
			e.report(ctx, "run-6")
			if out, err := n.Handle(ctx, notify.NotifyInput{RunID: "run-6"}); err != nil || out.Messages != 0 {
				t.Fatalf("run 6: %+v, %v", out, err)
			}
			if sink.count() != 3 || mails() != 3 {
				t.Errorf("run 6 sent again: %d slack, %d email", sink.count(), mails())
			}
			if strings.Contains(logs.String(), sink.path) || strings.Contains(logs.String(), "xyzzy") {
				t.Error("the webhook URL was logged")
			}
			if !strings.Contains(logs.String(), `"stage":"notify"`) {
				t.Errorf("no notify log lines: %s", logs.String())
			}
		})
	}
}

func objectsUnder(ctx context.Context, t *testing.T, b *Base, prefix string) []string {
	t.Helper()
	out, err := s3.NewFromConfig(b.AWS, func(o *s3.Options) { o.UsePathStyle = true }).ListObjectsV2(ctx,
		&s3.ListObjectsV2Input{Bucket: aws.String(b.Store.Bucket()), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

// TestNotifyStateMatchesHandler: the Notify state passes what NotifyInput
// reads and selects only what NotifyOutput always returns.
func TestNotifyStateMatchesHandler(t *testing.T) {
	b, err := os.ReadFile("../../../infra/statemachine.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	var def struct {
		States map[string]struct {
			ResultSelector map[string]string
			Parameters     struct{ Payload map[string]string }
		}
	}
	if err := json.Unmarshal(b, &def); err != nil {
		t.Fatal(err)
	}
	st := def.States["Notify"]
	out, in, report := jsonFields(notify.NotifyOutput{}), jsonFields(notify.NotifyInput{}), jsonFields(ReportOutput{})
	if len(st.ResultSelector) == 0 || len(st.Parameters.Payload) == 0 {
		t.Fatal("no Notify task state")
	}
	for k, path := range st.ResultSelector {
		if f, ok := strings.CutPrefix(path, "$.Payload."); !ok || !out[f] {
			t.Errorf("Notify selects %s = %s, which NotifyOutput does not return", k, path)
		}
	}
	for k, path := range st.Parameters.Payload {
		if !in[strings.TrimSuffix(k, ".$")] {
			t.Errorf("Notify passes %s, which NotifyInput does not read", k)
		}
		// Report's output is Notify's input.
		if f, ok := strings.CutPrefix(path, "$."); !ok || !report[f] {
			t.Errorf("Notify reads %s, which Report's output does not hold", path)
		}
	}
}
