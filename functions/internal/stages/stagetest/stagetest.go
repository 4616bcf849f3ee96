// Package stagetest holds what the stage packages' tests share: a function
// base writing to a fresh moto bucket and a Lambda invocation context.
// Tests only.
package stagetest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/portcullis-sec/portcullis/functions/internal/stages/base"
	"github.com/portcullis-sec/portcullis/internal/mototest"
)

// Env is a function environment from a map.
func Env(m map[string]string) base.Env { return func(k string) string { return m[k] } }

// NewBase opens a fresh bucket in moto and returns the base of a function
// writing to it. It refuses to go on when AWS_ENDPOINT_URL (set by
// mototest.Main) is not in effect, so that no test reaches AWS.
func NewBase(t *testing.T, bucket string, log io.Writer) *base.Base {
	t.Helper()
	if log == nil {
		log = io.Discard
	}
	b, err := base.NewBase(context.Background(), Env(map[string]string{base.EnvBucket: bucket}), slog.New(slog.NewJSONHandler(log, nil)), "test")
	if err != nil {
		t.Fatal(err)
	}
	if !b.Emulated() {
		t.Fatal("AWS_ENDPOINT_URL is not in effect: refusing to go on")
	}
	if _, err := s3.NewFromConfig(b.AWS, func(o *s3.Options) { o.UsePathStyle = true }).CreateBucket(context.Background(),
		&s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	return b
}

// LambdaCtx is an invocation context with a deadline and a function ARN.
func LambdaCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       "req-1",
		InvokedFunctionArn: "arn:aws:lambda:us-east-1:" + mototest.Account + ":function:portcullis-collect",
	})
}
