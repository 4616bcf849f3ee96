package probe

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/probe/lab"
)

func isLoopback(a netip.Addr) bool { return a.Unmap().IsLoopback() }

// startLab starts services for the test and stops them at its end.
func startLab(t *testing.T, services ...lab.Service) *lab.Lab {
	t.Helper()
	l, err := lab.Start(t.Context(), services)
	if err != nil {
		t.Fatalf("start lab: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func newProber(t *testing.T, cfg Config) *Prober {
	t.Helper()
	cfg.AllowLoopback = true
	// Generous for loopback, on purpose: fingerprinting a port has a time
	// budget (banner wait + two timeouts), and on a loaded 2-core CI
	// machine running other packages' tests a TLS handshake can take a
	// good part of a second.
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.BannerWait == 0 {
		cfg.BannerWait = 400 * time.Millisecond
	}
	if cfg.Rate == 0 {
		cfg.Rate = 1000
		cfg.PerAddressRate = 1000
	}
	p, err := New(cfg, isLoopback)
	if err != nil {
		t.Fatalf("new prober: %v", err)
	}
	return p
}

func targetOf(e lab.Endpoint, expect string) Target {
	return Target{Addr: e.Addr.Addr(), Protocol: e.Protocol, Port: e.Addr.Port(), Expect: expect}
}

// TestFingerprints probes one lab service of every kind on loopback and
// checks the state, service, product and key evidence. Expectations are
// left empty unless said, so the fingerprint comes from what answers, not
// from the (random) port.
func TestFingerprints(t *testing.T) {
	tests := []struct {
		svc      lab.Service
		expect   string
		state    exposure.ProbeState
		service  string
		product  string
		evidence map[string]string // key → substring
	}{
		{svc: lab.Service{Kind: lab.SSH}, state: exposure.ProbeOpen, service: "ssh", product: "OpenSSH_9.6p1",
			evidence: map[string]string{"ssh.protocol": "2.0", "banner": "SSH-2.0-OpenSSH_9.6p1 PortcullisLab"}},
		{svc: lab.Service{Kind: lab.FTP}, state: exposure.ProbeOpen, service: "ftp", product: "vsFTPd 3.0.5"},
		{svc: lab.Service{Kind: lab.SMTP}, state: exposure.ProbeOpen, service: "smtp", product: "Postfix",
			evidence: map[string]string{"smtp.host": "mail.lab.portcullis.test"}},
		{svc: lab.Service{Kind: lab.MySQL}, state: exposure.ProbeOpen, service: "mysql", product: "MySQL 8.0.36",
			evidence: map[string]string{"mysql.version": "8.0.36"}},
		{svc: lab.Service{Kind: lab.VNC}, state: exposure.ProbeOpen, service: "vnc", product: "RFB 3.8"},
		{svc: lab.Service{Kind: lab.HTTP}, state: exposure.ProbeOpen, service: "http", product: "portcullis-lab/1.0",
			evidence: map[string]string{"http.status": "200 OK", "http.title": "Portcullis lab & demo"}},
		{svc: lab.Service{Kind: lab.HTTPS}, state: exposure.ProbeOpen, service: "https", product: "portcullis-lab/1.0",
			evidence: map[string]string{"tls.selfSigned": "true", "tls.expired": "false", "tls.version": "TLS 1.3",
				"tls.subject": "CN=lab.portcullis.test", "tls.sans": "127.0.0.1,lab.portcullis.test", "http.title": "Portcullis lab"}},
		{svc: lab.Service{Kind: lab.HTTPSExpired}, state: exposure.ProbeOpen, service: "https",
			evidence: map[string]string{"tls.selfSigned": "true", "tls.expired": "true", "tls.verify": "expired"}},
		{svc: lab.Service{Kind: lab.Redis}, state: exposure.ProbeOpen, service: "redis", product: "Redis 7.2.4",
			evidence: map[string]string{"redis.auth": "none"}},
		{svc: lab.Service{Kind: lab.RedisAuth}, state: exposure.ProbeOpen, service: "redis",
			evidence: map[string]string{"redis.auth": "required"}},
		{svc: lab.Service{Kind: lab.Redis}, expect: "redis", state: exposure.ProbeOpen, service: "redis",
			evidence: map[string]string{"probes": "redis"}},
		{svc: lab.Service{Kind: lab.Postgres}, state: exposure.ProbeOpen, service: "postgresql",
			// Found through its reply to a foreign probe, then asked properly.
			// Which foreign probes ran before depends on timing under load
			// (an HTTP attempt may slip in), so only the start is pinned.
			evidence: map[string]string{"postgresql.ssl": "not supported", "probes": "banner,tls"}},
		{svc: lab.Service{Kind: lab.Postgres}, expect: "postgres", state: exposure.ProbeOpen, service: "postgresql",
			evidence: map[string]string{"postgresql.ssl": "not supported"}},
		{svc: lab.Service{Kind: lab.MongoDB}, expect: "mongodb", state: exposure.ProbeOpen, service: "mongodb", product: "MongoDB 7.0",
			evidence: map[string]string{"mongodb.maxWireVersion": "21", "mongodb.ismaster": "true"}},
		{svc: lab.Service{Kind: lab.RDP}, expect: "rdp", state: exposure.ProbeOpen, service: "rdp", product: "RDP",
			evidence: map[string]string{"rdp.security": "credssp"}},
		{svc: lab.Service{Kind: lab.Memcached}, expect: "memcached", state: exposure.ProbeOpen, service: "memcached", product: "memcached 1.6.21"},
		{svc: lab.Service{Kind: lab.Silent}, state: exposure.ProbeOpen, service: "",
			// Under load the time budget may end before the HTTP attempt.
			evidence: map[string]string{"note": "answered none", "probes": "banner,tls"}},
		{svc: lab.Service{Kind: lab.Closed}, state: exposure.ProbeClosed, evidence: map[string]string{"reason": "refused"}},
		{svc: lab.Service{Kind: lab.Filtered}, state: exposure.ProbeFiltered, evidence: map[string]string{"reason": "no answer"}},
		{svc: lab.Service{Kind: lab.DNS}, state: exposure.ProbeOpen, service: "dns", product: "portcullis-lab-dns 1.0",
			evidence: map[string]string{"dns.rcode": "NOERROR", "dns.recursionAvailable": "false"}},
		{svc: lab.Service{Kind: lab.DNS}, expect: "dns", state: exposure.ProbeOpen, service: "dns", evidence: map[string]string{"probes": "dns"}},
		{svc: lab.Service{Kind: lab.NTP}, state: exposure.ProbeOpen, service: "ntp", product: "NTPv4",
			evidence: map[string]string{"ntp.stratum": "2", "ntp.refid": "127.0.0.1"}},
		{svc: lab.Service{Kind: lab.SNMP}, state: exposure.ProbeOpen, service: "snmp", product: "Net-SNMP SNMPv3",
			evidence: map[string]string{"snmp.engineID": "80001f888011223344556677", "snmp.engineBoots": "5", "snmp.engineTime": "256"}},
		{svc: lab.Service{Kind: lab.MemcachedUDP}, state: exposure.ProbeOpen, service: "memcached", product: "memcached 1.6.21",
			evidence: map[string]string{"memcached.udp": "amplification"}},
		{svc: lab.Service{Kind: lab.ClosedUDP}, state: exposure.ProbeClosed, evidence: map[string]string{"reason": "ICMP port unreachable"}},
		{svc: lab.Service{Kind: lab.SilentUDP}, state: exposure.ProbeFiltered, evidence: map[string]string{"reason": "open|filtered"}},
	}
	var services []lab.Service
	for _, tc := range tests {
		services = append(services, tc.svc)
	}
	l := startLab(t, services...)
	var targets []Target
	for i, tc := range tests {
		targets = append(targets, targetOf(l.Endpoints[i], tc.expect))
	}
	p := newProber(t, Config{})
	start := time.Now()
	obs := p.Run(t.Context(), targets, nil)
	t.Logf("probed %d ports in %v", len(targets), time.Since(start))
	for i, tc := range tests {
		o := obs[i]
		name := string(tc.svc.Kind)
		if tc.expect != "" {
			name += "/expect=" + tc.expect
		}
		t.Run(name, func(t *testing.T) {
			if o.State != tc.state || o.Service != tc.service {
				t.Fatalf("state %s service %q, want %s %q (%+v)", o.State, o.Service, tc.state, tc.service, o)
			}
			if tc.product != "" && o.Product != tc.product {
				t.Errorf("product %q, want %q", o.Product, tc.product)
			}
			for k, want := range tc.evidence {
				got, ok := o.Evidence[k]
				if !ok && !strings.Contains(k, ".") {
					// a prefix: any key starting with it
					for ek, ev := range o.Evidence {
						if strings.HasPrefix(ek, k) && strings.Contains(ev, want) {
							got, ok = ev, true
						}
					}
				}
				if !ok || !strings.Contains(got, want) {
					t.Errorf("evidence %s = %q, want it to contain %q (all: %v)", k, got, want, o.Evidence)
				}
			}
			if o.Endpoint != targets[i].Addr.String() || o.Port != targets[i].Port || o.Protocol != targets[i].Protocol {
				t.Errorf("observation names %s %s/%d, want the target", o.Endpoint, o.Protocol, o.Port)
			}
			if o.State == exposure.ProbeOpen && o.RTT <= 0 {
				t.Errorf("open port without RTT")
			}
		})
	}
}
