// Package awsx holds the small pieces of AWS SDK configuration that several
// packages share: S3 client options that work against emulators, and the
// mapping of S3's "no such object" answers to one sentinel error.
package awsx

import (
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// ErrNotFound is returned (wrapped) for an S3 object that does not exist.
var ErrNotFound = errors.New("no such object")

// Emulated reports whether cfg points at an emulator (moto, LocalStack):
// the SDK sets BaseEndpoint from AWS_ENDPOINT_URL, and nothing else does.
func Emulated(cfg aws.Config) bool { return cfg.BaseEndpoint != nil }

// S3Options returns the S3 client options for cfg: with a BaseEndpoint
// (an emulator), path-style addressing, since an emulator on a loopback
// address cannot serve virtual-hosted bucket names, and no log line about
// the response checksums emulators do not send (S3 always sends them).
func S3Options(cfg aws.Config) func(*s3.Options) {
	emulated := Emulated(cfg)
	return func(o *s3.Options) {
		o.UsePathStyle = emulated
		o.DisableLogOutputChecksumValidationSkipped = emulated
	}
}

// NewS3 is s3.NewFromConfig with S3Options.
func NewS3(cfg aws.Config) *s3.Client { return s3.NewFromConfig(cfg, S3Options(cfg)) }

// NotFound maps S3's answers for a missing object to ErrNotFound, keeping
// the original error in the chain: GetObject answers NoSuchKey; HeadObject,
// which has no body to carry an error code, answers a bare 404 that the SDK
// surfaces as NotFound
// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html).
// Any other error is returned unchanged.
func NotFound(err error) error {
	if err == nil || errors.Is(err, ErrNotFound) {
		return err
	}
	var nsk *s3types.NoSuchKey
	var nf *s3types.NotFound
	var api smithy.APIError
	if errors.As(err, &nsk) || errors.As(err, &nf) ||
		(errors.As(err, &api) && (api.ErrorCode() == "NoSuchKey" || api.ErrorCode() == "NotFound")) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}
