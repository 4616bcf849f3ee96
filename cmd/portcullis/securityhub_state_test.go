package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	sh "github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/internal/mototest"
	"github.com/portcullis-sec/portcullis/reports"
)

// TestAuditSecurityHubWithState runs `audit --securityhub --state` over a
// moto estate in two regions of their own: a rule revoked while the
// exposure stays (RDP off the web server) archives the findings no longer
// raised; an exposure that resolves (SSH off the database) archives all
// its findings; what stays open stays ACTIVE, dated from its first
// sighting; a region whose collection fails archives nothing, and its
// findings are archived once it is collected whole again.
func TestAuditSecurityHubWithState(t *testing.T) {
	const regionA, regionB = "ap-southeast-2", "ca-central-1"
	clients := map[string]*ec2.Client{}
	for _, r := range []string{regionA, regionB} {
		cfg := mototest.Config(motoURL)
		cfg.Region = r
		clients[r] = ec2.NewFromConfig(cfg)
		closeNACLs(t, clients[r])
	}
	web, _ := publicInstance(t, clients[regionA], regionA, "10.71.0.0/16", "web")
	authorize(t, clients[regionA], web, "tcp", 3389, 3389)
	db, _ := publicInstance(t, clients[regionB], regionB, "10.72.0.0/16", "db")

	proxy := newRegionFailer(t, motoURL)
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	audit := func(step string, withState bool) (*reports.Document, string) {
		t.Helper()
		out := filepath.Join(dir, step+".json")
		args := []string{"audit", "--aws-endpoint", proxy.URL, "--regions", regionA + "," + regionB, "--no-probe",
			"--securityhub", "--format", "json", "--output", out}
		if withState {
			args = append(args, "--state", stateDir)
		}
		var stdout, stderr bytes.Buffer
		e := &env{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
		code := run(context.Background(), args, e)
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatalf("%s: no report (exit %d): %v\n%s", step, code, err, stderr.String())
		}
		doc, err := reports.Read(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range doc.Errors {
			if x.Stage == "securityhub" {
				t.Errorf("%s: %v", step, x)
			}
		}
		return doc, stderr.String()
	}
	hub := func(region string) map[string]shtypes.AwsSecurityFinding {
		t.Helper()
		cfg := mototest.Config(motoURL)
		cfg.Region = region
		out := map[string]shtypes.AwsSecurityFinding{}
		for p := sh.NewGetFindingsPaginator(sh.NewFromConfig(cfg), &sh.GetFindingsInput{MaxResults: aws.Int32(100)}); p.HasMorePages(); {
			page, err := p.NextPage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range page.Findings {
				out[aws.ToString(f.Id)] = f
			}
		}
		return out
	}
	// findings are a report's findings by Security Hub Id, in both
	// regions.
	findings := func(doc *reports.Document) map[string]*reports.Finding {
		out := map[string]*reports.Finding{}
		for _, f := range doc.Findings {
			if r := f.Exposure.Region; r == regionA || r == regionB {
				out[reports.ASFFFindingID(f)] = f
			}
		}
		return out
	}
	held := func() map[string]shtypes.AwsSecurityFinding {
		out := hub(regionA)
		for id, f := range hub(regionB) {
			out[id] = f
		}
		return out
	}
	// expect checks that every finding of ids is in Security Hub in the
	// wanted state, and returns how many there were.
	expect := func(step string, ids map[string]*reports.Finding, want shtypes.RecordState) int {
		t.Helper()
		h := held()
		for id, f := range ids {
			if got, ok := h[id]; !ok || got.RecordState != want {
				t.Errorf("%s: %s finding %s (%s %s) is %q in Security Hub, want %s", step, f.RuleID, id, f.Exposure.Level, f.Exposure.Target.ID, got.RecordState, want)
			}
		}
		return len(ids)
	}
	// gone are the findings of before that now lacks.
	gone := func(before, now map[string]*reports.Finding) map[string]*reports.Finding {
		out := map[string]*reports.Finding{}
		for id, f := range before {
			if _, ok := now[id]; !ok {
				out[id] = f
			}
		}
		return out
	}
	// effective are the findings on effective exposures of one region
	// with one rule.
	effective := func(in map[string]*reports.Finding, region, rule string) map[string]*reports.Finding {
		out := map[string]*reports.Finding{}
		for id, f := range in {
			if f.Exposure.Level == exposure.Effective && f.Exposure.Region == region && f.RuleID == rule {
				out[id] = f
			}
		}
		return out
	}

	// 0. Without --state: imported, nothing archived, and stderr says so.
	if _, stderr := audit("0-stateless", false); !strings.Contains(stderr, "without --state nothing is archived") {
		t.Errorf("no warning without --state: %s", stderr)
	}

	// 1. First run with the state: the baseline; every finding ACTIVE.
	run1, _ := audit("1-baseline", true)
	end1 := time.Now()
	f1 := findings(run1)
	expect("1", f1, shtypes.RecordStateActive)
	// Every finding of a key is dated from the key's first sighting.
	firstSeen := map[exposure.Key]string{}
	h := held()
	for id, f := range f1 {
		c, u := aws.ToString(h[id].CreatedAt), aws.ToString(h[id].UpdatedAt)
		if prev, ok := firstSeen[f.Exposure.Key]; ok && prev != c {
			t.Errorf("findings of one exposure created at %s and %s", prev, c)
		}
		firstSeen[f.Exposure.Key] = c
		if !within(c, run1.GeneratedAt, end1) || !within(u, c, end1) {
			t.Errorf("first run: %s finding %s created %s, updated %s; want %s ≤ created ≤ updated ≤ %s", f.RuleID, id, c, u, run1.GeneratedAt, end1.Format(time.RFC3339))
		}
	}
	rdp, dbSSH := effective(f1, regionA, "PORT-RDP"), effective(f1, regionB, "PORT-SSH")
	if len(rdp) != 1 || len(dbSSH) != 1 || len(effective(f1, regionA, "PORT-SSH")) != 1 {
		t.Fatalf("first run: RDP findings %v, database SSH findings %v", rdp, dbSSH)
	}

	// 2. A second later (report times have whole seconds): RDP revoked on
	// the web server (its exposure stays, with SSH), SSH on the database
	// (its exposure resolves).
	for time.Now().Truncate(time.Second).Before(end1.Truncate(time.Second).Add(time.Second)) {
		time.Sleep(100 * time.Millisecond)
	}
	revoke(t, clients[regionA], web, "tcp", 3389, 3389)
	revoke(t, clients[regionB], db, "tcp", 22, 22)
	run2, stderr := audit("2-resolved", true)
	end2 := time.Now()
	f2 := findings(run2)
	webSSH := effective(f2, regionA, "PORT-SSH")
	if len(webSSH) != 1 || len(effective(f2, regionA, "PORT-RDP")) != 0 || len(effective(f2, regionB, "PORT-SSH")) != 0 {
		t.Fatalf("after the revocations: web SSH %v, RDP %v, database SSH %v", webSSH, effective(f2, regionA, "PORT-RDP"), effective(f2, regionB, "PORT-SSH"))
	}
	if !strings.Contains(stderr, "no longer raised") {
		t.Errorf("stderr does not count the archived findings: %s", stderr)
	}
	expect("2 resolved exposure", dbSSH, shtypes.RecordStateArchived)
	expect("2 rule no longer matching", rdp, shtypes.RecordStateArchived)
	if n := expect("2 no longer raised", gone(f1, f2), shtypes.RecordStateArchived); n < 3 {
		t.Errorf("%d findings no longer raised, want at least RDP, the database's SSH and the web server's SSH under its old ports", n)
	}
	expect("2 still raised", f2, shtypes.RecordStateActive)
	// Still raised: created at the first sighting, updated by this run.
	h = held()
	for id, f := range f2 {
		c, u := aws.ToString(h[id].CreatedAt), aws.ToString(h[id].UpdatedAt)
		if first, ok := firstSeen[f.Exposure.Key]; ok && c != first {
			t.Errorf("%s finding %s: CreatedAt %s, want the first sighting %s", f.RuleID, id, c, first)
		} else if !ok && !within(c, run2.GeneratedAt, end2) {
			t.Errorf("%s finding %s of an exposure new in this run: CreatedAt %s", f.RuleID, id, c)
		}
		if !within(u, run2.GeneratedAt, end2) {
			t.Errorf("%s finding %s: UpdatedAt %s, want this run (%s to %s)", f.RuleID, id, u, run2.GeneratedAt, end2.Format(time.RFC3339))
		}
	}
	for id := range webSSH {
		if c := aws.ToString(h[id].CreatedAt); c >= run2.GeneratedAt {
			t.Errorf("the web server's SSH finding is dated %s, not from the first run (before %s)", c, run2.GeneratedAt)
		}
	}

	// 3. SSH revoked on the web server while its region's collection
	// fails: that scope is partial, nothing of it is archived.
	revoke(t, clients[regionA], web, "tcp", 22, 22)
	proxy.failing.Store(regionA)
	run3, _ := audit("3-partial", true)
	proxy.failing.Store("")
	if !run3.Partial {
		t.Fatal("the failed region did not make the run partial")
	}
	inA := func(in map[string]*reports.Finding) map[string]*reports.Finding {
		out := map[string]*reports.Finding{}
		for id, f := range in {
			if f.Exposure.Region == regionA {
				out[id] = f
			}
		}
		return out
	}
	if n := expect("3 partial scope", inA(f2), shtypes.RecordStateActive); n == 0 || len(inA(findings(run3))) != 0 {
		t.Errorf("partial run: %d findings of %s before, %d now (want some, then none read)", n, regionA, len(inA(findings(run3))))
	}

	// 4. Collected whole again: the web server's exposure resolved.
	run4, _ := audit("4-whole", true)
	expect("4 resolved after the partial run", webSSH, shtypes.RecordStateArchived)
	expect("4 no longer raised", gone(f2, findings(run4)), shtypes.RecordStateArchived)
	expect("4 still raised", findings(run4), shtypes.RecordStateActive)
}

// within reports whether the RFC 3339 time s is in [from, to] at whole
// seconds (the dates Security Hub is sent).
func within(s, from string, to time.Time) bool {
	t, err := time.Parse(time.RFC3339, s)
	f, ferr := time.Parse(time.RFC3339, from)
	return err == nil && ferr == nil && !t.Before(f) && !t.After(to.Truncate(time.Second))
}
