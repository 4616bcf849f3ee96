package securityhub

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sh "github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/demo"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/internal/mototest"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/state"
)

// motoURL is the loopback moto_server the tests import into. moto 5.2.1
// implements BatchImportFindings (upsert by Id; a finding without
// Resources is refused with InvalidInput, nothing else is validated: not
// the 100-finding limit, the account or the size) and GetFindings (every
// finding of the account and region: Filters are ignored, which is why
// Archive filters what it reads again). It has no BatchUpdateFindings.
var motoURL string

func TestMain(m *testing.M) { os.Exit(mototest.Main(m, false, &motoURL)) }

func awsConfig(endpoint string) aws.Config {
	return aws.Config{Region: "eu-central-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")}
}

// demoDocument audits the demo estate offline: AWS findings in three
// accounts and several regions, GCP and Azure findings.
func demoDocument(t *testing.T) *reports.Document {
	t.Helper()
	res, err := audit.Run(context.Background(), audit.Options{Snapshot: demo.Estate(), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return reports.NewDocument(res.Report)
}

// everyFinding reads every finding moto holds in a region.
func everyFinding(t *testing.T, c *sh.Client) map[string]types.AwsSecurityFinding {
	t.Helper()
	out := map[string]types.AwsSecurityFinding{}
	p := sh.NewGetFindingsPaginator(c, &sh.GetFindingsInput{MaxResults: aws.Int32(100)})
	for p.HasMorePages() {
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

func TestImportAndArchiveOnMoto(t *testing.T) {
	ctx := context.Background()
	cfg := awsConfig(motoURL)
	hub, err := NewHub(cfg, mototest.Account)
	if err != nil {
		t.Fatal(err)
	}
	doc := demoDocument(t)
	res, err := Import(ctx, hub, doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failed) != 0 || len(res.CallErrors) != 0 || len(res.Skipped) != 0 {
		t.Fatalf("import: failed %v, call errors %v, skipped %v", res.Failed, res.CallErrors, res.Skipped)
	}
	if len(res.Imported) != len(doc.Findings) {
		t.Errorf("imported %d of %d findings: GCP and Azure ones must be mapped, not dropped", len(res.Imported), len(doc.Findings))
	}

	// What moto holds, region by region, is what the report has.
	byRegion := map[string]int{}
	var providers []string
	for _, f := range doc.Findings {
		byRegion[hub.RegionOf(reports.ASFFFindingID(f))]++
		if !slices.Contains(providers, f.Exposure.Provider) {
			providers = append(providers, f.Exposure.Provider)
		}
	}
	if len(providers) < 3 || byRegion["eu-central-1"] == 0 {
		t.Fatalf("the demo estate should hold findings of three clouds: %v, %v", providers, byRegion)
	}
	minBatches := 0
	for region, n := range byRegion {
		minBatches += (n + 99) / 100
		got := everyFinding(t, sh.NewFromConfig(cfg, func(o *sh.Options) { o.Region = region }))
		if len(got) != n {
			t.Errorf("%s: moto holds %d findings, want %d", region, len(got), n)
		}
		for id, f := range got {
			if aws.ToString(f.AwsAccountId) != mototest.Account || aws.ToString(f.Region) != region ||
				aws.ToString(f.ProductArn) != "arn:aws:securityhub:"+region+":"+mototest.Account+":product/"+mototest.Account+"/default" {
				t.Errorf("%s: finding %s filed under %s %s %s", region, id, aws.ToString(f.AwsAccountId), aws.ToString(f.Region), aws.ToString(f.ProductArn))
			}
			// What Security Hub requires of every finding came through.
			// https://docs.aws.amazon.com/securityhub/latest/userguide/asff-required-attributes.html
			if aws.ToString(f.SchemaVersion) != "2018-10-08" || aws.ToString(f.GeneratorId) == "" || aws.ToString(f.CreatedAt) == "" ||
				aws.ToString(f.UpdatedAt) == "" || f.Severity == nil || f.Severity.Label == "" || aws.ToString(f.Title) == "" ||
				aws.ToString(f.Description) == "" || len(f.Types) == 0 || len(f.Resources) == 0 ||
				aws.ToString(f.Resources[0].Type) == "" || aws.ToString(f.Resources[0].Id) == "" {
				t.Errorf("%s: finding %s lacks a required field: %+v", region, id, f)
			}
			if strings.HasPrefix(id, "gcp/") && (len(f.Resources) != 1 || aws.ToString(f.Resources[0].Type) != "Other" ||
				!strings.HasPrefix(aws.ToString(f.Resources[0].Id), "projects/")) {
				t.Errorf("GCP finding %s has resources %+v", id, f.Resources)
			}
		}
	}
	if res.Batches < minBatches || res.Batches < 2 {
		t.Errorf("%d calls for %d findings in %d regions (at least %d batches of 100)", res.Batches, len(doc.Findings), len(byRegion), minBatches)
	}

	// Import again: Security Hub upserts by Id, nothing doubles.
	if _, err := Import(ctx, hub, doc); err != nil {
		t.Fatal(err)
	}
	first := doc.Findings[0]
	region := hub.RegionOf(reports.ASFFFindingID(first))
	c := sh.NewFromConfig(cfg, func(o *sh.Options) { o.Region = region })
	if got := everyFinding(t, c); len(got) != byRegion[region] {
		t.Errorf("after a second import %s holds %d findings, want %d", region, len(got), byRegion[region])
	}

	// Archive two resolved findings (one GCP, one AWS) and one Id that
	// was never imported.
	var gcpID string
	for _, f := range doc.Findings {
		if f.Exposure.Provider == "gcp" {
			gcpID = reports.ASFFFindingID(f)
			break
		}
	}
	awsID := reports.ASFFFindingID(first)
	bogus := region + "/" + mototest.Account + "/portcullis/never-imported"
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ar, err := Archive(ctx, hub, []string{awsID, gcpID, bogus}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ar.NotFound, []string{bogus}) || len(ar.Imported) != 2 || len(ar.Failed) != 0 || len(ar.CallErrors) != 0 {
		t.Errorf("archive = imported %v, not found %v, failed %v, call errors %v", ar.Imported, ar.NotFound, ar.Failed, ar.CallErrors)
	}
	for _, id := range []string{awsID, gcpID} {
		got := everyFinding(t, sh.NewFromConfig(cfg, func(o *sh.Options) { o.Region = hub.RegionOf(id) }))
		f := got[id]
		if f.RecordState != types.RecordStateArchived || aws.ToString(f.UpdatedAt) != "2026-12-01T12:00:00Z" ||
			aws.ToString(f.Title) == "" || len(f.Resources) == 0 {
			t.Errorf("archived %s: state %s updated %s title %q", id, f.RecordState, aws.ToString(f.UpdatedAt), aws.ToString(f.Title))
		}
	}
	active := 0
	for _, f := range everyFinding(t, c) {
		if f.RecordState == types.RecordStateActive {
			active++
		}
	}
	if want := byRegion[region] - 1; active != want {
		t.Errorf("%s: %d findings active after archiving one, want %d", region, active, want)
	}
	// Archiving again finds nothing active.
	if ar, err := Archive(ctx, hub, []string{awsID}, now); err != nil || len(ar.NotFound) != 1 || ar.Batches != 0 {
		t.Errorf("second archive: %+v, %v", ar, err)
	}
}

// TestFailedFindingsOnMoto sends a batch in which moto refuses one
// finding (empty Resources): the refusal is reported with its Id, code and
// message, and the other finding is imported.
func TestFailedFindingsOnMoto(t *testing.T) {
	hub, err := NewHub(awsConfig(motoURL), mototest.Account)
	if err != nil {
		t.Fatal(err)
	}
	batches, _, err := reports.ASFF(demoDocument(t), reports.ASFFOptions{Account: mototest.Account, Region: "ap-south-1"})
	if err != nil {
		t.Fatal(err)
	}
	var good, bad types.AwsSecurityFinding
	if err := json.Unmarshal(batches[0].Findings[0], &good); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(batches[0].Findings[1], &bad); err != nil {
		t.Fatal(err)
	}
	bad.Resources = []types.Resource{} // the SDK refuses nil before sending; moto refuses empty
	var res Result
	if err := importBatch(context.Background(), hub.client(batches[0].Region), batches[0].Region, []types.AwsSecurityFinding{good, bad}, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Failed) != 1 || res.Failed[0].ID != aws.ToString(bad.Id) || res.Failed[0].Code != "InvalidInput" || res.Failed[0].Message == "" {
		t.Errorf("failed = %+v, want the finding without resources", res.Failed)
	}
	if !slices.Equal(res.Imported, []string{aws.ToString(good.Id)}) {
		t.Errorf("imported = %v", res.Imported)
	}
	errs := res.Errors(mototest.Account)
	if len(errs) != 1 || errs[0].Stage != "securityhub" || errs[0].Resource != aws.ToString(bad.Id) || !strings.Contains(errs[0].Message, "InvalidInput") {
		t.Errorf("report errors = %+v", errs)
	}
}

// TestImportSurvivesThrottlingAndDenial runs the real SDK client against
// a loopback server answering as Security Hub does: throttling
// (LimitExceededException, HTTP 429) is retried by the SDK; a denied call
// is a CallError and the other regions' batches still go. moto cannot
// throttle or deny.
func TestImportSurvivesThrottlingAndDenial(t *testing.T) {
	var calls, throttled atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var in struct {
			Findings []struct {
				ID     string `json:"Id"`
				Region string
			}
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &in); err != nil || len(in.Findings) == 0 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case in.Findings[0].Region == "eu-west-1" && throttled.Add(1) <= 2:
			w.Header().Set("X-Amzn-Errortype", "LimitExceededException")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"Message":"Rate exceeded"}`)
		case in.Findings[0].Region == "us-east-1":
			w.Header().Set("X-Amzn-Errortype", "AccessDeniedException")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"Message":"not subscribed"}`)
		default:
			fmt.Fprintf(w, `{"FailedCount":0,"SuccessCount":%d,"FailedFindings":[]}`, len(in.Findings))
		}
	}))
	defer srv.Close()
	hub, err := NewHub(awsConfig(srv.URL), "111122223333")
	if err != nil {
		t.Fatal(err)
	}
	doc := demoDocument(t)
	res, err := Import(context.Background(), hub, doc)
	if err != nil {
		t.Fatal(err)
	}
	if throttled.Load() < 3 {
		t.Errorf("eu-west-1 was tried %d times; the SDK should retry after throttling", throttled.Load())
	}
	denied := 0
	for _, f := range doc.Findings {
		if hub.RegionOf(reports.ASFFFindingID(f)) == "us-east-1" {
			denied++
		}
	}
	if denied == 0 || len(res.CallErrors) == 0 {
		t.Fatalf("no us-east-1 findings (%d) or no call errors (%v)", denied, res.CallErrors)
	}
	lost := 0
	for _, c := range res.CallErrors {
		if c.Region != "us-east-1" || !strings.Contains(c.Err.Error(), "AccessDeniedException") {
			t.Errorf("call error %s: %v", c.Region, c.Err)
		}
		lost += c.Findings
	}
	if lost != denied || len(res.Imported) != len(doc.Findings)-denied {
		t.Errorf("lost %d (want %d), imported %d of %d", lost, denied, len(res.Imported), len(doc.Findings))
	}
	if errs := res.Errors(hub.Account); len(errs) != len(res.CallErrors) || errs[0].Stage != "securityhub" {
		t.Errorf("report errors = %+v", errs)
	}
}

func TestNewHubWantsAnAccount(t *testing.T) {
	for _, a := range []string{"", "12345", "12345678901x", "1234567890123"} {
		if _, err := NewHub(awsConfig("http://127.0.0.1:1"), a); err == nil {
			t.Errorf("NewHub(%q) accepted", a)
		}
	}
}

// TestTrackingOf: the Security Hub Ids of retired findings are those
// Import gave them (ASFFFindingID), for AWS and for other clouds, and the
// first sightings are those of the keys still seen.
func TestTrackingOf(t *testing.T) {
	doc := demoDocument(t)
	var awsF, gcpF *reports.Finding
	for _, f := range doc.Findings {
		switch {
		case f.Exposure.Provider == "aws" && awsF == nil:
			awsF = f
		case f.Exposure.Provider == "gcp" && gcpF == nil:
			gcpF = f
		}
	}
	first := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	tr := TrackingOf([]state.Change{
		{Kind: state.Resolved, Key: awsF.Exposure.Key, Before: &state.Entry{}, After: &state.Entry{FirstSeen: first}, Retired: []string{awsF.ID}},
		{Kind: state.Narrowed, Key: gcpF.Exposure.Key, After: &state.Entry{FirstSeen: first}, Retired: []string{gcpF.ID}},
		{Kind: state.Unverified, Key: exposure.Key{Target: "unseen"}, After: &state.Entry{FirstSeen: first}},
	})
	if want := []string{reports.ASFFFindingID(awsF), reports.ASFFFindingID(gcpF)}; !slices.Equal(tr.Retired, slices.Sorted(slices.Values(want))) {
		t.Errorf("retired = %v, want %v", tr.Retired, want)
	}
	if len(tr.FirstSeen) != 1 || !tr.FirstSeen[gcpF.Exposure.Key].Equal(first) {
		t.Errorf("first seen = %v: want only the key still seen", tr.FirstSeen)
	}
}
