// Package securityhub imports a report's findings into AWS Security Hub
// and archives the findings that resolved. It is the only package that
// calls Security Hub; the CLI (audit --securityhub) and the serverless
// notify stage call it (Sync), after the run is tracked: the state says
// when each exposure was first seen and which findings the run retired.
//
// Findings are sent with BatchImportFindings, the finding providers' API:
// at most 100 a call, under the calling account's default product ARN, to
// the region of the ProductArn. Security Hub upserts by finding Id, so an
// import every run refreshes the findings it already holds. A finding
// provider retires a finding by importing it again with RecordState
// ARCHIVED (BatchUpdateFindings is the customers' API, for the workflow).
// https://docs.aws.amazon.com/securityhub/latest/userguide/finding-update-batchimportfindings.html
package securityhub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sh "github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/state"
)

// Permissions lists the IAM actions this package calls: Import needs the
// first, Archive both.
var Permissions = []string{"securityhub:BatchImportFindings", "securityhub:GetFindings"}

// API is what this package calls of Security Hub; *securityhub.Client
// satisfies it.
type API interface {
	BatchImportFindings(ctx context.Context, in *sh.BatchImportFindingsInput, optFns ...func(*sh.Options)) (*sh.BatchImportFindingsOutput, error)
	GetFindings(ctx context.Context, in *sh.GetFindingsInput, optFns ...func(*sh.Options)) (*sh.GetFindingsOutput, error)
}

// Hub is the Security Hub of the calling account, a client per region.
type Hub struct {
	// Account is the calling AWS account: every finding is filed under
	// it (BatchImportFindings with the default product ARN takes no
	// other account's findings).
	Account string
	// Region is where findings outside AWS (GCP, Azure) go.
	Region string

	newClient func(region string) API
	mu        sync.Mutex
	clients   map[string]API
}

// retryAttempts is how often a throttled call is tried. Security Hub
// allows BatchImportFindings 10 requests a second (bursts of 30) and
// answers beyond with LimitExceededException, which the SDK's retryer
// treats as throttling and backs off from.
// https://docs.aws.amazon.com/securityhub/1.0/APIReference/Welcome.html
const retryAttempts = 8

// NewHub returns the hub of the account whose credentials cfg holds;
// account is that account (sts:GetCallerIdentity), cfg.Region the region
// of findings outside AWS.
func NewHub(cfg aws.Config, account string) (*Hub, error) {
	if !isAccount(account) {
		return nil, fmt.Errorf("security hub: %q is not a 12-digit AWS account", account)
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	return NewHubWith(account, region, func(r string) API {
		return sh.NewFromConfig(cfg, func(o *sh.Options) {
			o.Region = r
			if o.RetryMaxAttempts < retryAttempts {
				o.RetryMaxAttempts = retryAttempts
			}
		})
	}), nil
}

// NewHubWith returns a hub whose per-region clients newClient makes.
func NewHubWith(account, region string, newClient func(region string) API) *Hub {
	return &Hub{Account: account, Region: region, newClient: newClient, clients: map[string]API{}}
}

func (h *Hub) client(region string) API {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.clients[region]
	if !ok {
		c = h.newClient(region)
		h.clients[region] = c
	}
	return c
}

func isAccount(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Result is what an import or archive did. A refused finding or a failed
// call is a value here, not an error: the rest of the findings went on.
type Result struct {
	// Batches is the number of BatchImportFindings calls made.
	Batches int
	// Imported are the Ids Security Hub accepted.
	Imported []string
	// Failed are the findings Security Hub refused (FailedFindings).
	Failed []Failure
	// CallErrors are the calls that failed as a whole (after the SDK's
	// retries): none of their findings was imported.
	CallErrors []CallError
	// Skipped are the findings that could not be encoded as ASFF.
	Skipped []reports.ASFFSkip
	// NotFound are the Ids Archive did not find active in Security Hub.
	NotFound []string
}

// Failure is one finding Security Hub refused.
type Failure struct {
	ID      string
	Region  string
	Code    string
	Message string
}

// CallError is one BatchImportFindings or GetFindings call that failed.
type CallError struct {
	Region   string
	Findings int
	Err      error
}

// Errors returns the result's failures as report errors (stage
// "securityhub"), one per refused finding and one per failed call.
func (r Result) Errors(account string) []exposure.Error {
	var out []exposure.Error
	for _, c := range r.CallErrors {
		out = append(out, exposure.Error{Scope: exposure.Scope{Provider: exposure.ProviderAWS, Account: account, Region: c.Region}, Stage: "securityhub",
			Message: fmt.Sprintf("%d findings not sent: %v", c.Findings, c.Err)})
	}
	for _, f := range r.Failed {
		out = append(out, exposure.Error{Scope: exposure.Scope{Provider: exposure.ProviderAWS, Account: account, Region: f.Region}, Stage: "securityhub",
			Resource: f.ID, Message: fmt.Sprintf("finding refused: %s: %s", f.Code, f.Message)})
	}
	return out
}

// Import sends every finding of doc to Security Hub under the hub's
// account, one BatchImportFindings call per batch (one region, at most 100
// findings), each to its region's client. It returns an error only when
// it could not start or ctx ended; what Security Hub refused is in the
// Result.
func Import(ctx context.Context, hub *Hub, doc *reports.Document) (Result, error) {
	return importDocument(ctx, hub, doc, nil, time.Time{})
}

// importDocument is Import with, when firstSeen is not nil (a state),
// each finding's CreatedAt the first sighting of its exposure and
// UpdatedAt now (see dates).
func importDocument(ctx context.Context, hub *Hub, doc *reports.Document, firstSeen map[exposure.Key]time.Time, now time.Time) (Result, error) {
	var res Result
	if doc == nil {
		return res, errors.New("security hub import: no report")
	}
	batches, skipped, err := reports.ASFF(doc, reports.ASFFOptions{Account: hub.Account, Region: hub.Region})
	if err != nil {
		return res, fmt.Errorf("security hub import: %w", err)
	}
	res.Skipped = skipped
	created := dates(doc, firstSeen, now)
	for _, b := range batches {
		findings := make([]types.AwsSecurityFinding, len(b.Findings))
		for i, raw := range b.Findings {
			// The SDK's finding type names its fields as ASFF does, so
			// the encoded finding decodes into it field for field.
			if err := json.Unmarshal(raw, &findings[i]); err != nil {
				return res, fmt.Errorf("security hub import: decode an ASFF finding: %w", err)
			}
			if c, ok := created[aws.ToString(findings[i].Id)]; ok {
				findings[i].CreatedAt, findings[i].UpdatedAt = aws.String(c), aws.String(now.UTC().Format(time.RFC3339))
			}
		}
		if err := importBatch(ctx, hub.client(b.Region), b.Region, findings, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// dates maps the Security Hub Id of each finding to its CreatedAt
// (RFC 3339) when the state is known (firstSeen not nil): the first
// sighting of its exposure as the state recorded it, or the report's time
// for an exposure it does not know; never later than now, the UpdatedAt
// of every finding then. The state records a first sighting when the
// run that saw it is tracked, after the report's time: dating the
// findings of a first run from the report and those of the next from the
// state would move their CreatedAt, so with a state every date is the
// state's (first seen) or the import's (updated).
func dates(doc *reports.Document, firstSeen map[exposure.Key]time.Time, now time.Time) map[string]string {
	if firstSeen == nil {
		return nil
	}
	report, err := time.Parse(time.RFC3339, doc.GeneratedAt)
	if err != nil || report.After(now) {
		report = now
	}
	out := make(map[string]string, len(doc.Findings))
	for _, f := range doc.Findings {
		c := report
		if f.Exposure != nil {
			if t, ok := firstSeen[f.Exposure.Key]; ok && !t.IsZero() {
				c = t
			}
		}
		if c.After(now) {
			c = now
		}
		out[reports.ASFFFindingID(f)] = c.UTC().Format(time.RFC3339)
	}
	return out
}

// importBatch makes one BatchImportFindings call and records its outcome.
// It returns an error only when ctx has ended.
func importBatch(ctx context.Context, c API, region string, findings []types.AwsSecurityFinding, res *Result) error {
	res.Batches++
	out, err := c.BatchImportFindings(ctx, &sh.BatchImportFindingsInput{Findings: findings})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("security hub import in %s: %w", region, ctx.Err())
		}
		res.CallErrors = append(res.CallErrors, CallError{Region: region, Findings: len(findings),
			Err: fmt.Errorf("import findings into %s: %w", region, err)})
		return nil
	}
	failed := map[string]bool{}
	for _, f := range out.FailedFindings {
		id := aws.ToString(f.Id)
		failed[id] = true
		res.Failed = append(res.Failed, Failure{ID: id, Region: region, Code: aws.ToString(f.ErrorCode), Message: aws.ToString(f.ErrorMessage)})
	}
	for _, f := range findings {
		if id := aws.ToString(f.Id); !failed[id] {
			res.Imported = append(res.Imported, id)
		}
	}
	return nil
}

// filterValues is how many values one GetFindings string filter may hold.
// https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_AwsSecurityFindingFilters.html
const filterValues = 20

// RegionOf is the Security Hub region a finding Id (reports.ASFFFindingID)
// was imported into: the region it starts with for AWS findings, the
// hub's region for GCP and Azure ones.
func (h *Hub) RegionOf(id string) string {
	first, _, _ := strings.Cut(id, "/")
	if first == "" || first != exposure.ProviderAWS && slices.Contains(exposure.Providers(), first) {
		return h.Region
	}
	return first
}

// Archive retires the findings with the given Ids (reports.ASFFFindingID:
// findings that resolved since they were imported): it reads each from
// Security Hub (GetFindings) and imports it again with RecordState
// ARCHIVED and UpdatedAt now, the way a finding provider says a finding
// is no longer active. Ids not found active are listed in NotFound.
func Archive(ctx context.Context, hub *Hub, ids []string, now time.Time) (Result, error) {
	var res Result
	byRegion := map[string][]string{}
	for _, id := range ids {
		r := hub.RegionOf(id)
		byRegion[r] = append(byRegion[r], id)
	}
	ts := now.UTC().Format(time.RFC3339Nano)
	for _, region := range slices.Sorted(maps.Keys(byRegion)) {
		c := hub.client(region)
		want := map[string]bool{}
		for _, id := range byRegion[region] {
			want[id] = true
		}
		var found []types.AwsSecurityFinding
		for chunk := range slices.Chunk(byRegion[region], filterValues) {
			got, err := activeFindings(ctx, c, hub.Account, chunk)
			if err != nil {
				if ctx.Err() != nil {
					return res, fmt.Errorf("security hub archive in %s: %w", region, ctx.Err())
				}
				res.CallErrors = append(res.CallErrors, CallError{Region: region, Findings: len(chunk),
					Err: fmt.Errorf("read findings in %s: %w", region, err)})
				continue
			}
			for _, f := range got {
				// Filter here too: the filter is what Security Hub
				// applies, and the same Id may come back twice.
				if id := aws.ToString(f.Id); want[id] && f.RecordState != types.RecordStateArchived {
					delete(want, id)
					found = append(found, archived(f, ts))
				}
			}
		}
		for _, id := range byRegion[region] {
			if want[id] {
				res.NotFound = append(res.NotFound, id)
			}
		}
		for batch := range slices.Chunk(found, 100) {
			if err := importBatch(ctx, c, region, batch, &res); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// activeFindings reads the active findings of the account with the given
// Ids, every page.
func activeFindings(ctx context.Context, c API, account string, ids []string) ([]types.AwsSecurityFinding, error) {
	filters := &types.AwsSecurityFindingFilters{
		AwsAccountId: []types.StringFilter{{Comparison: types.StringFilterComparisonEquals, Value: aws.String(account)}},
		RecordState:  []types.StringFilter{{Comparison: types.StringFilterComparisonEquals, Value: aws.String(string(types.RecordStateActive))}},
	}
	for _, id := range ids {
		filters.Id = append(filters.Id, types.StringFilter{Comparison: types.StringFilterComparisonEquals, Value: aws.String(id)})
	}
	var out []types.AwsSecurityFinding
	p := sh.NewGetFindingsPaginator(c, &sh.GetFindingsInput{Filters: filters, MaxResults: aws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Findings...)
	}
	return out, nil
}

// archived is f imported again as no longer active. The fields Security
// Hub itself sets or that customers own (workflow, note, the aws/ product
// fields) are left out: a finding provider cannot update them.
func archived(f types.AwsSecurityFinding, ts string) types.AwsSecurityFinding {
	f.RecordState = types.RecordStateArchived
	f.UpdatedAt = aws.String(ts)
	f.Workflow, f.Note, f.ProcessedAt = nil, nil, nil
	// WorkflowState is deprecated for Workflow.Status, but GetFindings
	// still returns it on the findings archived here, and it is one of the
	// fields Security Hub owns: cleared like Workflow.
	f.WorkflowState = "" //nolint:staticcheck // SA1019: deprecated field, still set by GetFindings; cleared so the import does not carry it
	if f.ProductFields != nil {
		pf := make(map[string]string, len(f.ProductFields))
		for k, v := range f.ProductFields {
			if !strings.HasPrefix(k, "aws/") {
				pf[k] = v
			}
		}
		f.ProductFields = pf
	}
	return f
}

// Tracking is what the monitor's state says of a run (audit --state):
// when each exposure was first seen, and the findings the run retired.
type Tracking struct {
	// FirstSeen is when each exposure key was first seen: the CreatedAt
	// of its findings.
	FirstSeen map[exposure.Key]time.Time
	// Retired are the Security Hub Ids of the findings the state says are
	// no longer raised: those of exposures that resolved, and those no
	// longer raised on an exposure still open, in scopes collected whole
	// (state.Change.Retired).
	Retired []string
}

// TrackingOf reads a run's state changes (audit.TrackResult.Diffs).
func TrackingOf(changes []state.Change) *Tracking {
	t := &Tracking{FirstSeen: map[exposure.Key]time.Time{}}
	for _, c := range changes {
		if c.After != nil && c.Kind != state.Resolved && c.Kind != state.Unverified {
			t.FirstSeen[c.Key] = c.After.FirstSeen
		}
		for _, id := range c.Retired {
			t.Retired = append(t.Retired, reports.ASFFID(c.Key.Provider, c.Key.Account, c.Key.Region, id))
		}
	}
	slices.Sort(t.Retired)
	t.Retired = slices.Compact(t.Retired)
	return t
}

// SyncResult is what Sync did: the import, then the archive.
type SyncResult struct {
	Import, Archive Result
}

// Errors returns both steps' failures as report errors.
func (r SyncResult) Errors(account string) []exposure.Error {
	return append(r.Import.Errors(account), r.Archive.Errors(account)...)
}

// Sync makes Security Hub hold what the run found: it imports doc's
// findings (CreatedAt the first sighting tr knows, UpdatedAt now) and
// archives the findings tr says the run retired. A nil tr (no state)
// imports as Import does (both dates the report's time) and archives
// nothing: without the last run's findings there is nothing to tell
// resolved from never seen. An Id this run imported is never archived.
func Sync(ctx context.Context, hub *Hub, doc *reports.Document, tr *Tracking, now time.Time) (SyncResult, error) {
	var out SyncResult
	var firstSeen map[exposure.Key]time.Time
	if tr != nil {
		firstSeen = tr.FirstSeen
	}
	var err error
	if tr != nil && firstSeen == nil {
		firstSeen = map[exposure.Key]time.Time{}
	}
	if out.Import, err = importDocument(ctx, hub, doc, firstSeen, now); err != nil {
		return out, err
	}
	if tr == nil || len(tr.Retired) == 0 {
		return out, nil
	}
	current := map[string]bool{}
	for _, f := range doc.Findings {
		current[reports.ASFFFindingID(f)] = true
	}
	retire := slices.DeleteFunc(slices.Clone(tr.Retired), func(id string) bool { return current[id] })
	out.Archive, err = Archive(ctx, hub, retire, now)
	return out, err
}
