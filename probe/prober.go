// Package probe confirms exposures by probing them: a TCP connect, a TLS
// handshake, an HTTP request, a protocol greeting or a harmless UDP query per
// exposed port, and a fingerprint of what answers.
//
// Only targets from analysis (Plan) are probed, only when the scope guard
// (Guard) allows them, at a bounded rate and concurrency, with a timeout per
// step and a cap on the bytes read. No payload changes state on the server
// or tries a credential. The probers follow Prometheus blackbox_exporter:
// one file per protocol, one signature (proberFunc), one dispatch table
// (tcpProbers, udpProbers).
package probe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Defaults applied by New to zero Config fields. They are deliberately
// gentle: an audit probes production estates it does not own the uptime of.
const (
	DefaultTimeout        = 3 * time.Second
	DefaultRate           = 100 // probes per second, overall
	DefaultPerAddressRate = 10  // probes per second, per address
	DefaultConcurrency    = 64
	DefaultMaxBytes       = 4096
	maxBannerWait         = 1500 * time.Millisecond
)

// Config tunes a Prober. Zero fields get the defaults above.
type Config struct {
	// Timeout bounds each step: the TCP connect, each read. Fingerprinting
	// an open port gets at most BannerWait and two more Timeouts in total.
	Timeout time.Duration
	// BannerWait is how long to listen for a server-first greeting (SSH,
	// FTP, SMTP, MySQL, VNC) before speaking; default min(Timeout/2, 1.5s).
	BannerWait time.Duration
	// Rate is the number of connections or datagram exchanges per second
	// overall; PerAddressRate the same per dialled address.
	Rate           float64
	PerAddressRate float64
	// Concurrency bounds the ports probed at once.
	Concurrency int
	// MaxBytes caps what is read from any one connection and what evidence
	// keeps.
	MaxBytes int
	// AllowLoopback lets the guard accept 127.0.0.0/8 and ::1 (CLI
	// --probe-allow-loopback), for labs and tests. Nothing else is ever
	// allowed beyond public addresses.
	AllowLoopback bool
	// ConnectOnly skips fingerprinting: the outcome is the TCP connect
	// alone (and one datagram exchange for UDP).
	ConnectOnly bool
	// UserAgent is sent with HTTP requests; default DefaultUserAgent().
	UserAgent string
	// Redirect maps a target (address and port from the inventory) to the
	// address actually dialled: the demo and tests map documentation
	// addresses onto loopback listeners. The guard checks both ends.
	Redirect map[netip.AddrPort]netip.AddrPort
}

// DefaultUserAgent names the prober in HTTP requests so that the owners of a
// probed server can tell what reached it and where to read about it.
func DefaultUserAgent() string {
	v := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	return "portcullis-probe/" + v + " (+https://github.com/portcullis-sec/portcullis)"
}

// Stats counts what a Prober sent.
type Stats struct {
	Connections int64 // TCP connection attempts
	Datagrams   int64 // UDP datagrams sent
}

// Prober probes targets. It is safe for concurrent use.
type Prober struct {
	cfg     Config
	inScope func(netip.Addr) bool
	global  *rate.Limiter

	mu      sync.Mutex
	perAddr map[netip.Addr]*rate.Limiter

	conns, datagrams atomic.Int64
}

// New validates cfg, applies defaults and returns a Prober. inScope says
// whether an address belongs to the audited inventory; it is required.
func New(cfg Config, inScope func(netip.Addr) bool) (*Prober, error) {
	if inScope == nil {
		return nil, errors.New("create prober: no inventory scope (inScope is nil)")
	}
	if cfg.Timeout < 0 || cfg.BannerWait < 0 || cfg.Rate < 0 || cfg.PerAddressRate < 0 || cfg.Concurrency < 0 || cfg.MaxBytes < 0 {
		return nil, fmt.Errorf("create prober: negative setting in %+v", cfg)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.BannerWait == 0 {
		cfg.BannerWait = min(cfg.Timeout/2, maxBannerWait)
	}
	if cfg.Rate == 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.PerAddressRate == 0 {
		cfg.PerAddressRate = DefaultPerAddressRate
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.MaxBytes < 64 {
		return nil, fmt.Errorf("create prober: MaxBytes %d is too small to read a greeting (minimum 64)", cfg.MaxBytes)
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent()
	}
	return &Prober{
		cfg:     cfg,
		inScope: inScope,
		// Burst 1: probes are spread evenly, never sent in a clump.
		global:  rate.NewLimiter(rate.Limit(cfg.Rate), 1),
		perAddr: map[netip.Addr]*rate.Limiter{},
	}, nil
}

// Stats returns what the prober has sent so far.
func (p *Prober) Stats() Stats {
	return Stats{Connections: p.conns.Load(), Datagrams: p.datagrams.Load()}
}

// wait blocks until both the per-address and the global limiter allow one
// more connection or datagram exchange towards addr.
func (p *Prober) wait(ctx context.Context, addr netip.Addr) error {
	p.mu.Lock()
	l := p.perAddr[addr]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(p.cfg.PerAddressRate), 1)
		p.perAddr[addr] = l
	}
	p.mu.Unlock()
	if err := l.Wait(ctx); err != nil {
		return err
	}
	return p.global.Wait(ctx)
}

// Progress receives probe progress; implementations must be safe for
// concurrent use, since probes finish on many goroutines. It is declared here,
// where it is consumed, with the same methods as providers.Progress, so one
// progress bar (or providers.NoProgress) serves collection and probing alike
// and probe need not import providers.
type Progress interface {
	// Add announces n more probes.
	Add(n int)
	// Done marks one probe finished; what says which ("probe tcp 192.0.2.1:22").
	Done(what string)
}

// noProgress discards progress: Run's default when given none.
type noProgress struct{}

func (noProgress) Add(int)     {}
func (noProgress) Done(string) {}

// Run probes targets and returns one observation per target, in order.
// Refused targets get State ProbeSkipped with the reason and cost no packet;
// targets not reached before ctx ends get ProbeSkipped too.
func (p *Prober) Run(ctx context.Context, targets []Target, progress Progress) []exposure.Observation {
	if progress == nil {
		progress = noProgress{}
	}
	progress.Add(len(targets))
	out := make([]exposure.Observation, len(targets))
	var g errgroup.Group
	g.SetLimit(p.cfg.Concurrency)
	for i, t := range targets {
		if ctx.Err() != nil {
			out[i] = skipped(t, "not probed: "+ctx.Err().Error())
			progress.Done(describe(t))
			continue
		}
		g.Go(func() error {
			out[i] = p.probe(ctx, t)
			progress.Done(describe(t))
			return nil
		})
	}
	_ = g.Wait() // probes report failures in their observations
	return out
}

func describe(t Target) string {
	return fmt.Sprintf("probe %s %s", t.Protocol, t.addrPort())
}

func skipped(t Target, reason string) exposure.Observation {
	return exposure.Observation{
		Endpoint: endpointName(t), Protocol: t.Protocol, Port: t.Port,
		State: exposure.ProbeSkipped, Error: reason,
	}
}

func endpointName(t Target) string {
	if t.Addr.IsValid() {
		return t.Addr.String()
	}
	return t.Host
}

// probe guards and dispatches one target.
func (p *Prober) probe(ctx context.Context, t Target) exposure.Observation {
	dial := t.addrPort()
	if r, ok := p.cfg.Redirect[dial]; ok {
		dial = r
	}
	if err := Guard(t.Addr, dial.Addr(), p.inScope, p.cfg.AllowLoopback); err != nil {
		return skipped(t, err.Error())
	}
	if t.Port == 0 {
		return skipped(t, "port 0 cannot be probed")
	}
	var obs exposure.Observation
	switch t.Protocol {
	case exposure.ProtocolTCP:
		obs = p.probeTCP(ctx, t, dial)
	case exposure.ProtocolUDP:
		obs = p.probeUDP(ctx, t, dial)
	default:
		return skipped(t, fmt.Sprintf("protocol %s is not probed", t.Protocol))
	}
	obs.Endpoint, obs.Protocol, obs.Port = endpointName(t), t.Protocol, t.Port
	if dial != t.addrPort() {
		if obs.Evidence == nil {
			obs.Evidence = map[string]string{}
		}
		obs.Evidence["dialled"] = dial.String()
	}
	return obs
}
