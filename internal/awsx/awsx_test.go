package awsx

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

func TestNotFound(t *testing.T) {
	other := errors.New("access denied")
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"NoSuchKey", fmt.Errorf("get: %w", &s3types.NoSuchKey{}), true},
		{"NotFound", &s3types.NotFound{}, true},
		{"generic 404 code", &smithy.GenericAPIError{Code: "NotFound"}, true},
		{"other api error", &smithy.GenericAPIError{Code: "AccessDenied"}, false},
		{"other error", other, false},
		{"nil", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := NotFound(tc.err)
			if errors.Is(got, ErrNotFound) != tc.want {
				t.Fatalf("NotFound(%v) = %v; is ErrNotFound %v, want %v", tc.err, got, !tc.want, tc.want)
			}
			if tc.err != nil && !errors.Is(got, tc.err) {
				t.Errorf("the original error is lost: %v", got)
			}
		})
	}
}

func TestS3Options(t *testing.T) {
	var o s3.Options
	S3Options(aws.Config{})(&o)
	if o.UsePathStyle || o.DisableLogOutputChecksumValidationSkipped {
		t.Errorf("real S3 got emulator options: %+v", o)
	}
	S3Options(aws.Config{BaseEndpoint: aws.String("http://127.0.0.1:5000")})(&o)
	if !o.UsePathStyle || !o.DisableLogOutputChecksumValidationSkipped {
		t.Errorf("emulator options missing: path style %v, checksum log %v", o.UsePathStyle, o.DisableLogOutputChecksumValidationSkipped)
	}
}
