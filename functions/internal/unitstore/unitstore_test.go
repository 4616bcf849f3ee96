package unitstore

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/portcullis-sec/portcullis/audit/unitresult"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/functions/internal/runstore"
	"github.com/portcullis-sec/portcullis/internal/mototest"
)

func TestMain(m *testing.M) { os.Exit(mototest.Main(m, true, nil)) }

func newStore(t *testing.T, bucket string) *runstore.Store {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BaseEndpoint == nil || !strings.HasPrefix(*cfg.BaseEndpoint, "http://127.0.0.1:") {
		t.Fatal("not pointed at moto on loopback: refusing to go on")
	}
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle, o.DisableLogOutputChecksumValidationSkipped = true, true })
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	s := runstore.New(c, bucket)
	return s
}

// TestUnits: results come back in unit order whatever the plan's order and
// the fetches' timing; a unit without a result, one whose result cannot be
// decoded and one whose result is another unit's are each an error of that
// scope, never dropped and never read as clean.
func TestUnits(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, "units")
	s.Concurrency = 3
	const run = "r1"
	var items []runstore.Item
	for _, r := range []string{"us-west-2", "eu-west-1", "ap-south-1", "eu-north-1", "us-east-1", "ca-central-1", "sa-east-1"} {
		items = append(items, runstore.Item{Provider: "aws", Account: "111122223333", Region: r})
	}
	scope := func(it runstore.Item) exposure.Scope {
		return exposure.Scope{Provider: it.Provider, Account: it.Account, Region: it.Region}
	}
	for i, it := range items {
		switch i {
		case 0: // no result
		case 1:
			if err := s.Put(ctx, Key(run, it), unitresult.ContentType, []byte("not gzip")); err != nil {
				t.Fatal(err)
			}
		case 2:
			other := items[3]
			if _, err := Put(ctx, s, run, it, &unitresult.Result{Unit: scope(other)}); err != nil {
				t.Fatal(err)
			}
		default:
			if _, err := Put(ctx, s, run, it, &unitresult.Result{Unit: scope(it), Audited: []string{"aws"}, Targets: i}); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := map[string]string{
		"us-west-2": "no result from the collect task", "eu-west-1": "unreadable unit result",
		"ap-south-1": "not of this scope",
	}
	var got []string
	for u, err := range Units(ctx, s, run, items) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, u.Unit.Region)
		msg, bad := want[u.Unit.Region]
		switch {
		case bad && (len(u.CollectErrors) != 1 || !strings.Contains(u.CollectErrors[0].Message, msg) || u.CollectErrors[0].Region != u.Unit.Region):
			t.Errorf("%s: errors %v, want one saying %q", u.Unit.Region, u.CollectErrors, msg)
		case !bad && (len(u.CollectErrors) != 0 || len(u.Audited) != 1 || u.Targets < 3):
			t.Errorf("%s: %+v, want the stored result", u.Unit.Region, u)
		}
	}
	wantOrder := "ap-south-1 ca-central-1 eu-north-1 eu-west-1 sa-east-1 us-east-1 us-west-2"
	if strings.Join(got, " ") != wantOrder {
		t.Errorf("order %v, want %s", got, wantOrder)
	}
	// A consumer that stops early ends the fetches.
	n := 0
	for range Units(ctx, s, run, items) {
		n++
		break
	}
	if n != 1 {
		t.Errorf("early stop: %d results", n)
	}
}
