// Package infra holds the deployment templates (AWS SAM, the member-account
// role, the state machine); its tests keep them true to the code.
package infra

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/portcullis-sec/portcullis/providers/aws"
	"github.com/portcullis-sec/portcullis/securityhub"
)

// load parses a CloudFormation template. Short-form intrinsics (!Ref,
// !Sub, !If …) are YAML tags, which yaml.Node keeps on the node.
func load(t *testing.T, file string) *yaml.Node {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		t.Fatalf("%s: not one YAML document", file)
	}
	return doc.Content[0]
}

// get walks mapping keys; nil when absent.
func get(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

// items returns a sequence's elements, or the node itself for a scalar (an
// IAM Action or Resource may be either). A !If [cond, a, b] element stands
// for both branches, minus AWS::NoValue.
func items(n *yaml.Node) []*yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind != yaml.SequenceNode || n.Tag == "!If" {
		return []*yaml.Node{n}
	}
	var out []*yaml.Node
	for _, c := range n.Content {
		if c.Tag == "!If" && c.Kind == yaml.SequenceNode && len(c.Content) == 3 {
			for _, branch := range c.Content[1:] {
				if branch.Tag == "!Ref" && branch.Value == "AWS::NoValue" {
					continue
				}
				out = append(out, branch)
			}
			continue
		}
		out = append(out, c)
	}
	return out
}

func scalars(n *yaml.Node) []string {
	var out []string
	for _, c := range items(n) {
		out = append(out, c.Value)
	}
	return out
}

// statement is one IAM policy statement as written in a template.
type statement struct {
	Sid       string
	Effect    string
	Actions   []string
	Resources []*yaml.Node
	Condition *yaml.Node
}

// statements lists the inline-policy statements of an IAM role resource.
func statements(t *testing.T, tmpl *yaml.Node, role string) []statement {
	t.Helper()
	r := get(tmpl, "Resources", role)
	if r == nil || get(r, "Type").Value != "AWS::IAM::Role" {
		t.Fatalf("no AWS::IAM::Role %s", role)
	}
	var out []statement
	for _, p := range items(get(r, "Properties", "Policies")) {
		for _, s := range items(get(p, "PolicyDocument", "Statement")) {
			st := statement{Actions: scalars(get(s, "Action")), Resources: items(get(s, "Resource")), Condition: get(s, "Condition")}
			if n := get(s, "Sid"); n != nil {
				st.Sid = n.Value
			}
			if n := get(s, "Effect"); n != nil {
				st.Effect = n.Value
			}
			if get(s, "NotAction") != nil || get(s, "NotResource") != nil {
				t.Errorf("%s: NotAction/NotResource in %s: grants more than it names", role, st.Sid)
			}
			out = append(out, st)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no policy statements", role)
	}
	return out
}

func allowedActions(sts []statement) []string {
	var out []string
	for _, s := range sts {
		if s.Effect == "Allow" {
			out = append(out, s.Actions...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestMemberRoleGrantsExactlyTheCollectorsCalls(t *testing.T) {
	tmpl := load(t, "member-role.yaml")
	sts := statements(t, tmpl, "AuditRole")
	got := allowedActions(sts)
	want := slices.Clone(aws.Permissions)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("member role actions differ from providers/aws Permissions:\n got %v\nwant %v", got, want)
	}
	for _, s := range sts {
		if s.Effect != "Allow" {
			t.Errorf("statement %s: effect %s", s.Sid, s.Effect)
		}
		for _, a := range s.Actions {
			if strings.Contains(a, "*") {
				t.Errorf("wildcard action %s", a)
			}
			verb := a[strings.Index(a, ":")+1:]
			if !strings.HasPrefix(verb, "Describe") && !strings.HasPrefix(verb, "Get") && !strings.HasPrefix(verb, "List") {
				t.Errorf("action %s is not read-only", a)
			}
		}
	}

	trust := items(get(tmpl, "Resources", "AuditRole", "Properties", "AssumeRolePolicyDocument", "Statement"))
	if len(trust) != 1 {
		t.Fatalf("trust policy has %d statements, want 1", len(trust))
	}
	tr := trust[0]
	if a := get(tr, "Action"); a == nil || a.Value != "sts:AssumeRole" {
		t.Errorf("trust action %v", a)
	}
	if p := get(tr, "Principal", "AWS"); p == nil || p.Tag != "!Sub" || !strings.Contains(p.Value, "${AuditAccountId}") {
		t.Errorf("trust principal is not the audit account")
	}
	if e := get(tr, "Condition", "StringEquals", "sts:ExternalId"); e == nil || e.Tag != "!Ref" || e.Value != "ExternalId" {
		t.Error("trust policy does not require the external ID")
	}
	// Exactly the two functions that collect: the scheduled collect and
	// the react function's re-audit.
	var trusted []string
	for _, p := range items(get(tr, "Condition", "ArnEquals", "aws:PrincipalArn")) {
		trusted = append(trusted, p.Value[strings.LastIndex(p.Value, ":"):])
	}
	if !slices.Equal(trusted, []string{":role/${CollectRoleName}", ":role/${ReactRoleName}"}) {
		t.Errorf("trust policy pins %v, want the collect and react functions' roles", trusted)
	}
}

// function is an AWS::Serverless::Function of the template.
type function struct {
	logical, dir string
	props        *yaml.Node
}

func functions(t *testing.T, tmpl *yaml.Node) map[string]function {
	t.Helper()
	out := map[string]function{}
	res := get(tmpl, "Resources")
	for i := 0; i+1 < len(res.Content); i += 2 {
		r := res.Content[i+1]
		if get(r, "Type").Value != "AWS::Serverless::Function" {
			continue
		}
		props := get(r, "Properties")
		uri := get(props, "CodeUri")
		if uri == nil || !strings.HasPrefix(uri.Value, "../bin/lambda/arm64/") {
			t.Errorf("%s: CodeUri %v, want ../bin/lambda/arm64/<function> (make lambda)", res.Content[i].Value, uri)
			continue
		}
		out[res.Content[i].Value] = function{logical: res.Content[i].Value, dir: filepath.Base(uri.Value), props: props}
	}
	return out
}

func TestTemplateFunctions(t *testing.T) {
	tmpl := load(t, "template.yaml")
	if tr := get(tmpl, "Transform"); tr == nil || tr.Value != "AWS::Serverless-2016-10-31" {
		t.Fatal("not a SAM template")
	}
	g := get(tmpl, "Globals", "Function")
	if v := get(g, "Runtime"); v == nil || v.Value != "provided.al2023" {
		t.Error("Globals.Function.Runtime is not provided.al2023")
	}
	if v := get(g, "Handler"); v == nil || v.Value != "bootstrap" {
		t.Error("Globals.Function.Handler is not bootstrap")
	}
	if v := scalars(get(g, "Architectures")); !slices.Equal(v, []string{"arm64"}) {
		t.Errorf("Globals.Function.Architectures %v", v)
	}
	fns := functions(t, tmpl)
	var dirs []string
	for _, f := range fns {
		dirs = append(dirs, f.dir)
		if _, err := os.Stat(filepath.Join("..", "functions", f.dir, "main.go")); err != nil {
			t.Errorf("%s: no functions/%s/main.go", f.logical, f.dir)
		}
		if get(f.props, "VpcConfig") != nil {
			t.Errorf("%s runs in a VPC: the stages reach AWS APIs and (probe) the internet directly", f.logical)
		}
	}
	slices.Sort(dirs)
	entries, err := os.ReadDir(filepath.Join("..", "functions"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "internal" {
			want = append(want, e.Name())
		}
	}
	if !slices.Equal(dirs, want) {
		t.Errorf("template functions %v, functions/ has %v", dirs, want)
	}
	if d := get(tmpl, "Parameters", "EnableProbing", "Default"); d == nil || d.Value != "false" {
		t.Error("EnableProbing must default to false")
	}
	if v := get(fns["ProbeFunction"].props, "Environment", "Variables", "PROBE_ENABLED"); v == nil || v.Tag != "!If" {
		t.Error("the probe function's PROBE_ENABLED does not follow EnableProbing")
	}
}

func TestStateMachineDefinition(t *testing.T) {
	tmpl := load(t, "template.yaml")
	sm := get(tmpl, "Resources", "AuditStateMachine")
	if sm == nil || get(sm, "Type").Value != "AWS::Serverless::StateMachine" {
		t.Fatal("no AWS::Serverless::StateMachine AuditStateMachine")
	}
	uri := get(sm, "Properties", "DefinitionUri").Value
	b, err := os.ReadFile(uri)
	if err != nil {
		t.Fatal(err)
	}
	var def struct {
		StartAt string                     `json:"StartAt"`
		States  map[string]json.RawMessage `json:"States"`
	}
	if err := json.Unmarshal(b, &def); err != nil {
		t.Fatalf("%s: %v", uri, err)
	}

	// Every placeholder has a substitution and every function substitution
	// names a function of the template.
	subs := get(sm, "Properties", "DefinitionSubstitutions")
	fns := functions(t, tmpl)
	for _, m := range regexp.MustCompile(`\$\{(\w+)\}`).FindAllStringSubmatch(string(b), -1) {
		if get(subs, m[1]) == nil {
			t.Errorf("placeholder ${%s} has no DefinitionSubstitution", m[1])
		}
	}
	referenced := map[string]bool{}
	for i := 0; i+1 < len(subs.Content); i += 2 {
		key, v := subs.Content[i].Value, subs.Content[i+1]
		if !strings.HasSuffix(key, "FunctionArn") {
			continue
		}
		fn := strings.TrimSuffix(v.Value, ".Arn")
		if v.Tag != "!GetAtt" || fns[fn].props == nil {
			t.Errorf("substitution %s = %s %s is not a function of the template", key, v.Tag, v.Value)
		}
		if !strings.Contains(string(b), "${"+key+"}") {
			t.Errorf("function %s is never invoked by the state machine", fn)
		}
		referenced[fn] = true
	}
	for name, f := range fns {
		if !referenced[name] && get(f.props, "Events") == nil {
			t.Errorf("function %s is neither in the state machine nor triggered by an event source", name)
		}
	}

	// The flow: Plan → distributed Map (Collect) → optional Probe → Report,
	// the design's order: one report per run, written after the probes.
	type catcher struct {
		ErrorEquals []string
		ResultPath  string
		Next        string
	}
	type state struct {
		Type           string
		Next           string
		End            bool
		Default        string
		ItemReader     json.RawMessage
		ItemProcessor  struct{ ProcessorConfig struct{ Mode string } }
		ResultWriter   json.RawMessage
		Choices        []struct{ Variable, StringEquals, Next string }
		MaxConcurrency *int
		Result         json.RawMessage
		ResultPath     *string
		ResultSelector map[string]any
		Parameters     struct{ Payload map[string]any }
		Catch          []catcher
		Retry          []struct{ ErrorEquals []string }
		Error          string
		CausePath      string
	}
	st := map[string]state{}
	for name, raw := range def.States {
		var s state
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatalf("state %s: %v", name, err)
		}
		st[name] = s
	}
	if def.StartAt != "Plan" || st["Plan"].Next != "Collect" {
		t.Errorf("flow does not start Plan → Collect")
	}
	c := st["Collect"]
	if c.Type != "Map" || c.ItemProcessor.ProcessorConfig.Mode != "DISTRIBUTED" || c.ItemReader == nil || c.ResultWriter == nil || c.Next != "ProbeEnabled" {
		t.Errorf("Collect is not a distributed Map reading the plan from S3, writing results and going on to ProbeEnabled (type %s, mode %s, next %s)",
			c.Type, c.ItemProcessor.ProcessorConfig.Mode, c.Next)
	}
	// The Choice reads the flag Plan stores from the EnableProbing
	// parameter; without it the state would fail at run time.
	if v := st["Plan"].ResultSelector["probe"]; v != "${ProbeEnabled}" {
		t.Errorf("Plan stores probe = %v, want the ${ProbeEnabled} substitution", v)
	}
	pe := st["ProbeEnabled"]
	if pe.Type != "Choice" || pe.Default != "ProbeSkipped" || len(pe.Choices) != 1 ||
		pe.Choices[0].Variable != "$.plan.probe" || pe.Choices[0].StringEquals != "true" || pe.Choices[0].Next != "Probe" {
		t.Errorf("ProbeEnabled is not Choice: probe = true → Probe, else ProbeSkipped: %+v", pe)
	}
	// Report reads $.probe, so every way into it must have set $.probe:
	// the skip, the Probe result and the Probe's Catch.
	ps := st["ProbeSkipped"]
	if ps.Type != "Pass" || ps.ResultPath == nil || *ps.ResultPath != "$.probe" || ps.Result == nil || ps.Next != "Report" {
		t.Errorf("ProbeSkipped does not set $.probe and go on to Report: %+v", ps)
	}
	pr := st["Probe"]
	if pr.Type != "Task" || pr.Next != "Report" || pr.ResultPath == nil || *pr.ResultPath != "$.probe" {
		t.Errorf("Probe does not store its result in $.probe and go on to Report: %+v", pr)
	}
	caught := false
	for _, k := range pr.Catch {
		if slices.Contains(k.ErrorEquals, "States.ALL") && k.ResultPath == "$.probe" && k.Next == "Report" {
			caught = true
		}
	}
	if !caught {
		t.Errorf("a failed Probe is not caught into $.probe → Report (the report must still be written): %+v", pr.Catch)
	}
	rp := st["Report"]
	if rp.Type != "Task" || rp.Next != "Notify" {
		t.Errorf("Report does not go on to Notify")
	}
	if rp.Parameters.Payload["runId.$"] != "$.plan.runId" || rp.Parameters.Payload["probe.$"] != "$.probe" {
		t.Errorf("Report payload %v, want the run ID and $.probe", rp.Parameters.Payload)
	}
	// Report's output is its result alone: the input a state after it
	// (a notification) needs, without the plan and the Map's metadata.
	if rp.ResultPath != nil {
		t.Errorf("Report has ResultPath %q: its output should be its result", *rp.ResultPath)
	}
	for _, k := range []string{"runId.$", "bucket.$", "jsonKey.$", "htmlKey.$", "summary.$"} {
		if _, ok := rp.ResultSelector[k]; !ok {
			t.Errorf("Report's output lacks %s", strings.TrimSuffix(k, ".$"))
		}
	}
	// Notify reads the report Report wrote: retried on Lambda's service
	// errors only (its own failure leaves the alerts pending for the next
	// run), caught into a Fail state that records the cause.
	nt := st["Notify"]
	if nt.Type != "Task" || nt.Next != "Done" || st["Done"].Type != "Succeed" {
		t.Errorf("Notify → Done (Succeed) is not the end of the flow")
	}
	if nt.Parameters.Payload["runId.$"] != "$.runId" {
		t.Errorf("Notify payload %v, want the run ID of Report's output", nt.Parameters.Payload)
	}
	for _, r := range nt.Retry {
		for _, e := range r.ErrorEquals {
			if !strings.HasPrefix(e, "Lambda.") {
				t.Errorf("Notify retries %s: only Lambda service errors may be retried (a retry after a partial delivery would be a second run's job)", e)
			}
		}
	}
	if len(nt.Retry) == 0 {
		t.Error("Notify is not retried on Lambda service errors")
	}
	if len(nt.Catch) != 1 || !slices.Equal(nt.Catch[0].ErrorEquals, []string{"States.ALL"}) || nt.Catch[0].Next != "NotifyFailed" || nt.Catch[0].ResultPath == "" {
		t.Errorf("a failed Notify is not caught into NotifyFailed with its cause: %+v", nt.Catch)
	}
	if nf := st["NotifyFailed"]; nf.Type != "Fail" || nf.CausePath != nt.Catch[0].ResultPath+".Cause" || nf.Error == "" {
		t.Errorf("NotifyFailed does not fail the execution with the caught cause: %+v", nf)
	}
	for name, s := range st {
		next := []string{s.Next, s.Default}
		for _, ch := range s.Choices {
			next = append(next, ch.Next)
		}
		for _, k := range s.Catch {
			next = append(next, k.Next)
		}
		for _, n := range next {
			if _, ok := st[n]; n != "" && !ok {
				t.Errorf("state %s: next state %s does not exist", name, n)
			}
		}
	}
}

// TestLeastPrivilege pins what each function's role may do.
func TestLeastPrivilege(t *testing.T) {
	tmpl := load(t, "template.yaml")
	logs := []string{"logs:CreateLogStream", "logs:PutLogEvents"}
	for _, tc := range []struct {
		role string
		want []string
	}{
		{"PlanRole", append([]string{"ec2:DescribeRegions", "organizations:ListAccounts", "s3:PutObject"}, logs...)},
		// GCP and Azure credential reads exist only when configured (!If).
		{"CollectRole", append([]string{"s3:PutObject", "secretsmanager:GetSecretValue", "ssm:GetParameter", "sts:AssumeRole", "sts:GetWebIdentityToken"}, logs...)},
		{"ReportRole", append([]string{"s3:GetObject", "s3:ListBucket", "s3:PutObject"}, logs...)},
		{"ProbeRole", append([]string{"s3:GetObject", "s3:ListBucket", "s3:PutObject"}, logs...)},
		// The state's statements exist for S3 or for DynamoDB (!If), the
		// secrets and SES only when configured.
		{"ReactRole", append([]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan", "s3:GetObject", "s3:ListBucket", "s3:PutObject",
			"secretsmanager:GetSecretValue", "ses:SendEmail", "ses:SendRawEmail", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage",
			"sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sts:AssumeRole"}, logs...)},
		// Security Hub only with EnableSecurityHub (!If).
		{"NotifyRole", append([]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan", "s3:GetObject", "s3:ListBucket", "s3:PutObject",
			"secretsmanager:GetSecretValue", "securityhub:BatchImportFindings", "securityhub:GetFindings", "ses:SendEmail", "ses:SendRawEmail"}, logs...)},
	} {
		sts := statements(t, tmpl, tc.role)
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if got := allowedActions(sts); !slices.Equal(got, want) {
			t.Errorf("%s actions:\n got %v\nwant %v", tc.role, got, want)
		}
		for _, s := range sts {
			for _, a := range s.Actions {
				if strings.Contains(a, "*") {
					t.Errorf("%s: wildcard action %s", tc.role, a)
				}
			}
			for _, r := range s.Resources {
				if r.Value == "*" && !slices.Contains([]string{"ListAccountsAndRegions", "FederateWithEntraID"}, s.Sid) {
					t.Errorf("%s: statement %s on every resource", tc.role, s.Sid)
				}
			}
		}
	}
	// The collect and react functions may assume the member role and
	// nothing else.
	for _, role := range []string{"CollectRole", "ReactRole"} {
		for _, s := range statements(t, tmpl, role) {
			if slices.Contains(s.Actions, "sts:AssumeRole") {
				if len(s.Actions) != 1 || len(s.Resources) != 1 || !strings.HasSuffix(s.Resources[0].Value, ":role/${MemberRoleName}") {
					t.Errorf("%s may assume %v", role, s.Resources)
				}
			}
		}
	}
	for _, s := range statements(t, tmpl, "CollectRole") {
		if slices.Contains(s.Actions, "s3:PutObject") {
			for _, r := range s.Resources {
				if !strings.Contains(r.Value, "/runs/*/snapshot/*") && !strings.Contains(r.Value, "/runs/*/errors/*") && !strings.Contains(r.Value, "/runs/*/units/*") {
					t.Errorf("collect may write %s", r.Value)
				}
			}
		}
	}
	// The probe stage reads the snapshot and writes the observations,
	// nothing else; only the report stage writes the report, and it reads
	// the observations.
	for _, tc := range []struct {
		role, action string
		want         []string
	}{
		{"ProbeRole", "s3:GetObject", []string{"/runs/*/snapshot/*"}},
		{"ProbeRole", "s3:PutObject", []string{"/runs/*/observations.json"}},
		// The report merges unit results: it reads no snapshot.
		{"ReportRole", "s3:GetObject", []string{"/runs/*/plan.json", "/runs/*/units/*", "/runs/*/observations.json", "/config/*"}},
		{"ReportRole", "s3:PutObject", []string{"/runs/*/report.json", "/runs/*/report.html"}},
		{"NotifyRole", "s3:GetObject", []string{"/runs/*/report.json", "/state/*"}},
		{"ReactRole", "s3:GetObject", []string{"/config/*", "/state/*"}},
		{"ReactRole", "s3:PutObject", []string{"/runs/react-*/report.json", "/runs/react-*/report.html", "/runs/react-*/changes.json", "/state/*"}},
		{"NotifyRole", "s3:PutObject", []string{"/runs/*/changes.json", "/state/*"}},
	} {
		var got []string
		for _, s := range statements(t, tmpl, tc.role) {
			if s.Effect != "Allow" || !slices.Contains(s.Actions, tc.action) {
				continue
			}
			for _, r := range s.Resources {
				if r.Tag != "!Sub" || !strings.HasPrefix(r.Value, "${RunsBucket.Arn}/") {
					t.Errorf("%s %s on %s %s: not an object of the runs bucket", tc.role, tc.action, r.Tag, r.Value)
					continue
				}
				got = append(got, strings.TrimPrefix(r.Value, "${RunsBucket.Arn}"))
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s %s on\n got %v\nwant %v", tc.role, tc.action, got, tc.want)
		}
	}
	for _, s := range statements(t, tmpl, "ProbeRole") {
		if slices.Contains(s.Actions, "s3:ListBucket") {
			if p := get(s.Condition, "StringLike", "s3:prefix"); p == nil || p.Value != "runs/*/snapshot/*" {
				t.Errorf("probe may list beyond the snapshots: %v", p)
			}
		}
	}
	notifyLeastPrivilege(t, tmpl, "NotifyRole", "NotifyFunction")
	notifyLeastPrivilege(t, tmpl, "ReactRole", "ReactFunction")
	// Only TLS reaches the bucket.
	bp := items(get(tmpl, "Resources", "RunsBucketPolicy", "Properties", "PolicyDocument", "Statement"))
	tls := false
	for _, s := range bp {
		if get(s, "Effect").Value == "Deny" && get(s, "Condition", "Bool", "aws:SecureTransport") != nil {
			tls = true
		}
	}
	if !tls {
		t.Error("the bucket policy does not deny plain HTTP")
	}
	pab := get(tmpl, "Resources", "RunsBucket", "Properties", "PublicAccessBlockConfiguration")
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if v := get(pab, k); v == nil || v.Value != "true" {
			t.Errorf("public access block %s is not true", k)
		}
	}
}

// notifyLeastPrivilege pins the notify role: it alone sends mail, reads
// the alert secrets and touches the state, each on exactly its resource.
func notifyLeastPrivilege(t *testing.T, tmpl *yaml.Node, role, fn string) {
	t.Helper()
	for _, s := range statements(t, tmpl, role) {
		for _, a := range s.Actions {
			switch {
			case strings.HasPrefix(a, "ses:"):
				if len(s.Resources) != 1 || s.Resources[0].Tag != "!Sub" || !strings.HasSuffix(s.Resources[0].Value, ":identity/${SesIdentity}") {
					t.Errorf("%s may send mail as %v, want the SesIdentity only", role, s.Resources)
				}
				if f := get(s.Condition, "StringEquals", "ses:FromAddress"); f == nil || f.Value != "EmailFrom" {
					t.Errorf("%s may send mail from any address of the identity", role)
				}
			case a == "secretsmanager:GetSecretValue":
				if len(s.Resources) != 1 || s.Resources[0].Tag != "!Ref" || (s.Resources[0].Value != "SlackWebhookSecretArn" && s.Resources[0].Value != "SmtpUrlSecretArn") {
					t.Errorf("%s may read secrets %v", role, s.Resources)
				}
			case strings.HasPrefix(a, "dynamodb:"):
				if len(s.Resources) != 1 || !strings.HasSuffix(s.Resources[0].Value, ":table/${StateTableName}") {
					t.Errorf("%s may use tables %v", role, s.Resources)
				}
			case a == "s3:ListBucket":
				if p := get(s.Condition, "StringLike", "s3:prefix"); p == nil || p.Value != "state/*" {
					t.Errorf("%s may list beyond the state: %v", role, p)
				}
			}
		}
	}
	// The environment names exactly what the role grants.
	env := get(tmpl, "Resources", fn, "Properties", "Environment", "Variables")
	for k, want := range map[string]string{"SLACK_WEBHOOK_SECRET": "SlackWebhookSecretArn", "SMTP_URL_SECRET": "SmtpUrlSecretArn", "EMAIL_FROM": "EmailFrom"} {
		if v := get(env, k); v == nil || v.Tag != "!Ref" || v.Value != want {
			t.Errorf("%s's %s is not the %s parameter", fn, k, want)
		}
	}
	if v := get(env, "STATE_URL"); v == nil || v.Tag != "!If" || len(v.Content) != 3 || v.Content[0].Value != "HasStateTable" ||
		v.Content[1].Value != "dynamodb://${StateTableName}" || v.Content[2].Value != "s3://${RunsBucket}/state" {
		t.Errorf("%s's STATE_URL is not the table or the runs bucket's state/", fn)
	}
	table := get(tmpl, "Resources", "StateTable")
	if table == nil || get(table, "Condition").Value != "HasStateTable" {
		t.Fatal("no StateTable created when StateTableName is set")
	}
	props := get(table, "Properties")
	if get(props, "BillingMode").Value != "PAY_PER_REQUEST" || get(props, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled").Value != "true" ||
		get(props, "SSESpecification", "SSEEnabled").Value != "true" || get(props, "KeySchema") == nil {
		t.Error("the state table is not on-demand with point-in-time recovery and encryption")
	}
	if k := items(get(props, "KeySchema")); len(k) != 1 || get(k[0], "AttributeName").Value != "pk" || get(k[0], "KeyType").Value != "HASH" {
		t.Error("the state table's key is not pk (state.DynamoDB)")
	}

	// No other role sends mail, reads a secret of the alerts, or touches
	// the state.
	res := get(tmpl, "Resources")
	for i := 0; i+1 < len(res.Content); i += 2 {
		role := res.Content[i].Value
		if get(res.Content[i+1], "Type").Value != "AWS::IAM::Role" || role == "NotifyRole" || role == "ReactRole" {
			continue
		}
		for _, s := range statements(t, tmpl, role) {
			for _, a := range s.Actions {
				if strings.HasPrefix(a, "ses:") || strings.HasPrefix(a, "dynamodb:") {
					t.Errorf("%s may %s", role, a)
				}
			}
			for _, r := range s.Resources {
				if obj, ok := strings.CutPrefix(r.Value, "${RunsBucket.Arn}/"); ok && !strings.HasPrefix(obj, "runs/") && !strings.HasPrefix(obj, "config/") {
					t.Errorf("%s statement %s reaches objects %s of the runs bucket outside runs/ and config/", role, s.Sid, obj)
				}
				if strings.Contains(r.Value, "/state/") || strings.Contains(r.Value, "StateTable") ||
					strings.Contains(r.Value, "SlackWebhookSecretArn") || strings.Contains(r.Value, "SmtpUrlSecretArn") {
					t.Errorf("%s statement %s reaches %s", role, s.Sid, r.Value)
				}
			}
			if p := get(s.Condition, "StringLike", "s3:prefix"); p != nil && strings.HasPrefix(p.Value, "state") {
				t.Errorf("%s may list the state", role)
			}
		}
	}
}

// TestReactWiring: the rules match exactly the exposure-changing events of
// providers/aws (successful calls only) and feed the queue, which batches
// them for the react function and keeps failures in its dead-letter queue.
func TestReactWiring(t *testing.T) {
	tmpl := load(t, "template.yaml")
	want := aws.ExposureEvents()
	for rule, source := range map[string]string{"ReactRule": aws.SourceEC2, "ReactLoadBalancerRule": aws.SourceELB} {
		r := get(tmpl, "Resources", rule)
		if r == nil || get(r, "Type").Value != "AWS::Events::Rule" {
			t.Fatalf("no AWS::Events::Rule %s", rule)
		}
		pat := get(r, "Properties", "EventPattern")
		if v := scalars(get(pat, "detail-type")); !slices.Equal(v, []string{aws.CloudTrailDetailType}) {
			t.Errorf("%s detail-type %v", rule, v)
		}
		if v := scalars(get(pat, "source")); !slices.Equal(v, []string{"aws." + strings.TrimSuffix(source, ".amazonaws.com")}) {
			t.Errorf("%s source %v", rule, v)
		}
		if v := scalars(get(pat, "detail", "eventSource")); !slices.Equal(v, []string{source}) {
			t.Errorf("%s eventSource %v", rule, v)
		}
		got := scalars(get(pat, "detail", "eventName"))
		if !slices.Equal(got, want[source]) {
			t.Errorf("%s event names differ from providers/aws ExposureEvents:\n got %v\nwant %v", rule, got, want[source])
		}
		ec := items(get(pat, "detail", "errorCode"))
		if len(ec) != 1 || get(ec[0], "exists") == nil || get(ec[0], "exists").Value != "false" {
			t.Errorf("%s also matches failed calls", rule)
		}
		tg := items(get(r, "Properties", "Targets"))
		if len(tg) != 1 || get(tg[0], "Arn").Value != "ReactQueue.Arn" || get(tg[0], "DeadLetterConfig", "Arn").Value != "ReactDeadLetterQueue.Arn" {
			t.Errorf("%s does not target the react queue with the dead-letter queue", rule)
		}
	}
	q := get(tmpl, "Resources", "ReactQueue", "Properties")
	if get(q, "RedrivePolicy", "deadLetterTargetArn").Value != "ReactDeadLetterQueue.Arn" || get(q, "SqsManagedSseEnabled").Value != "true" {
		t.Error("the react queue has no dead-letter queue or no encryption")
	}
	ev := get(tmpl, "Resources", "ReactFunction", "Properties", "Events", "Changes", "Properties")
	if get(tmpl, "Resources", "ReactFunction", "Properties", "Events", "Changes", "Type").Value != "SQS" || get(ev, "Queue").Value != "ReactQueue.Arn" {
		t.Fatal("the react function does not read the react queue")
	}
	if v := scalars(get(ev, "FunctionResponseTypes")); !slices.Equal(v, []string{"ReportBatchItemFailures"}) {
		t.Error("the react function cannot return failed messages to the queue (ReportBatchItemFailures)")
	}
	if w := get(ev, "MaximumBatchingWindowInSeconds"); w == nil || w.Tag != "!Ref" || w.Value != "ReactBatchWindowSeconds" {
		t.Error("the batching window is not the ReactBatchWindowSeconds parameter")
	}
	p := get(tmpl, "Parameters", "ReactBatchWindowSeconds")
	if get(p, "MinValue").Value != "30" || get(p, "MaxValue").Value != "60" {
		t.Error("ReactBatchWindowSeconds is not bounded to 30-60 s")
	}
	// The queue accepts messages from the two rules only.
	for _, st := range items(get(tmpl, "Resources", "ReactQueuePolicy", "Properties", "PolicyDocument", "Statement")) {
		if get(st, "Effect").Value != "Allow" {
			continue
		}
		if get(st, "Principal", "Service").Value != "events.amazonaws.com" || len(items(get(st, "Condition", "ArnEquals", "aws:SourceArn"))) != 2 {
			t.Error("the react queue accepts messages from more than the two rules")
		}
	}
}

// TestSecurityHubIsOptIn: the notify stage imports into Security Hub and
// archives there, and its role may make exactly the calls of package
// securityhub, only with EnableSecurityHub=true (default false). The
// report stage neither imports nor may.
func TestSecurityHubIsOptIn(t *testing.T) {
	tmpl := load(t, "template.yaml")
	if d := get(tmpl, "Parameters", "EnableSecurityHub", "Default"); d == nil || d.Value != "false" {
		t.Error("EnableSecurityHub must default to false")
	}
	fns := functions(t, tmpl)
	v := get(fns["NotifyFunction"].props, "Environment", "Variables", "SECURITY_HUB")
	if v == nil || v.Tag != "!If" || len(v.Content) != 3 || v.Content[0].Value != "SecurityHubEnabled" || v.Content[2].Value != "false" {
		t.Error("the notify function's SECURITY_HUB does not follow EnableSecurityHub")
	}
	if get(fns["ReportFunction"].props, "Environment", "Variables", "SECURITY_HUB") != nil {
		t.Error("the report function still gets SECURITY_HUB: importing is the notify stage's")
	}
	for _, role := range []string{"ReportRole", "NotifyRole"} {
		var guarded []string
		for _, p := range items(get(get(tmpl, "Resources", role), "Properties", "Policies")) {
			for _, s := range get(p, "PolicyDocument", "Statement").Content {
				if s.Tag == "!If" {
					if len(s.Content) == 3 && s.Content[0].Value == "SecurityHubEnabled" {
						if s.Content[2].Tag != "!Ref" || s.Content[2].Value != "AWS::NoValue" {
							t.Errorf("%s: a Security Hub statement grants something without EnableSecurityHub", role)
						}
						guarded = append(guarded, scalars(get(s.Content[1], "Action"))...)
					}
					continue
				}
				for _, a := range scalars(get(s, "Action")) {
					if strings.HasPrefix(a, "securityhub:") {
						t.Errorf("%s grants %s whatever EnableSecurityHub says", role, a)
					}
				}
			}
		}
		slices.Sort(guarded)
		want := slices.Sorted(slices.Values(securityhub.Permissions))
		if role == "ReportRole" {
			want = nil
		}
		if !slices.Equal(guarded, want) {
			t.Errorf("%s: Security Hub actions under SecurityHubEnabled %v, want %v", role, guarded, want)
		}
	}
}
