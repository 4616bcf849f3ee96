package probe

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/probe/lab"
)

func TestBanners(t *testing.T) {
	huge := "SSH-2.0-Huge_1.0 " + strings.Repeat("x", 1<<20) + "\r\n"
	l := startLab(t,
		lab.Service{Kind: lab.SSH, Delay: 100 * time.Millisecond},    // within the banner wait
		lab.Service{Kind: lab.SSH, Delay: 500 * time.Millisecond},    // after the banner wait: answers the TLS probe with its greeting
		lab.Service{Kind: lab.SSH, Banner: huge},                     // a megabyte greeting
		lab.Service{Kind: lab.FTP, Banner: "220 ready\r\n"},          // names neither FTP nor SMTP
		lab.Service{Kind: lab.SMTP, Banner: "220 ready\r\n"},         // idem
		lab.Service{Kind: lab.FTP, Banner: "\x00\x01\x02binary\r\n"}, // not a protocol we know
	)
	p := newProber(t, Config{MaxBytes: 256, Timeout: time.Second, BannerWait: 300 * time.Millisecond})
	targets := []Target{
		targetOf(l.Endpoints[0], ""), targetOf(l.Endpoints[1], ""), targetOf(l.Endpoints[2], ""),
		targetOf(l.Endpoints[3], "ftp"), targetOf(l.Endpoints[4], "smtp"), targetOf(l.Endpoints[5], ""),
	}
	obs := p.Run(t.Context(), targets, nil)
	for i, want := range []string{"ssh", "ssh", "ssh", "ftp", "smtp", ""} {
		if obs[i].State != exposure.ProbeOpen || obs[i].Service != want {
			t.Errorf("target %d: %s %q, want open %q (%v)", i, obs[i].State, obs[i].Service, want, obs[i].Evidence)
		}
	}
	big := obs[2]
	if big.Product != "Huge_1.0" {
		t.Errorf("oversized banner product %q, want Huge_1.0", big.Product)
	}
	for k, v := range big.Evidence {
		if len(v) > 256 {
			t.Errorf("evidence %s holds %d bytes, over MaxBytes 256", k, len(v))
		}
	}
	if big.Evidence["truncated"] != "true" {
		t.Errorf("oversized banner not marked truncated: %v", big.Evidence)
	}
	if got := obs[5].Evidence["banner"]; got != `\x00\x01\x02binary\r\n` {
		t.Errorf("binary banner evidence %q, want escaped bytes", got)
	}
}

// TestServiceMismatch: what answers decides, not what the port or the
// catalog expects (SSH on 443, Redis on 8080, HTTP on Redis's port).
func TestServiceMismatch(t *testing.T) {
	l := startLab(t, lab.Service{Kind: lab.SSH}, lab.Service{Kind: lab.Redis}, lab.Service{Kind: lab.HTTP}, lab.Service{Kind: lab.HTTPS})
	p := newProber(t, Config{})
	targets := []Target{
		targetOf(l.Endpoints[0], "https"),
		targetOf(l.Endpoints[1], "http"),
		targetOf(l.Endpoints[2], "redis"),
		targetOf(l.Endpoints[3], "http"),
		targetOf(l.Endpoints[3], "https"),
		targetOf(l.Endpoints[2], "https"),
	}
	obs := p.Run(t.Context(), targets, nil)
	for i, want := range []string{"ssh", "redis", "http", "https", "https", "http"} {
		if obs[i].Service != want {
			t.Errorf("expected %q, found %q, want %q (%v)", targets[i].Expect, obs[i].Service, want, obs[i].Evidence)
		}
	}
	if got := obs[1].Evidence["redis.auth"]; !strings.HasPrefix(got, "none") {
		t.Errorf("redis found behind an http expectation without its PING evidence: %v", obs[1].Evidence)
	}
}

func TestUserAgent(t *testing.T) {
	l := startLab(t, lab.Service{Kind: lab.HTTP})
	p := newProber(t, Config{})
	p.Run(t.Context(), []Target{targetOf(l.Endpoints[0], "http")}, nil)
	ua := l.UserAgents()
	if len(ua) != 1 || !strings.HasPrefix(ua[0], "portcullis-probe/") || !strings.Contains(ua[0], "+https://github.com/portcullis-sec/portcullis") {
		t.Errorf("User-Agents seen %q, want one portcullis-probe/<version> (+https://github.com/portcullis-sec/portcullis)", ua)
	}
}

// TestRedirect maps documentation addresses of an estate onto lab
// listeners, and checks that refused targets cost no packet.
func TestRedirect(t *testing.T) {
	sshPub := netip.MustParseAddrPort("203.0.113.10:22")
	httpPub := netip.MustParseAddrPort("[2001:db8::10]:80")
	l := startLab(t, lab.Service{Kind: lab.SSH, Public: sshPub}, lab.Service{Kind: lab.HTTP, Public: httpPub})
	inventory := map[netip.Addr]bool{sshPub.Addr(): true, httpPub.Addr(): true, netip.MustParseAddr("10.0.0.5"): true}
	inScope := func(a netip.Addr) bool { return inventory[a] }
	targets := []Target{
		{Addr: sshPub.Addr(), Protocol: exposure.ProtocolTCP, Port: 22},
		{Addr: httpPub.Addr(), Protocol: exposure.ProtocolTCP, Port: 80},
	}
	refused := []Target{
		{Addr: netip.MustParseAddr("203.0.113.99"), Protocol: exposure.ProtocolTCP, Port: 22}, // not in the inventory
		{Addr: sshPub.Addr(), Protocol: exposure.ProtocolTCP, Port: 2222},                     // no redirect: documentation address
		{Addr: netip.MustParseAddr("10.0.0.5"), Protocol: exposure.ProtocolTCP, Port: 22},     // in the inventory, private
		{Addr: sshPub.Addr(), Protocol: exposure.ProtocolICMP},                                // nothing to probe
		{Addr: netip.MustParseAddr("203.0.113.99"), Protocol: exposure.ProtocolUDP, Port: 53}, // UDP, not in the inventory
	}

	t.Run("without AllowLoopback nothing is sent", func(t *testing.T) {
		p, err := New(Config{Redirect: l.Redirect(), Rate: 1000, PerAddressRate: 1000}, inScope)
		if err != nil {
			t.Fatal(err)
		}
		obs := p.Run(t.Context(), append(targets, refused...), nil)
		for _, o := range obs {
			if o.State != exposure.ProbeSkipped || !strings.Contains(o.Error, "scope guard refused") && !strings.Contains(o.Error, "not probed") {
				t.Errorf("%s %s/%d: %s %q, want skipped by the guard", o.Endpoint, o.Protocol, o.Port, o.State, o.Error)
			}
		}
		if !strings.Contains(obs[0].Error, "--probe-allow-loopback") {
			t.Errorf("refusal of a loopback redirect does not name the switch: %q", obs[0].Error)
		}
		if s := p.Stats(); s.Connections != 0 || s.Datagrams != 0 || l.Accepted() != 0 {
			t.Errorf("refused targets sent %+v, lab accepted %d; want nothing", s, l.Accepted())
		}
	})

	t.Run("with AllowLoopback the redirected targets are probed", func(t *testing.T) {
		p, err := New(Config{Redirect: l.Redirect(), AllowLoopback: true, Rate: 1000, PerAddressRate: 1000, Timeout: time.Second}, inScope)
		if err != nil {
			t.Fatal(err)
		}
		obs := p.Run(t.Context(), append(targets, refused...), nil)
		if obs[0].Service != "ssh" || obs[0].Endpoint != "203.0.113.10" || obs[0].Port != 22 || obs[0].Evidence["dialled"] != l.Endpoints[0].Addr.String() {
			t.Errorf("ssh via redirect: %+v", obs[0])
		}
		if obs[1].Service != "http" || obs[1].Endpoint != "2001:db8::10" {
			t.Errorf("http via redirect: %+v", obs[1])
		}
		for _, o := range obs[2:] {
			if o.State != exposure.ProbeSkipped {
				t.Errorf("%s %s/%d: %s, want skipped", o.Endpoint, o.Protocol, o.Port, o.State)
			}
		}
		if s := p.Stats(); s.Datagrams != 0 {
			t.Errorf("refused UDP target sent %d datagrams", s.Datagrams)
		}
	})
}

// TestFilteredCostsOneTimeout: silent ports are waited for concurrently,
// so twenty of them cost about one timeout, not twenty.
func TestFilteredCostsOneTimeout(t *testing.T) {
	var services []lab.Service
	for range 20 {
		services = append(services, lab.Service{Kind: lab.Filtered})
	}
	l := startLab(t, services...)
	const timeout = 500 * time.Millisecond
	p := newProber(t, Config{Timeout: timeout, Rate: 10000, PerAddressRate: 10000})
	var targets []Target
	for _, e := range l.Endpoints {
		targets = append(targets, targetOf(e, ""))
	}
	start := time.Now()
	obs := p.Run(t.Context(), targets, nil)
	took := time.Since(start)
	for _, o := range obs {
		if o.State != exposure.ProbeFiltered {
			t.Fatalf("port %d: %s, want filtered", o.Port, o.State)
		}
	}
	// One timeout per port would be 20 × 500 ms = 10 s; the bound leaves
	// room for a loaded CI machine and still tells the two apart.
	if took < timeout || took > 5*timeout {
		t.Errorf("20 filtered ports took %v, want about one timeout (%v), far from one per port", took, timeout)
	}
}

// TestRateLimit: connections are spread at the configured rate, overall and
// per address.
func TestRateLimit(t *testing.T) {
	var services []lab.Service
	for range 10 {
		services = append(services, lab.Service{Kind: lab.Closed})
	}
	l := startLab(t, services...)
	var targets []Target
	for _, e := range l.Endpoints {
		targets = append(targets, targetOf(e, ""))
	}
	for _, tc := range []struct {
		name          string
		rate, perAddr float64
	}{
		{"global", 25, 10000},
		{"per address", 10000, 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProber(t, Config{Rate: tc.rate, PerAddressRate: tc.perAddr})
			start := time.Now()
			obs := p.Run(t.Context(), targets, nil)
			took := time.Since(start)
			// Burst 1: the first probe goes at once, then one every 1/25 s.
			if least := 9 * time.Second / 25; took < least {
				t.Errorf("10 probes at 25/s took %v, want at least %v", took, least)
			}
			if got := p.Stats().Connections; got != 10 {
				t.Errorf("%d connections, want 10", got)
			}
			for _, o := range obs {
				if o.State != exposure.ProbeClosed {
					t.Errorf("port %d: %s, want closed", o.Port, o.State)
				}
			}
		})
	}
}

func TestCanceled(t *testing.T) {
	l := startLab(t, lab.Service{Kind: lab.Filtered}, lab.Service{Kind: lab.SSH})
	p := newProber(t, Config{Timeout: 5 * time.Second})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	obs := p.Run(ctx, []Target{targetOf(l.Endpoints[0], ""), targetOf(l.Endpoints[1], "")}, nil)
	// Not cancelled, the filtered port would hold the run for its 5 s
	// timeout; 3 s leaves room for a loaded machine.
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Run took %v after its context ended at 200ms", took)
	}
	if obs[1].Service != "ssh" {
		t.Errorf("ssh probed before the deadline: %+v", obs[1])
	}
	if obs[0].State != exposure.ProbeSkipped {
		t.Errorf("port cut short by the run's end: %s, want skipped (nothing is known)", obs[0].State)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Config{}, nil); err == nil {
		t.Error("New without scope succeeded")
	}
	if _, err := New(Config{Rate: -1}, isLoopback); err == nil {
		t.Error("New with a negative rate succeeded")
	}
	if _, err := New(Config{MaxBytes: 10}, isLoopback); err == nil {
		t.Error("New with MaxBytes 10 succeeded")
	}
}
