// Package runstore is the S3 layout of one serverless audit run, shared by
// the Lambda functions under functions/:
//
//	runs/<run-id>/plan.json                      work items (JSON array; the Map's ItemReader)
//	runs/<run-id>/snapshot/<snapshot path>       raw API responses, keys = snapshot paths
//	runs/<run-id>/errors/<provider>/<account>[/<region>].json
//	                                             partial failures of one work item, written
//	                                             last: its presence marks the item finished
//	runs/<run-id>/map/                           Step Functions' Map results (ResultWriter)
//	runs/<run-id>/report.json, report.html       the report
//	runs/<run-id>/observations.json              probe results: written by the probe stage,
//	                                             read by the report stage
//
// Every collect task writes only below its own account and region, so the
// tasks of one run never overwrite each other's files; the report stage
// reads the whole prefix back as one snapshot.
package runstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/providers"
)

// Object names inside a run's prefix.
const (
	PlanFile         = "plan.json"
	ReportJSON       = "report.json"
	ReportHTML       = "report.html"
	ObservationsFile = "observations.json"
	snapshotDir      = "snapshot"
	errorsDir        = "errors"
	// MapResultsDir is where the state machine's distributed Map writes
	// its results (ResultWriter).
	MapResultsDir = "map"
)

// Item is one unit of collection: an AWS account and region, a GCP project
// or an Azure subscription. Its fields mirror exposure.Scope.
type Item struct {
	Provider string `json:"provider"`
	// Account is the AWS account ID, GCP project ID or Azure subscription ID.
	Account string `json:"account"`
	// Region is the AWS region; empty for GCP and Azure, whose collectors
	// cover every region of a project or subscription in one pass.
	Region string `json:"region,omitempty"`
}

func (i Item) String() string {
	s := i.Provider + " " + i.Account
	if i.Region != "" {
		s += " " + i.Region
	}
	return s
}

var (
	awsAccount = regexp.MustCompile(`^[0-9]{12}$`)
	awsRegion  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	// GCP project IDs: 6-30 lower-case letters, digits and hyphens
	// (https://cloud.google.com/resource-manager/docs/creating-managing-projects);
	// legacy domain-scoped IDs carry "domain:".
	gcpProject = regexp.MustCompile(`^([a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	azureSub   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	runID      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$`)
)

// Validate checks an item before it becomes S3 keys and API calls: the
// fields end up in object keys and role ARNs, so only the documented
// identifier shapes are accepted.
//
// These are the checks of the drivers' ValidScope (audit's provider
// table), restated here because the plan and notify functions must not link
// audit nor every provider's SDK (internal/archtest, TestFunctionWeight);
// TestValidateFollowsDriverTable holds the two equal.
func (i Item) Validate() error {
	switch i.Provider {
	case exposure.ProviderAWS:
		if !awsAccount.MatchString(i.Account) {
			return fmt.Errorf("work item: aws account %q is not a 12-digit account ID", i.Account)
		}
		if !awsRegion.MatchString(i.Region) {
			return fmt.Errorf("work item: aws region %q is not a region name", i.Region)
		}
	case exposure.ProviderGCP:
		if !gcpProject.MatchString(i.Account) {
			return fmt.Errorf("work item: gcp project %q is not a project ID", i.Account)
		}
		if i.Region != "" {
			return fmt.Errorf("work item: gcp project %s: region must be empty (a project is collected whole)", i.Account)
		}
	case exposure.ProviderAzure:
		if !azureSub.MatchString(i.Account) {
			return fmt.Errorf("work item: azure subscription %q is not a subscription ID", i.Account)
		}
		if i.Region != "" {
			return fmt.Errorf("work item: azure subscription %s: region must be empty (a subscription is collected whole)", i.Account)
		}
	default:
		return fmt.Errorf("work item: unknown provider %q (want one of %s)", i.Provider, strings.Join(exposure.Providers(), ", "))
	}
	return nil
}

// ValidRunID checks a run ID: it is a Step Functions execution name
// (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html)
// restricted to characters that are safe in an S3 key.
func ValidRunID(id string) error {
	if !runID.MatchString(id) {
		return fmt.Errorf("run id %q: want 1-80 letters, digits, '.', '_' or '-'", id)
	}
	return nil
}

// Store reads and writes runs in one bucket.
type Store struct {
	client *s3.Client
	bucket string
	// Concurrency bounds parallel PutObject/GetObject calls.
	Concurrency int
}

// New returns a store over bucket.
func New(client *s3.Client, bucket string) *Store {
	return &Store{client: client, bucket: bucket, Concurrency: 16}
}

// Bucket is the store's bucket name.
func (s *Store) Bucket() string { return s.bucket }

// Key returns the object key of name inside a run.
func Key(run string, name ...string) string {
	return path.Join(append([]string{"runs", run}, name...)...)
}

func errorsKey(run string, it Item) string {
	parts := []string{errorsDir, it.Provider, it.Account}
	if it.Region != "" {
		parts = append(parts, it.Region)
	}
	k := Key(run, parts...)
	return k + ".json"
}

// Put writes one object.
func (s *Store) Put(ctx context.Context, key, contentType string, body []byte) error {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentType: aws.String(contentType), ContentLength: aws.Int64(int64(len(body))),
	})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", s.bucket, key, err)
	}
	return nil
}

// PutJSON writes v as indented JSON.
func (s *Store) PutJSON(ctx context.Context, key string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return s.Put(ctx, key, "application/json", append(b, '\n'))
}

// Get reads one object whole.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		var nsk *s3types.NoSuchKey
		if errors.As(err, &nsk) {
			return nil, fmt.Errorf("get s3://%s/%s: %w", s.bucket, key, ErrNotFound)
		}
		return nil, fmt.Errorf("get s3://%s/%s: %w", s.bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", s.bucket, key, err)
	}
	return b, nil
}

// ErrNotFound is returned (wrapped) for a missing object.
var ErrNotFound = errors.New("no such object")

// GetIfExists reads an object that may not exist, such as a run's
// observations.json (absent when the run was not probed). It lists the key
// before reading it instead of reading and expecting NoSuchKey: S3 answers
// a GetObject of a missing key with 403 Access Denied, not 404, unless the
// caller may list the bucket
// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html),
// and whether a ListBucket grant narrowed by an s3:prefix condition counts
// for a request that carries no prefix is IAM's to decide. A listing
// answers "absent" without that ambiguity.
func (s *Store) GetIfExists(ctx context.Context, key string) ([]byte, bool, error) {
	objs, err := s.list(ctx, key)
	if err != nil {
		return nil, false, err
	}
	if !slices.ContainsFunc(objs, func(o object) bool { return o.key == key }) {
		return nil, false, nil
	}
	b, err := s.Get(ctx, key)
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// PutPlan writes a run's work items and returns the key.
func (s *Store) PutPlan(ctx context.Context, run string, items []Item) (string, error) {
	key := Key(run, PlanFile)
	if items == nil {
		items = []Item{}
	}
	return key, s.PutJSON(ctx, key, items)
}

// Plan reads a run's work items.
func (s *Store) Plan(ctx context.Context, run string) ([]Item, error) {
	b, err := s.Get(ctx, Key(run, PlanFile))
	if err != nil {
		return nil, err
	}
	var items []Item
	if err := json.Unmarshal(b, &items); err != nil {
		return nil, fmt.Errorf("%s: %w", Key(run, PlanFile), err)
	}
	return items, nil
}

// PutSnapshot writes the files of one work item's snapshot and then its
// errors (the completion marker). A file outside the item's own directory
// (provider/account/) is not written but recorded as an error: a task must
// never overwrite another task's files, and a role that answers for another
// account than the one planned is a misconfiguration to report.
// It returns the number of files written and of errors recorded.
func (s *Store) PutSnapshot(ctx context.Context, run string, it Item, snap *providers.Snapshot) (files, errCount int, err error) {
	fsys := snap.FS()
	names, errs := Kept(it, snap)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(s.Concurrency, 1))
	for _, name := range names {
		g.Go(func() error {
			b, err := fs.ReadFile(fsys, name)
			if err != nil {
				return err
			}
			return s.Put(gctx, Key(run, snapshotDir, name), "application/json", b)
		})
	}
	if err := g.Wait(); err != nil {
		return 0, 0, err
	}
	return len(names), len(errs), s.PutErrors(ctx, run, it, errs)
}

// PutErrors writes the partial failures of one work item; an empty list
// still marks the item finished.
func (s *Store) PutErrors(ctx context.Context, run string, it Item, errs []exposure.Error) error {
	if errs == nil {
		errs = []exposure.Error{}
	}
	return s.PutJSON(ctx, errorsKey(run, it), errs)
}

// Errors merges the partial failures of every work item of a run, and adds
// one for each planned item that left no errors file (its collect task
// failed or timed out without reporting), so a report never looks complete
// when part of the estate was not read.
func (s *Store) Errors(ctx context.Context, run string) ([]exposure.Error, error) {
	prefix := Key(run, errorsDir) + "/"
	keys, err := s.list(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var (
		all  []exposure.Error
		done = map[string]bool{}
	)
	for _, k := range keys {
		if !strings.HasSuffix(k.key, ".json") {
			continue
		}
		done[k.key] = true
		b, err := s.Get(ctx, k.key)
		if err != nil {
			return nil, err
		}
		var errs []exposure.Error
		if err := json.Unmarshal(b, &errs); err != nil {
			all = append(all, exposure.Error{Stage: "snapshot", Resource: k.key, Message: "unreadable errors file: " + err.Error()})
			continue
		}
		all = append(all, errs...)
	}
	plan, err := s.Plan(ctx, run)
	switch {
	case errors.Is(err, ErrNotFound):
		// A run started by hand without a plan: nothing to compare.
	case err != nil:
		return nil, err
	default:
		for _, it := range plan {
			if !done[errorsKey(run, it)] {
				all = append(all, exposure.Error{
					Scope: exposure.Scope{Provider: it.Provider, Account: it.Account, Region: it.Region},
					Stage: "collect", Message: "no result from the collect task (it failed or timed out): this scope is not in the report",
				})
			}
		}
	}
	return all, nil
}

type object struct {
	key  string
	size int64
}

func (s *Store) list(ctx context.Context, prefix string) ([]object, error) {
	var out []object
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", s.bucket, prefix, err)
		}
		for _, o := range page.Contents {
			out = append(out, object{key: aws.ToString(o.Key), size: aws.ToInt64(o.Size)})
		}
	}
	return out, nil
}

// Kept splits a work item's snapshot into the files PutSnapshot keeps
// (inside the item's own provider/account/ directory) and its errors, with
// one for every file left out.
func Kept(it Item, snap *providers.Snapshot) ([]string, []exposure.Error) {
	own := it.Provider + "/" + it.Account + "/"
	errs := snap.Errors()
	var names []string
	for _, name := range snap.Names() {
		if !strings.HasPrefix(name, own) {
			errs = append(errs, exposure.Error{
				Scope: exposure.Scope{Provider: it.Provider, Account: it.Account, Region: it.Region}, Stage: "collect", Resource: name,
				Message: "the collection of " + it.String() + " produced a file outside " + own + " (does the role belong to another account?): not kept",
			})
			continue
		}
		names = append(names, name)
	}
	return names, errs
}
