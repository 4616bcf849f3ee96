package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/functions/internal/runstore"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/rules"
)

// Environment variables of the report and probe functions.
const (
	// EnvRulesKey and EnvExceptionsKey name a custom-rules file and an
	// exceptions file in the runs bucket (under config/), see docs/rules.md.
	EnvRulesKey      = "RULES_KEY"
	EnvExceptionsKey = "EXCEPTIONS_KEY"
	EnvFramework     = "FRAMEWORK" // scope findings to one compliance framework
	EnvFailOn        = "FAIL_ON"   // severity counted as failing in the summary (default high)
)

// ReportOutput is what the state machine keeps of a report: where it is
// and the summary counts of report.json.
type ReportOutput struct {
	RunID    string          `json:"runId"`
	Bucket   string          `json:"bucket"`
	JSONKey  string          `json:"jsonKey"`
	HTMLKey  string          `json:"htmlKey"`
	Summary  json.RawMessage `json:"summary"`
	Observed int             `json:"observations,omitempty"`
}

// reporting is the configuration the report and probe stages share.
type reporting struct {
	rulesKey, exceptionsKey string
	framework               string
	failOn                  rules.Severity
}

func newReporting(env Env) (reporting, error) {
	r := reporting{rulesKey: strings.TrimSpace(env(EnvRulesKey)), exceptionsKey: strings.TrimSpace(env(EnvExceptionsKey)),
		framework: strings.TrimSpace(env(EnvFramework)), failOn: rules.High}
	if s := strings.TrimSpace(env(EnvFailOn)); s != "" {
		sev, err := rules.ParseSeverity(s)
		if err != nil {
			return r, fmt.Errorf("%s: %w", EnvFailOn, err)
		}
		r.failOn = sev
	}
	return r, nil
}

// Report audits a run's snapshot and writes the report, with probing off
// (probing is the Probe stage's).
type Report struct {
	*Base
	reporting
}

// NewReport configures the report stage from env.
func NewReport(b *Base, env Env) (*Report, error) {
	r, err := newReporting(env)
	if err != nil {
		return nil, err
	}
	return &Report{Base: b, reporting: r}, nil
}

// Handle reads runs/<run-id>/snapshot/ back as one snapshot, audits it and
// writes report.json and report.html next to it.
func (r *Report) Handle(ctx context.Context, in RunInput) (ReportOutput, error) {
	if err := runstore.ValidRunID(in.RunID); err != nil {
		return ReportOutput{}, err
	}
	log := r.invocationLog(ctx, "runId", in.RunID, "stage", "report")
	ctx, cancel := withMargin(ctx)
	defer cancel()
	res, err := r.audit(ctx, in.RunID, audit.ProbeOptions{}, log, r.reporting)
	if err != nil {
		return ReportOutput{}, err
	}
	out, err := r.writeReport(ctx, in.RunID, res.Report)
	if err != nil {
		return ReportOutput{}, err
	}
	log.Info("report written", "key", out.JSONKey, "exposures", len(res.Report.Exposures),
		"findings", len(res.Report.Findings), "errors", len(res.Report.Errors))
	return out, nil
}

// audit runs audit.Run over the run's snapshot in S3.
func (b *Base) audit(ctx context.Context, run string, po audit.ProbeOptions, log *slog.Logger, rp reporting) (*audit.Result, error) {
	fsys, err := b.Store.Snapshot(ctx, run)
	if err != nil {
		return nil, fmt.Errorf("read snapshot of run %s: %w", run, err)
	}
	ro := rules.Options{Framework: rp.framework}
	if rp.rulesKey != "" || rp.exceptionsKey != "" {
		dir, err := os.MkdirTemp("", "portcullis-rules-")
		if err != nil {
			return nil, fmt.Errorf("rules files: %w", err)
		}
		defer os.RemoveAll(dir)
		if ro.CustomRulesFile, err = b.download(ctx, rp.rulesKey, filepath.Join(dir, "rules.yaml")); err != nil {
			return nil, err
		}
		if ro.ExceptionsFile, err = b.download(ctx, rp.exceptionsKey, filepath.Join(dir, "exceptions.yaml")); err != nil {
			return nil, err
		}
	}
	res, err := audit.Run(ctx, audit.Options{
		Snapshot:    fsys,
		SnapshotDir: "s3://" + b.Store.Bucket() + "/" + runstore.Key(run, "snapshot"),
		Rules:       ro,
		Probe:       po,
		FailOn:      rp.failOn,
		Version:     b.Version,
		Logger:      log,
	})
	if err != nil {
		return nil, fmt.Errorf("audit run %s: %w", run, err)
	}
	return res, nil
}

// download copies an object of the runs bucket to file; an empty key is
// no file.
func (b *Base) download(ctx context.Context, key, file string) (string, error) {
	if key == "" {
		return "", nil
	}
	data, err := b.Store.Get(ctx, key)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return "", fmt.Errorf("copy s3 %s: %w", key, err)
	}
	return file, nil
}

// writeReport writes report.json and report.html and returns the JSON
// report's summary.
func (b *Base) writeReport(ctx context.Context, run string, rep *reports.Report) (ReportOutput, error) {
	var js, html bytes.Buffer
	if err := reports.Write(&js, "json", rep); err != nil {
		return ReportOutput{}, err
	}
	if err := reports.Write(&html, "html", rep); err != nil {
		return ReportOutput{}, err
	}
	out := ReportOutput{RunID: run, Bucket: b.Store.Bucket(), JSONKey: runstore.Key(run, runstore.ReportJSON), HTMLKey: runstore.Key(run, runstore.ReportHTML)}
	if err := b.Store.Put(ctx, out.JSONKey, "application/json", js.Bytes()); err != nil {
		return ReportOutput{}, err
	}
	if err := b.Store.Put(ctx, out.HTMLKey, "text/html; charset=utf-8", html.Bytes()); err != nil {
		return ReportOutput{}, err
	}
	var doc struct {
		Summary json.RawMessage `json:"summary"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		return ReportOutput{}, fmt.Errorf("read back report summary: %w", err)
	}
	out.Summary = doc.Summary
	return out, nil
}
