package probe

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
)

// tcpProber is one entry of the TCP dispatch table.
type tcpProber struct {
	// serverFirst protocols greet before the client speaks (SSH, FTP,
	// SMTP, MySQL, VNC): their prober parses the greeting.
	serverFirst bool
	run         proberFunc
}

// tcpProbers is the only dispatch from a service name to its prober. It is
// never modified.
var tcpProbers = map[string]tcpProber{
	"ssh":        {serverFirst: true, run: probeSSH},
	"ftp":        {serverFirst: true, run: probeFTP},
	"smtp":       {serverFirst: true, run: probeSMTP},
	"mysql":      {serverFirst: true, run: probeMySQL},
	"vnc":        {serverFirst: true, run: probeVNC},
	"tls":        {run: probeTLS},
	"http":       {run: probeHTTP},
	"redis":      {run: probeRedis},
	"postgresql": {run: probePostgres},
	"mongodb":    {run: probeMongo},
	"rdp":        {run: probeRDP},
	"memcached":  {run: probeMemcachedTCP},
}

// maxConnections bounds the connections fingerprinting one port may open.
const maxConnections = 3

// probeTCP connects, then fingerprints what answers.
func (p *Prober) probeTCP(ctx context.Context, t Target, dial netip.AddrPort) exposure.Observation {
	s := &session{p: p, t: t, dial: dial, network: "tcp"}
	defer s.close()
	rtt, err := s.connect(ctx)
	if err != nil {
		state, reason := outcome(ctx, err)
		obs := exposure.Observation{State: state}
		if state == exposure.ProbeError || state == exposure.ProbeSkipped {
			obs.Error = reason
		} else {
			obs.Evidence = map[string]string{"reason": reason}
		}
		return obs
	}
	obs := exposure.Observation{State: exposure.ProbeOpen, RTT: rtt}
	if p.cfg.ConnectOnly {
		return obs
	}
	// Fingerprinting may take the banner wait and two more steps after the
	// connect, whatever number of attempts that holds.
	s.deadline = time.Now().Add(p.cfg.BannerWait + 2*p.cfg.Timeout)
	fp := s.fingerprintTCP(ctx)
	obs.Service, obs.Product, obs.Evidence = fp.Service, fp.Product, fp.Evidence
	return obs
}

// fingerprintTCP decides what runs on an open port by reading what answers:
// a greeting if the server speaks first; otherwise the expected protocol,
// then TLS, then HTTP. Whatever a peer sends back to a probe that was not
// its protocol is classified too (an HTTP server answers a TLS ClientHello
// with "HTTP/1.1 400", Redis answers "GET /" with "-ERR"), which redirects
// the next attempt to the protocol that did answer.
func (s *session) fingerprintTCP(ctx context.Context) *fingerprint {
	hint := protocolFor(s.t.Expect)
	if hint == "" {
		hint = protocolFor(WellKnown(exposure.ProtocolTCP, s.t.Port))
	}
	expected, known := tcpProbers[hint]
	if !known || expected.serverFirst {
		b, err := s.readSome(ctx, s.cfg().BannerWait, false)
		s.tried = append(s.tried, "banner")
		if err != nil && !isTimeout(err) {
			s.fresh = false // closed by the peer: the next attempt redials
		}
		if len(b) > 0 {
			s.banner = b
			return s.fromGreeting(ctx, b)
		}
	}
	var queue []string
	if known && !expected.serverFirst {
		queue = append(queue, hint)
	}
	queue = append(queue, "tls", "http")
	var reply []byte
	conns := 1
	for len(queue) > 0 && time.Now().Before(s.deadline) && ctx.Err() == nil {
		name := queue[0]
		queue = queue[1:]
		if slices.Contains(s.tried, name) {
			continue
		}
		if !s.fresh {
			if conns >= maxConnections {
				break
			}
			conns++
			if _, err := s.connect(ctx); err != nil {
				break
			}
		}
		s.tried = append(s.tried, name)
		s.next = ""
		fp, _ := tcpProbers[name].run(ctx, s)
		if fp != nil {
			fp.set("probes", strings.Join(s.tried, ","))
			return fp
		}
		if b := s.reply(); len(b) > 0 {
			reply = b
			svc := classify(b)
			if pr, ok := tcpProbers[svc]; ok && pr.serverFirst {
				// A late greeting: the server spoke first after all.
				s.banner = b
				return s.fromGreeting(ctx, b)
			}
			if _, ok := tcpProbers[svc]; ok && svc != name {
				queue = append([]string{svc}, queue...)
			} else if svc != "" && svc != name {
				return s.fromGreeting(ctx, b)
			}
		}
		if s.next != "" {
			queue = append([]string{s.next}, queue...)
		}
	}
	fp := &fingerprint{}
	fp.set("probes", strings.Join(s.tried, ","))
	if reply != nil {
		fp.set("response", printable(reply, s.cfg().MaxBytes))
	} else {
		fp.set("note", "the port accepted connections but answered none of the probes")
	}
	return fp
}

// fromGreeting fingerprints a server that spoke first (or a reply to a
// foreign probe that identifies the server on its own).
func (s *session) fromGreeting(ctx context.Context, b []byte) *fingerprint {
	svc := classify(b)
	if svc == "ftp-or-smtp" {
		// "220 ready" names neither: trust the port's expectation.
		svc = "smtp"
		if h := protocolFor(s.t.Expect); h == "ftp" || (h == "" && WellKnown(exposure.ProtocolTCP, s.t.Port) == "ftp") {
			svc = "ftp"
		}
	}
	var fp *fingerprint
	if pr, ok := tcpProbers[svc]; ok && pr.serverFirst {
		fp, _ = pr.run(ctx, s)
	}
	if fp == nil {
		fp = &fingerprint{Service: svc}
		if svc != "" && isText(b) {
			fp.Product = clean(firstLine(b), 80)
		}
	}
	fp.set("banner", bannerText(b, s.cfg().MaxBytes))
	if len(b) >= s.cfg().MaxBytes {
		fp.set("truncated", "true")
	}
	fp.set("probes", strings.Join(s.tried, ","))
	return fp
}

// greeting returns the server's greeting: the banner read before speaking,
// or what arrives within one step.
func (s *session) greeting(ctx context.Context) []byte {
	if s.banner == nil && s.conn != nil {
		b, _ := s.readSome(ctx, s.cfg().Timeout, false)
		s.banner = b
	}
	return s.banner
}

func isText(b []byte) bool {
	for _, c := range firstLine(b) {
		if c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}
