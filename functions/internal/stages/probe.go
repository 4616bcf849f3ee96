package stages

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/functions/internal/runstore"
	"github.com/portcullis-sec/portcullis/probe"
	"github.com/portcullis-sec/portcullis/rules"
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
// addresses over the internet, as an attacker would). It writes only
// observations.json; the Report stage, which runs after it, reads them.
type Probe struct {
	*Base
	enabled bool
	config  probe.Config
}

// NewProbe configures the probe stage from env.
func NewProbe(b *Base, env Env) (*Probe, error) {
	p := &Probe{Base: b}
	var err error
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

// ProbeOutput is what the state machine keeps of the probe stage; the
// Report state receives it as its input's "probe". Every field is always
// present: the state machine's ResultSelector selects them by path.
type ProbeOutput struct {
	RunID           string `json:"runId"`
	Bucket          string `json:"bucket"`
	ObservationsKey string `json:"observationsKey"`
	// Observations is the number written, one per planned probe; Open
	// counts those that found the port open.
	Observations int `json:"observations"`
	Open         int `json:"open"`
}

// Handle plans probes from the analysis of the run's snapshot, sends them
// and writes runs/<run-id>/observations.json. The prober's guard admits
// only the public addresses of the run's own inventory.
func (p *Probe) Handle(ctx context.Context, in RunInput) (ProbeOutput, error) {
	if err := runstore.ValidRunID(in.RunID); err != nil {
		return ProbeOutput{}, err
	}
	if !p.enabled {
		return ProbeOutput{}, ErrProbingDisabled
	}
	if p.Emulated() {
		// An emulator's inventory holds addresses it made up, which are real
		// internet space (moto hands out public IPs): never probe them.
		return ProbeOutput{}, errors.New("probing refused: AWS_ENDPOINT_URL points at an emulator, whose addresses belong to others")
	}
	log := p.InvocationLog(ctx, "runId", in.RunID, "stage", "probe")
	return p.observe(ctx, in.RunID, audit.ProbeOptions{Enabled: true, Config: p.config}, log)
}

// observe is the probe stage past its safety refusals. It analyses the
// snapshot exactly as the Report stage's audit will (no loopback
// endpoints, every provider present), so the probes are planned from the
// same effective exposures the report shows, and it writes nothing but the
// observations.
func (p *Probe) observe(ctx context.Context, run string, po audit.ProbeOptions, log *slog.Logger) (ProbeOutput, error) {
	// Probing and reading stop short of the deadline; the write keeps the
	// margin, so a cut-short stage still writes what it saw (the probes not
	// reached are recorded as skipped).
	pctx, cancel := withMargin(ctx)
	defer cancel()
	fsys, err := p.Store.SnapshotFiles(pctx, run)
	if err != nil {
		return ProbeOutput{}, fmt.Errorf("read snapshot of run %s: %w", run, err)
	}
	inv, audited, err := audit.Normalize(fsys, nil)
	if err != nil {
		return ProbeOutput{}, fmt.Errorf("normalize snapshot of run %s: %w", run, err)
	}
	if len(audited) == 0 {
		return ProbeOutput{}, fmt.Errorf("run %s: %w: %v", run, audit.ErrNothingAudited, inv.Errors)
	}
	// The same catalog audit.Run plans with: the risky ports are the
	// built-in rules', whatever custom rules the Report stage adds.
	cat, err := rules.LoadCatalog()
	if err != nil {
		return ProbeOutput{}, fmt.Errorf("load rule catalog: %w", err)
	}
	res := exposure.AnalyzeWith(inv, exposure.Options{})
	obs, err := audit.Confirm(pctx, inv, res.Effective, cat, po)
	if err != nil {
		return ProbeOutput{}, fmt.Errorf("probe run %s: %w", run, err)
	}
	if obs == nil {
		obs = []exposure.Observation{} // probed, nothing to probe: not "not probed"
	}
	out := ProbeOutput{RunID: run, Bucket: p.Store.Bucket(), ObservationsKey: runstore.Key(run, runstore.ObservationsFile),
		Observations: len(obs)}
	for _, o := range obs {
		if o.State == exposure.ProbeOpen {
			out.Open++
		}
	}
	if err := p.Store.PutJSON(ctx, out.ObservationsKey, obs); err != nil {
		return ProbeOutput{}, fmt.Errorf("write observations: %w", err)
	}
	log.Info("probed", "key", out.ObservationsKey, "observations", out.Observations, "open", out.Open)
	return out, nil
}
