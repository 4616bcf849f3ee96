package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/functions/internal/runstore"
	"github.com/portcullis-sec/portcullis/functions/internal/unitstore"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/rules"
)

// Environment variables of the report function.
const (
	// EnvRulesKey and EnvExceptionsKey name a custom-rules file and an
	// exceptions file in the runs bucket (under config/), see docs/rules.md.
	EnvRulesKey      = "RULES_KEY"
	EnvExceptionsKey = "EXCEPTIONS_KEY"
	EnvFramework     = "FRAMEWORK" // scope findings to one compliance framework
	EnvFailOn        = "FAIL_ON"   // severity counted as failing in the summary (default high)
)

// maxCause bounds how much of a failed Probe state's cause is quoted in
// the report (Step Functions allows 32 KiB).
const maxCause = 2048

// ReportInput is the event of the Report stage.
type ReportInput struct {
	RunID string `json:"runId"`
	// Probe is what the state machine holds of the Probe state: its
	// output, {"skipped": true} when probing is off, or the error its
	// Catch recorded when the stage failed after its retries. Nil when the
	// stage is invoked by hand.
	Probe *ProbeState `json:"probe,omitempty"`
}

// ProbeState is the Probe state's result as the Report state receives it.
type ProbeState struct {
	Skipped bool `json:"skipped,omitempty"`
	ProbeOutput
	// Error and Cause are the error output a Catch writes
	// (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html#error-handling-error-representation).
	Error string `json:"Error,omitempty"`
	Cause string `json:"Cause,omitempty"`
}

// ReportOutput is what the state machine keeps of a report: where it is,
// the summary counts of report.json and whether probe results went into
// it. It is the Report state's whole output, the input a state after it
// (notifications) starts from; every field is always present.
type ReportOutput struct {
	RunID   string          `json:"runId"`
	Bucket  string          `json:"bucket"`
	JSONKey string          `json:"jsonKey"`
	HTMLKey string          `json:"htmlKey"`
	Summary json.RawMessage `json:"summary"`
	// Probed says observations.json was read into the report; Observed is
	// the number of observations in it.
	Probed   bool `json:"probed"`
	Observed int  `json:"observations"`
}

// reporting is the configuration of the report stage.
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

// Report merges a run's unit results, with the probe stage's observations
// when there are some, and writes the run's one report.
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

// Handle merges the unit results the collect tasks wrote
// (runs/<run-id>/units/) with runs/<run-id>/observations.json when the
// probe stage wrote it, evaluates the rules once over the whole estate and
// writes report.json and report.html. A missing
// observations file means the run was not probed; an unreadable one, or a
// failed probe stage, is an error in the report, which is written all the
// same.
func (r *Report) Handle(ctx context.Context, in ReportInput) (ReportOutput, error) {
	if err := runstore.ValidRunID(in.RunID); err != nil {
		return ReportOutput{}, err
	}
	log := r.InvocationLog(ctx, "runId", in.RunID, "stage", "report")
	ctx, cancel := withMargin(ctx)
	defer cancel()
	obs, probeErrs := r.observations(ctx, in.RunID, in.Probe)
	res, err := r.audit(ctx, in.RunID, obs, log)
	if err != nil {
		return ReportOutput{}, err
	}
	if len(probeErrs) > 0 {
		res.Report.Errors = append(res.Report.Errors, probeErrs...)
		res.Report.Partial = true
	}
	out, err := writeReport(ctx, r.Base, in.RunID, res.Report)
	if err != nil {
		return ReportOutput{}, err
	}
	out.Probed, out.Observed = obs != nil, len(obs)
	log.Info("report written", "key", out.JSONKey, "exposures", len(res.Report.Exposures),
		"findings", len(res.Report.Findings), "observations", len(obs), "errors", len(res.Report.Errors))
	return out, nil
}

// observations reads the probe stage's results. Nil observations mean not
// probed. Whatever keeps them out of the report is returned as errors for
// the report: unknown data stays unknown, it is never read as "nothing
// answered".
func (r *Report) observations(ctx context.Context, run string, st *ProbeState) ([]exposure.Observation, []exposure.Error) {
	key := runstore.Key(run, runstore.ObservationsFile)
	var errs []exposure.Error
	if st != nil && (st.Error != "" || st.Cause != "") {
		errs = append(errs, exposure.Error{Stage: "probe", Message: "the probe stage failed: " + failure(st.Error, st.Cause)})
	}
	b, found, err := r.Store.GetIfExists(ctx, key)
	switch {
	case err != nil:
		return nil, append(errs, exposure.Error{Stage: "probe", Resource: key, Message: "read observations: " + err.Error()})
	case !found:
		if st != nil && st.ObservationsKey != "" && len(errs) == 0 {
			errs = append(errs, exposure.Error{Stage: "probe", Resource: key,
				Message: fmt.Sprintf("the probe stage reported %d observations but wrote no %s: the report is not confirmed by probes", st.Observations, runstore.ObservationsFile)})
		}
		return nil, errs
	}
	obs, err := decodeObservations(b)
	if err != nil {
		return nil, append(errs, exposure.Error{Stage: "probe", Resource: key, Message: "unreadable observations, left out of the report: " + err.Error()})
	}
	return obs, errs
}

// decodeObservations parses observations.json: a JSON array of
// observations, each naming an endpoint, a protocol and a known state.
func decodeObservations(b []byte) ([]exposure.Observation, error) {
	var obs []exposure.Observation
	if err := json.Unmarshal(b, &obs); err != nil {
		return nil, err
	}
	if obs == nil {
		return nil, errors.New("not a JSON array")
	}
	for i, o := range obs {
		switch {
		case o.Endpoint == "":
			return nil, fmt.Errorf("observation %d: no endpoint", i)
		case o.Protocol != exposure.ProtocolTCP && o.Protocol != exposure.ProtocolUDP:
			return nil, fmt.Errorf("observation %d (%s): protocol %q is not tcp or udp", i, o.Endpoint, o.Protocol)
		}
		switch o.State {
		case exposure.ProbeOpen, exposure.ProbeClosed, exposure.ProbeFiltered, exposure.ProbeError, exposure.ProbeSkipped:
		default:
			return nil, fmt.Errorf("observation %d (%s %s/%d): unknown state %q", i, o.Endpoint, o.Protocol, o.Port, o.State)
		}
	}
	return obs, nil
}

// failure renders a Catch's error output: Lambda puts the function's own
// error in Cause as {"errorMessage", "errorType"}.
func failure(name, cause string) string {
	var lambdaErr struct {
		Message string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(cause), &lambdaErr) == nil && lambdaErr.Message != "" {
		cause = lambdaErr.Message
	}
	if len(cause) > maxCause {
		cause = strings.ToValidUTF8(cause[:maxCause], "") + "…"
	}
	switch {
	case name == "":
		return cause
	case cause == "":
		return name
	}
	return name + ": " + cause
}

// audit merges the unit results of the run's plan (audit.Merge) with the
// observations given (nil: not probed), fetching them a few at a time:
// the function holds the exposures and checked layers of the estate, never
// a snapshot. Probing itself is the Probe stage's.
func (r *Report) audit(ctx context.Context, run string, obs []exposure.Observation, log *slog.Logger) (*audit.Result, error) {
	items, err := r.Store.Plan(ctx, run)
	if err != nil {
		return nil, fmt.Errorf("read the plan of run %s: %w", run, err)
	}
	ro := rules.Options{Framework: r.framework}
	if r.rulesKey != "" || r.exceptionsKey != "" {
		dir, err := os.MkdirTemp("", "portcullis-rules-")
		if err != nil {
			return nil, fmt.Errorf("rules files: %w", err)
		}
		defer os.RemoveAll(dir)
		if ro.CustomRulesFile, err = download(ctx, r.Base, r.rulesKey, filepath.Join(dir, "rules.yaml")); err != nil {
			return nil, err
		}
		if ro.ExceptionsFile, err = download(ctx, r.Base, r.exceptionsKey, filepath.Join(dir, "exceptions.yaml")); err != nil {
			return nil, err
		}
	}
	res, err := audit.Merge(unitstore.Units(ctx, r.Store, run, items), audit.Options{
		SnapshotDir:  "s3://" + r.Store.Bucket() + "/" + runstore.Key(run, "snapshot"),
		Rules:        ro,
		Observations: obs,
		FailOn:       r.failOn,
		Version:      r.Version,
		Logger:       log,
	})
	if err != nil {
		return nil, fmt.Errorf("merge the unit results of run %s: %w", run, err)
	}
	return res, nil
}

// download copies an object of the runs bucket to file; an empty key is
// no file.
func download(ctx context.Context, b *Base, key, file string) (string, error) {
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
func writeReport(ctx context.Context, b *Base, run string, rep *reports.Report) (ReportOutput, error) {
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
