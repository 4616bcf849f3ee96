// Package stages holds the handlers of Portcullis's Lambda functions that
// audit: Collect, Probe, Report and React (the Plan and Notify stages have
// their own packages beside it, so that their functions do not link the
// audit package and every cloud's SDK). Each handler parses its event,
// calls the audit package and the run store, and returns; the main
// packages under functions/ only build a handler from the environment and
// start it.
//
// Configuration comes from environment variables set by infra/template.yaml;
// secrets (GCP and Azure credentials) are read from SSM Parameter Store or
// Secrets Manager at invocation time and never logged.
package stages

import (
	"context"
	"io"
	"log/slog"

	"github.com/portcullis-sec/portcullis/functions/internal/stages/base"
)

// The base of every function lives in package base; these names keep the
// stages' code and the main packages reading as they did.
type (
	// Base is base.Base.
	Base = base.Base
	// Env is base.Env.
	Env = base.Env
	// RunInput is base.RunInput.
	RunInput = base.RunInput
)

// Environment variables shared by every function.
const (
	EnvBucket   = base.EnvBucket
	EnvLogLevel = base.EnvLogLevel
)

// NewLogger is base.NewLogger.
func NewLogger(w io.Writer, env Env) *slog.Logger { return base.NewLogger(w, env) }

// NewBase is base.NewBase.
func NewBase(ctx context.Context, env Env, log *slog.Logger, version string) (*Base, error) {
	return base.NewBase(ctx, env, log, version)
}

// Start is base.Start.
func Start(version string, newHandler func(b *Base, env Env) (any, error)) {
	base.Start(version, newHandler)
}

func withMargin(ctx context.Context) (context.Context, context.CancelFunc) {
	return base.WithMargin(ctx)
}

func intVar(env Env, key string, def int) (int, error) { return base.IntVar(env, key, def) }

func boolVar(env Env, key string) (bool, error) { return base.BoolVar(env, key) }
