package runstore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/internal/mototest"
	"github.com/portcullis-sec/portcullis/providers"
)

func TestMain(m *testing.M) { os.Exit(mototest.Main(m, true, nil)) }

func newStore(t *testing.T, bucket string) *Store {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BaseEndpoint == nil || !strings.HasPrefix(*cfg.BaseEndpoint, "http://127.0.0.1:") {
		t.Fatal("not pointed at moto on loopback: refusing to go on")
	}
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle, o.DisableLogOutputChecksumValidationSkipped = true, true })
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	return New(c, bucket)
}

// TestSnapshotFS writes two work items' snapshots and reads the run back
// through the fs.FS the report stage audits, checked by fstest.TestFS.
func TestSnapshotFS(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, "snapshot-fs")
	const run = "r1"
	items := []Item{
		{Provider: "aws", Account: "123456789012", Region: "eu-west-1"},
		{Provider: "aws", Account: "123456789012", Region: "us-east-1"},
		{Provider: "gcp", Account: "acme-prod"},
	}
	if _, err := s.PutPlan(ctx, run, items); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, it := range items[:2] {
		snap := providers.NewSnapshot()
		for _, f := range []string{"ec2-describe-vpcs.json", "ec2-get-managed-prefix-list-entries/pl-1.json"} {
			name := providers.Join("aws", it.Account, it.Region, f)
			body := `{"item":"` + it.String() + `"}`
			if err := snap.Put(name, []byte(body)); err != nil {
				t.Fatal(err)
			}
			want[name] = body
		}
		// Every regional task writes the account's identity: same bytes.
		_ = snap.Put("aws/123456789012/sts-get-caller-identity.json", []byte(`{"Account":"123456789012"}`))
		want["aws/123456789012/sts-get-caller-identity.json"] = `{"Account":"123456789012"}`
		if it.Region == "us-east-1" {
			snap.AddError(exposure.Error{Scope: exposure.Scope{Provider: "aws", Account: it.Account, Region: it.Region}, Stage: "collect", Resource: "ec2:DescribeNatGateways", Message: "denied"})
			// A file of another account is refused and reported.
			_ = snap.Put("aws/999999999999/sts-get-caller-identity.json", []byte(`{}`))
		}
		files, nerr, err := s.PutSnapshot(ctx, run, it, snap)
		if err != nil {
			t.Fatal(err)
		}
		wantErrs := 0
		if it.Region == "us-east-1" {
			wantErrs = 2
		}
		if files != 3 || nerr != wantErrs {
			t.Errorf("%s: %d files, %d errors; want 3 and %d", it, files, nerr, wantErrs)
		}
	}

	fsys, err := s.Snapshot(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range want {
		names = append(names, n)
	}
	if err := fstest.TestFS(fsys, append(names, providers.ErrorsFile)...); err != nil {
		t.Fatal(err)
	}
	for n, body := range want {
		b, err := fs.ReadFile(fsys, n)
		if err != nil || string(b) != body {
			t.Errorf("%s: %q, %v; want %q", n, b, err, body)
		}
	}
	if _, err := fs.Stat(fsys, "aws/999999999999"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("another account's file was kept: %v", err)
	}
	errs, err := providers.ReadErrors(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	joined := strings.Join(got, "\n")
	for _, w := range []string{
		"collect aws 123456789012 us-east-1 ec2:DescribeNatGateways: denied",
		"collect aws 123456789012 us-east-1 aws/999999999999/sts-get-caller-identity.json:",
		"collect gcp acme-prod: no result from the collect task",
	} {
		if !strings.Contains(joined, w) {
			t.Errorf("errors.json lacks %q:\n%s", w, joined)
		}
	}
	if len(errs) != 3 {
		t.Errorf("%d errors, want 3:\n%s", len(errs), joined)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		it Item
		ok bool
	}{
		{Item{Provider: "aws", Account: "123456789012", Region: "eu-west-1"}, true},
		{Item{Provider: "aws", Account: "123456789012", Region: "us-gov-west-1"}, true},
		{Item{Provider: "aws", Account: "123456789012", Region: "eu-west-1/../../x"}, false},
		{Item{Provider: "aws", Account: "12345678901", Region: "eu-west-1"}, false},
		{Item{Provider: "aws", Account: "123456789012"}, false},
		{Item{Provider: "gcp", Account: "acme-prod"}, true},
		{Item{Provider: "gcp", Account: "example.com:acme-prod"}, true},
		{Item{Provider: "gcp", Account: "acme-prod", Region: "europe-west1"}, false},
		{Item{Provider: "gcp", Account: "../acme"}, false},
		{Item{Provider: "azure", Account: "0b1f6471-1bf0-4dda-aec3-cb9272f09590"}, true},
		{Item{Provider: "azure", Account: "my-subscription"}, false},
		{Item{Provider: "oci", Account: "x"}, false},
	} {
		if err := tc.it.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: %v, want ok=%v", tc.it, err, tc.ok)
		}
	}
	for id, ok := range map[string]bool{"a1b2c3d4-aaaa-bbbb-cccc-0123456789ab": true, "manual-20250101T000000Z": true, "": false, "../x": false, "a/b": false, strings.Repeat("a", 81): false} {
		if err := ValidRunID(id); (err == nil) != ok {
			t.Errorf("run id %q: %v, want ok=%v", id, err, ok)
		}
	}
}
