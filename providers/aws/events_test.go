package aws

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestEventFamiliesCoverCollector: every API family the collector reads
// (Permissions) has its mutating events listed, or an exemption saying
// why none changes an exposure; and the list names no family the
// collector does not read.
func TestEventFamiliesCoverCollector(t *testing.T) {
	listed := map[string]eventFamily{}
	for _, f := range eventFamilies {
		if _, dup := listed[f.Read]; dup {
			t.Errorf("family %s listed twice", f.Read)
		}
		listed[f.Read] = f
		if !slices.Contains(Permissions, f.Read) {
			t.Errorf("family %s is not a call of the collector (Permissions)", f.Read)
		}
		switch {
		case f.Exempt == "" && len(f.Events) == 0:
			t.Errorf("family %s lists no event and no exemption", f.Read)
		case f.Exempt != "" && len(f.Events) > 0:
			t.Errorf("family %s is exempt yet lists events", f.Read)
		case len(f.Events) > 0 && f.Source != SourceEC2 && f.Source != SourceELB:
			t.Errorf("family %s: event source %q", f.Read, f.Source)
		}
		// The event source follows the IAM prefix of the read.
		if prefix, _, _ := strings.Cut(f.Read, ":"); len(f.Events) > 0 && f.Source != prefix+".amazonaws.com" {
			t.Errorf("family %s: source %s", f.Read, f.Source)
		}
		for _, name := range f.Events {
			if !eventName.MatchString(name) || strings.HasPrefix(name, "Describe") || strings.HasPrefix(name, "Get") || strings.HasPrefix(name, "List") {
				t.Errorf("family %s: %q is not a mutating call", f.Read, name)
			}
		}
	}
	for _, p := range Permissions {
		if _, ok := listed[p]; !ok {
			t.Errorf("the collector reads %s but no event of it is listed (eventFamilies)", p)
		}
	}
	// The events the issue names are there.
	for _, name := range []string{"AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress", "ModifySecurityGroupRules",
		"ModifyNetworkInterfaceAttribute", "CreateNetworkAclEntry", "ReplaceNetworkAclAssociation", "CreateRoute", "AssociateRouteTable",
		"AttachInternetGateway", "AssociateAddress", "RunInstances", "ModifyManagedPrefixList"} {
		if !IsExposureEvent(SourceEC2, name) {
			t.Errorf("%s is not an exposure event", name)
		}
	}
	for _, name := range []string{"CreateLoadBalancer", "CreateListener", "ModifyRule", "RegisterTargets", "DeregisterTargets", "ModifyTargetGroupAttributes"} {
		if !IsExposureEvent(SourceELB, name) {
			t.Errorf("%s is not an exposure event", name)
		}
	}
	if IsExposureEvent(SourceEC2, "DescribeInstances") || IsExposureEvent(SourceELB, "AuthorizeSecurityGroupIngress") || IsExposureEvent(SourceEC2, "CreateTags") {
		t.Error("a read, a call of another source or a tag change counts as exposure-changing")
	}
	ev := ExposureEvents()
	if len(ev) != 2 || !slices.IsSorted(ev[SourceEC2]) || len(slices.Compact(slices.Clone(ev[SourceEC2]))) != len(ev[SourceEC2]) {
		t.Errorf("ExposureEvents: %v", ev)
	}
}

func TestParseEvent(t *testing.T) {
	fixture, err := os.ReadFile("testdata/events/authorize-ingress.json")
	if err != nil {
		t.Fatal(err)
	}
	e, err := ParseEvent(fixture)
	if err != nil {
		t.Fatal(err)
	}
	want := Event{ID: "6f2c1b0e-5c1a-4e57-9d0b-3c6f0e6d2a11", Account: "111122223333", Region: "eu-west-1", Source: SourceEC2,
		Name: "AuthorizeSecurityGroupIngress", Time: time.Date(2026, 12, 1, 10, 2, 39, 0, time.UTC),
		Actor: Actor{ARN: "arn:aws:sts::444455556666:assumed-role/PlatformAdmin/alice", Type: "AssumedRole", SourceIP: "198.51.100.7",
			UserAgent: "aws-cli/2.15.0 md/awscrt#0.19.18 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe"}}
	if e != want {
		t.Errorf("event\n got %+v\nwant %+v", e, want)
	}
	// The account is the one acted on (recipientAccountId), not the
	// caller's (userIdentity.accountId, 444455556666).
	if s := e.Scope(); s.Account != "111122223333" || s.Region != "eu-west-1" || s.Provider != "aws" || !e.ChangesExposure() {
		t.Errorf("scope %+v, changes exposure %v", s, e.ChangesExposure())
	}
	got := Describe([]Event{e})
	if wantD := "arn:aws:sts::444455556666:assumed-role/PlatformAdmin/alice (AuthorizeSecurityGroupIngress) from 198.51.100.7 (aws-cli/2.15.0 md/awscrt#0.19.18 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/pytho…) at 2026-12-01 10:02 UTC"; got != wantD {
		t.Errorf("Describe:\n got %s\nwant %s", got, wantD)
	}

	// A bare CloudTrail record reads the same.
	bare := strings.TrimSpace(string(fixture))
	i := strings.Index(bare, `"detail": `)
	rec := strings.TrimSuffix(strings.TrimSpace(bare[i+len(`"detail": `):]), "}")
	if e2, err := ParseEvent([]byte(rec)); err != nil || e2.Account != e.Account || e2.Name != e.Name || e2.ID != "c0a8f4e2-3b1d-4f6a-8e9c-1d2b3a4c5e6f" {
		t.Errorf("bare record: %+v, %v", e2, err)
	}

	for _, tc := range []struct{ name, doc, want string }{
		{"not json", `{"detail":`, "not a JSON object"},
		{"other detail type", `{"id":"x","detail-type":"EC2 Instance State-change Notification","detail":{}}`, "not a CloudTrail management event"},
		{"no event name", `{"detail-type":"AWS API Call via CloudTrail","detail":{"eventSource":"ec2.amazonaws.com"}}`, "no eventSource or eventName"},
		{"bad account", `{"detail-type":"AWS API Call via CloudTrail","account":"12345","detail":{"eventSource":"ec2.amazonaws.com","eventName":"CreateRoute","awsRegion":"eu-west-1","eventTime":"2026-12-01T10:00:00Z"}}`, "not a 12-digit account ID"},
		{"path in region", `{"detail-type":"AWS API Call via CloudTrail","detail":{"recipientAccountId":"111122223333","eventSource":"ec2.amazonaws.com","eventName":"CreateRoute","awsRegion":"../../x","eventTime":"2026-12-01T10:00:00Z"}}`, "not a region name"},
		{"bad name", `{"detail-type":"AWS API Call via CloudTrail","detail":{"recipientAccountId":"111122223333","eventSource":"ec2.amazonaws.com","eventName":"Create Route;","awsRegion":"eu-west-1","eventTime":"2026-12-01T10:00:00Z"}}`, "not an API operation name"},
		{"bad time", `{"detail-type":"AWS API Call via CloudTrail","detail":{"recipientAccountId":"111122223333","eventSource":"ec2.amazonaws.com","eventName":"CreateRoute","awsRegion":"eu-west-1","eventTime":"yesterday"}}`, "not an RFC 3339 time"},
		{"too large", `{"x":"` + strings.Repeat("a", maxEventBytes) + `"}`, "256 KB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseEvent([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	// A failed call changed nothing.
	failed := strings.Replace(string(fixture), `"eventCategory"`, `"errorCode": "Client.UnauthorizedOperation", "eventCategory"`, 1)
	if e, err := ParseEvent([]byte(failed)); err != nil || e.ChangesExposure() || e.ErrorCode != "Client.UnauthorizedOperation" {
		t.Errorf("failed call: %+v, %v", e, err)
	}
}

func TestDescribeBurst(t *testing.T) {
	at := func(m, s int) time.Time { return time.Date(2026, 12, 1, 10, m, s, 0, time.UTC) }
	tf := Actor{ARN: "arn:aws:sts::111122223333:assumed-role/terraform/ci", SourceIP: "203.0.113.9", UserAgent: "APN/1.0 HashiCorp/1.0 Terraform/1.9.8"}
	burst := []Event{
		{Name: "CreateRoute", Time: at(3, 5), Actor: tf},
		{Name: "AuthorizeSecurityGroupIngress", Time: at(2, 1), Actor: tf},
		{Name: "AuthorizeSecurityGroupIngress", Time: at(2, 30), Actor: tf},
		{Name: "RegisterTargets", Time: at(3, 0), Actor: tf},
		{Name: "CreateListener", Time: at(3, 1), Actor: tf},
	}
	want := "arn:aws:sts::111122223333:assumed-role/terraform/ci (5 calls: AuthorizeSecurityGroupIngress, RegisterTargets, CreateListener, …) from 203.0.113.9 (APN/1.0 HashiCorp/1.0 Terraform/1.9.8) between 2026-12-01 10:02 and 10:03 UTC"
	if got := Describe(burst); got != want {
		t.Errorf("Describe:\n got %s\nwant %s", got, want)
	}
	two := append(slices.Clone(burst[:1]), Event{Name: "CreateRoute", Time: at(3, 7), Actor: Actor{ARN: "arn:aws:iam::111122223333:user/bob", SourceIP: "198.51.100.1"}})
	if got, want := Describe(two), "arn:aws:sts::111122223333:assumed-role/terraform/ci, arn:aws:iam::111122223333:user/bob (2 calls: CreateRoute) at 2026-12-01 10:03 UTC"; got != want {
		t.Errorf("Describe two actors:\n got %s\nwant %s", got, want)
	}
	if Describe(nil) != "" {
		t.Error("Describe(nil) is not empty")
	}
}
