// Package base is what every Lambda function of Portcullis shares: the AWS
// configuration, the run store, the logger and Start, the whole main of a
// function. It imports no stage, no audit and no provider, so that a
// function links only what its own stage needs (docs/deployment.md,
// "Function weight"): the stages live in functions/internal/stages (the
// ones that audit) and in their own packages beside it (plan, notify).
//
// Configuration comes from environment variables set by infra/template.yaml;
// secrets (GCP and Azure credentials) are read from SSM Parameter Store or
// Secrets Manager at invocation time and never logged.
package base

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/portcullis-sec/portcullis/functions/internal/runstore"
)

// Env looks up one configuration variable (os.Getenv in Lambda).
type Env func(key string) string

// Environment variables shared by every function.
const (
	EnvBucket   = "RUNS_BUCKET"
	EnvLogLevel = "LOG_LEVEL"
)

// Base is what every handler needs: AWS configuration, the run store and
// a logger.
type Base struct {
	AWS     aws.Config
	Store   *runstore.Store
	Log     *slog.Logger
	Version string
	// emulated is set when AWS_ENDPOINT_URL points the SDK at an emulator
	// (moto in tests): probing is refused against one.
	emulated bool
}

// Emulated says AWS_ENDPOINT_URL points the SDK at an emulator (moto in
// tests): probing is refused against one.
func (b *Base) Emulated() bool { return b.emulated }

// NewLogger returns the JSON logger of a function, writing to w (stdout in
// Lambda, where CloudWatch Logs picks it up). LOG_LEVEL is debug, info,
// warn or error (default info).
func NewLogger(w io.Writer, env Env) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(env(EnvLogLevel))); err != nil {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// NewBase loads the AWS configuration from the function's execution role
// (the standard chain) and opens the run store named by RUNS_BUCKET.
func NewBase(ctx context.Context, env Env, log *slog.Logger, version string) (*Base, error) {
	bucket := strings.TrimSpace(env(EnvBucket))
	if bucket == "" {
		return nil, fmt.Errorf("%s is not set: the functions need the runs bucket", EnvBucket)
	}
	// Adaptive retries absorb the throttling of hundreds of concurrent
	// collect tasks calling S3 and STS.
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRetryMode(aws.RetryModeAdaptive), config.WithRetryMaxAttempts(6))
	if err != nil {
		return nil, fmt.Errorf("load aws configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("no aws region: AWS_REGION is set by Lambda; set it when running elsewhere")
	}
	emulated := cfg.BaseEndpoint != nil
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		// An emulator on a loopback address cannot serve virtual-hosted
		// bucket names.
		o.UsePathStyle = emulated
		// Emulators send no response checksums; S3 always does.
		o.DisableLogOutputChecksumValidationSkipped = emulated
	})
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Base{AWS: cfg, Store: runstore.New(client, bucket), Log: log, Version: version, emulated: emulated}, nil
}

// InvocationLog adds the Lambda request ID to every log line of one
// invocation.
func (b *Base) InvocationLog(ctx context.Context, args ...any) *slog.Logger {
	log := b.Log
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		log = log.With("requestId", lc.AwsRequestID)
	}
	return log.With(args...)
}

// WithMargin shortens the invocation's deadline by a tenth (at least 5 s,
// at most 60 s) so that a stage cut short still has time to write what it
// has and say why, instead of being killed by Lambda mid-write.
func WithMargin(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	margin := time.Until(dl) / 10
	margin = min(max(margin, 5*time.Second), time.Minute)
	return context.WithDeadline(ctx, dl.Add(-margin))
}

// List splits a comma- or space-separated variable.
func List(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
	if len(f) == 0 {
		return nil
	}
	return f
}

// IntVar reads a positive integer variable, def when unset.
func IntVar(env Env, key string, def int) (int, error) {
	s := strings.TrimSpace(env(key))
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive integer", key, s)
	}
	return n, nil
}

// BoolVar reads a boolean variable, false when unset.
func BoolVar(env Env, key string) (bool, error) {
	s := strings.TrimSpace(env(key))
	if s == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%s=%q: want true or false", key, s)
	}
	return v, nil
}

// RunInput is the event of the Plan and Probe stages.
type RunInput struct {
	RunID string `json:"runId"`
}

// Start is the whole main of a function: it configures the logger and the
// AWS clients from the environment, builds the stage's handler with
// newHandler (returning the handler function lambda.Start accepts) and
// serves invocations. A configuration error is logged and exits 1, which
// Lambda reports as an init failure.
func Start(version string, newHandler func(b *Base, env Env) (any, error)) {
	log := NewLogger(os.Stdout, os.Getenv)
	b, err := NewBase(context.Background(), os.Getenv, log, version)
	var h any
	if err == nil {
		h, err = newHandler(b, os.Getenv)
	}
	if err != nil {
		log.Error("configure function", "error", err)
		os.Exit(1)
	}
	lambda.Start(h)
}
