package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func planFixture(name string) string { return filepath.Join("..", "..", "iacplan", "testdata", name) }

var demoSnapshot = filepath.Join("..", "..", "demo", "estate")

func TestPlanExitCodes(t *testing.T) {
	lb := filepath.Join(t.TempDir(), "lb.json")
	if err := os.WriteFile(lb, []byte(`{"format_version":"1.2","resource_changes":[{"address":"aws_lb.web","mode":"managed","type":"aws_lb","name":"web","change":{"actions":["create"],"before":null,"after":{},"after_unknown":{"id":true}}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		// cache-1's redis becomes reachable: a critical finding.
		{"new effective critical, fail-on high", []string{"--terraform", planFixture("route-public.tfplan.json")}, exitFindings},
		{"new effective critical, fail-on critical", []string{"--terraform", planFixture("route-public.tfplan.json"), "--fail-on", "critical"}, exitFindings},
		// A 0.0.0.0/0 rule on a private instance is latent: never gates.
		{"latent only, fail-on info", []string{"--terraform", planFixture("private-ssh.tfplan.json"), "--fail-on", "info"}, exitOK},
		// The new app port is medium: below high, at or above medium.
		{"medium below fail-on high", []string{"--terraform", planFixture("unknown.tfplan.json")}, exitOK},
		{"medium at fail-on medium", []string{"--terraform", planFixture("unknown.tfplan.json"), "--fail-on", "medium"}, exitFindings},
		{"narrowing", []string{"--terraform", planFixture("narrow.tfplan.json"), "--fail-on", "info"}, exitOK},
		{"change set", []string{"--cloudformation", planFixture("route-public.changeset.json"), "--template", planFixture("route-public.template.yaml")}, exitFindings},
		{"not modelled load balancer", []string{"--terraform", lb}, exitPartial},
		{"no plan", []string{}, exitError},
		{"both plans", []string{"--terraform", lb, "--cloudformation", lb}, exitError},
		{"bad severity", []string{"--terraform", lb, "--fail-on", "severe"}, exitError},
		{"bad format", []string{"--terraform", lb, "--format", "html"}, exitError},
		{"missing plan file", []string{"--terraform", "nope.json"}, exitError},
		{"not a plan", []string{"--terraform", filepath.Join(demoSnapshot, "README.md")}, exitError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"plan", "--snapshot", demoSnapshot}, tc.args...)
			code, out, errOut := runCLI(t, args...)
			if code != tc.want {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.want, out, errOut)
			}
		})
	}
}

func TestPlanFormats(t *testing.T) {
	code, out, errOut := runCLI(t, "plan", "--snapshot", demoSnapshot, "--terraform", planFixture("unknown.tfplan.json"), "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		SchemaVersion string
		Source        string
		Items         []struct {
			Kind    string
			Unknown bool
			Key     struct{ Level, Endpoint string }
		}
		Changes struct{ Counts struct{ New int } }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if doc.SchemaVersion == "" || doc.Source != "terraform" || doc.Changes.Counts.New != 1 {
		t.Errorf("json document: %+v", doc)
	}
	marked := false
	for _, it := range doc.Items {
		marked = marked || (it.Kind == "new" && it.Key.Level == "effective" && it.Unknown)
	}
	if !marked {
		t.Errorf("no marked new effective item: %s", out)
	}

	code, out, _ = runCLI(t, "plan", "--snapshot", demoSnapshot, "--terraform", planFixture("route-public.tfplan.json"), "--format", "markdown")
	if code != exitFindings || !strings.HasPrefix(out, "<!-- portcullis-plan -->") || !strings.Contains(out, "| new | effective | critical | cache-1") {
		t.Errorf("markdown (exit %d):\n%s", code, out)
	}

	dst := filepath.Join(t.TempDir(), "out", "plan.txt")
	code, out, _ = runCLI(t, "plan", "--snapshot", demoSnapshot, "--terraform", planFixture("route-public.tfplan.json"), "--output", dst)
	b, err := os.ReadFile(dst)
	if code != exitFindings || out != "" || err != nil || !strings.Contains(string(b), "CHANGE") {
		t.Errorf("--output: exit %d, stdout %q, file %v %q", code, out, err, b)
	}
}

func TestPlanNewStack(t *testing.T) {
	code, out, errOut := runCLI(t, "plan", "--terraform", planFixture("new-stack.tfplan.json"))
	if code != exitFindings || !strings.Contains(out, "new stack") || !strings.Contains(out, "known after apply: widest reading") {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
	// A new stack with nothing network-related: no change, the bucket listed.
	bucket := filepath.Join(t.TempDir(), "bucket.json")
	if err := os.WriteFile(bucket, []byte(`{"format_version":"1.2","resource_changes":[{"address":"aws_s3_bucket.logs","mode":"managed","type":"aws_s3_bucket","name":"logs","change":{"actions":["create"],"before":null,"after":{},"after_unknown":{"id":true}}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, "plan", "--terraform", bucket, "--region", "eu-west-1")
	if code != exitOK || !strings.Contains(out, "no change to what the internet reaches") || !strings.Contains(out, "aws_s3_bucket.logs") {
		t.Errorf("bucket-only stack: exit %d\n%s\n%s", code, out, errOut)
	}
	// Without a region anywhere the plan cannot be placed.
	code, _, errOut = runCLI(t, "plan", "--terraform", bucket)
	if code != exitError || !strings.Contains(errOut, "--region") {
		t.Errorf("no region: exit %d %s", code, errOut)
	}
}
