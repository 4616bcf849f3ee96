package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/internal/awsx"
)

// S3 stores baselines as objects s3://bucket/prefix/<provider>/<account>[/<region>].json
// and uses S3's conditional writes as compare-and-swap: the first write of
// a scope sends If-None-Match: *, every later one If-Match with the ETag
// that was loaded; S3 answers 412 Precondition Failed when the object
// exists or changed, and Save returns ErrConflict
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
type S3 struct {
	client *s3.Client
	bucket string
	prefix string // "" or ending in "/"
}

// NewS3 opens an S3 store; cfg's BaseEndpoint (an emulator) switches to
// path-style addressing (internal/awsx).
func NewS3(cfg aws.Config, bucket, prefix string) (*S3, error) {
	if bucket == "" {
		return nil, errors.New("open s3 state: no bucket")
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &S3{client: awsx.NewS3(cfg), bucket: bucket, prefix: prefix}, nil
}

func (s *S3) key(sc exposure.Scope) (string, error) {
	if err := validScope(sc); err != nil {
		return "", err
	}
	return s.prefix + ScopeString(sc) + ".json", nil
}

// Load implements Store.
func (s *S3) Load(ctx context.Context, sc exposure.Scope) (*Baseline, Version, error) {
	sc = Partition(sc)
	key, err := s.key(sc)
	if err != nil {
		return nil, "", fmt.Errorf("load state: %w", err)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err = awsx.NotFound(err); errors.Is(err, awsx.ErrNotFound) {
		return NewBaseline(sc), "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("load state s3://%s/%s: %w", s.bucket, key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, "", fmt.Errorf("load state s3://%s/%s: %w", s.bucket, key, err)
	}
	b, err := Decode(data)
	if err != nil {
		return nil, "", fmt.Errorf("load state s3://%s/%s: %w", s.bucket, key, err)
	}
	if b.Scope != sc {
		return nil, "", fmt.Errorf("load state s3://%s/%s: holds scope %s", s.bucket, key, ScopeString(b.Scope))
	}
	if out.ETag == nil || *out.ETag == "" {
		return nil, "", fmt.Errorf("load state s3://%s/%s: no ETag in the answer", s.bucket, key)
	}
	return b, Version(*out.ETag), nil
}

// Save implements Store.
func (s *S3) Save(ctx context.Context, b *Baseline, v Version) (Version, error) {
	data, err := checkSave(b)
	if err != nil {
		return "", err
	}
	key, err := s.key(b.Scope)
	if err != nil {
		return "", fmt.Errorf("save state: %w", err)
	}
	in := &s3.PutObjectInput{
		Bucket: &s.bucket, Key: &key, Body: bytes.NewReader(data),
		ContentType: aws.String("application/json"),
	}
	if v == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(string(v))
	}
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		if preconditionFailed(err) {
			return "", fmt.Errorf("save state s3://%s/%s: %w", s.bucket, key, ErrConflict)
		}
		return "", fmt.Errorf("save state s3://%s/%s: %w", s.bucket, key, err)
	}
	if out.ETag == nil || *out.ETag == "" {
		return "", fmt.Errorf("save state s3://%s/%s: no ETag in the answer", s.bucket, key)
	}
	return Version(*out.ETag), nil
}

// preconditionFailed recognizes S3's answers to a failed condition: 412
// PreconditionFailed, and 409 ConditionalRequestConflict, which S3 returns
// when a concurrent conditional write to the same key is in progress.
func preconditionFailed(err error) bool {
	var api smithy.APIError
	if errors.As(err, &api) && (api.ErrorCode() == "PreconditionFailed" || api.ErrorCode() == "ConditionalRequestConflict") {
		return true
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusPreconditionFailed
}

// Scopes implements Store.
func (s *S3) Scopes(ctx context.Context) ([]exposure.Scope, error) {
	var out []exposure.Scope
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(s.prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list state s3://%s/%s: %w", s.bucket, s.prefix, err)
		}
		for _, o := range page.Contents {
			k := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
			if !strings.HasSuffix(k, ".json") {
				continue
			}
			if sc, ok := parseScopeKey(strings.TrimSuffix(k, ".json")); ok {
				out = append(out, sc)
			}
		}
	}
	slices.SortFunc(out, compareScope)
	return out, nil
}
