package stages

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/functions/internal/runstore"
	"github.com/portcullis-sec/portcullis/probe"
)

// Environment variables of the probe function.
const (
	// EnvProbeEnabled must be true for the function to send a single
	// packet; the template sets it from the EnableProbing parameter
	// (default false), and the state machine skips the stage as well.
	EnvProbeEnabled     = "PROBE_ENABLED"
	EnvProbeRate        = "PROBE_RATE"        // probes per second overall (default 50)
	EnvProbeConcurrency = "PROBE_CONCURRENCY" // ports probed at once (default 32)
	EnvProbeTimeoutMS   = "PROBE_TIMEOUT_MS"  // each probe step (default 3000)
)

// ErrProbingDisabled is returned when the probe function is invoked while
// probing is off.
var ErrProbingDisabled = errors.New("probing is disabled (deploy with EnableProbing=true to confirm exposures)")

// Probe confirms a run's effective exposures from outside the audited
// networks (the function has no VPC configuration: it reaches the
// addresses over the internet, as an attacker would).
type Probe struct {
	*Base
	reporting
	enabled bool
	config  probe.Config
}

// NewProbe configures the probe stage from env.
func NewProbe(b *Base, env Env) (*Probe, error) {
	r, err := newReporting(env)
	if err != nil {
		return nil, err
	}
	p := &Probe{Base: b, reporting: r}
	if p.enabled, err = boolVar(env, EnvProbeEnabled); err != nil {
		return nil, err
	}
	rate, err := intVar(env, EnvProbeRate, 50)
	if err != nil {
		return nil, err
	}
	conc, err := intVar(env, EnvProbeConcurrency, 32)
	if err != nil {
		return nil, err
	}
	ms, err := intVar(env, EnvProbeTimeoutMS, 3000)
	if err != nil {
		return nil, err
	}
	p.config = probe.Config{Rate: float64(rate), Concurrency: conc, Timeout: time.Duration(ms) * time.Millisecond}
	return p, nil
}

// ProbeOutput adds the observations to the report output.
type ProbeOutput struct {
	ReportOutput
	ObservationsKey string `json:"observationsKey"`
}

// Handle re-audits the run's snapshot with probing on: the prober's guard
// admits only the public addresses of the run's own inventory. It writes
// observations.json and replaces report.json and report.html with the
// confirmed report.
func (p *Probe) Handle(ctx context.Context, in RunInput) (ProbeOutput, error) {
	if err := runstore.ValidRunID(in.RunID); err != nil {
		return ProbeOutput{}, err
	}
	if !p.enabled {
		return ProbeOutput{}, ErrProbingDisabled
	}
	if p.emulated {
		// An emulator's inventory holds addresses it made up, which are real
		// internet space (moto hands out public IPs): never probe them.
		return ProbeOutput{}, errors.New("probing refused: AWS_ENDPOINT_URL points at an emulator, whose addresses belong to others")
	}
	log := p.invocationLog(ctx, "runId", in.RunID, "stage", "probe")
	ctx, cancel := withMargin(ctx)
	defer cancel()
	res, err := p.audit(ctx, in.RunID, audit.ProbeOptions{Enabled: true, Config: p.config}, log, p.reporting)
	if err != nil {
		return ProbeOutput{}, err
	}
	obs := res.Report.Observations
	if obs == nil {
		obs = []exposure.Observation{}
	}
	key := runstore.Key(in.RunID, runstore.ObservationsFile)
	if err := p.Store.PutJSON(ctx, key, obs); err != nil {
		return ProbeOutput{}, fmt.Errorf("write observations: %w", err)
	}
	out, err := p.writeReport(ctx, in.RunID, res.Report)
	if err != nil {
		return ProbeOutput{}, err
	}
	out.Observed = len(obs)
	log.Info("probed", "observations", len(obs))
	return ProbeOutput{ReportOutput: out, ObservationsKey: key}, nil
}
