package probe

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
)

// udpProber is one entry of the UDP dispatch table. UDP has no connection
// to carry a conversation, and a service that does not understand a
// datagram stays silent, so a UDP prober is a payload and a parser: on a
// port whose service is unknown every payload goes out on one socket and
// whichever parser accepts the answer names the service.
type udpProber struct {
	payload func(id uint16) []byte
	parse   func(b []byte, id uint16) *fingerprint
}

// udpProbers is the only dispatch from a service name to its UDP prober;
// never modified. Every payload only asks and changes nothing: no
// credentials (SNMP uses the v3 engine discovery, which carries none), no
// amplification requests (no DNS ANY, no NTP mode 7 monlist, no
// memcached stats).
var udpProbers = map[string]udpProber{
	"dns":       {payload: dnsQuery, parse: parseDNS},
	"ntp":       {payload: ntpRequest, parse: parseNTP},
	"snmp":      {payload: snmpDiscovery, parse: parseSNMP},
	"memcached": {payload: memcachedUDPVersion, parse: parseMemcachedUDP},
	"generic":   {payload: func(uint16) []byte { return nil }, parse: parseGenericUDP},
}

// udpOrder is the order payloads are sent in when the service is unknown;
// the empty datagram goes last so that a real reply is not masked.
var udpOrder = []string{"dns", "ntp", "snmp", "memcached", "generic"}

// probeUDP sends the expected service's payload (or every payload when
// nothing is expected) and waits one Timeout for an answer. An answer is
// open; an ICMP port unreachable (ECONNREFUSED on the connected socket)
// is closed; silence is filtered — which for UDP also covers an open port
// whose service ignored the payloads, as nmap's "open|filtered" says.
func (p *Prober) probeUDP(ctx context.Context, t Target, dial netip.AddrPort) exposure.Observation {
	s := &session{p: p, t: t, dial: dial, network: "udp"}
	defer s.close()
	if _, err := s.connect(ctx); err != nil {
		state, reason := outcome(ctx, err)
		return exposure.Observation{State: state, Error: reason}
	}
	names := udpOrder
	if hint := protocolFor(t.Expect); udpProbers[hint].parse != nil {
		names = []string{hint}
	} else if hint := WellKnown(exposure.ProtocolUDP, t.Port); hint != "" {
		names = []string{hint}
	} else if p.cfg.ConnectOnly {
		names = []string{"generic"}
	}
	// The transaction ID comes from crypto/rand: a reply is matched to its
	// query by it, so an off-path sender that could guess it could make a
	// silent port look like a service.
	var idb [2]byte
	_, _ = rand.Read(idb[:]) // never fails (crypto/rand, Go 1.24)
	id := binary.BigEndian.Uint16(idb[:])
	start := time.Now()
	_ = s.conn.SetDeadline(s.stepDeadline(ctx, p.cfg.Timeout))
	stop := context.AfterFunc(ctx, func() { _ = s.conn.SetDeadline(aLongTimeAgo()) })
	defer stop()
	var err error
	for _, n := range names {
		p.datagrams.Add(1)
		if _, err = s.conn.Write(udpProbers[n].payload(id)); err != nil {
			break
		}
	}
	buf := make([]byte, max(p.cfg.MaxBytes, 1500))
	for err == nil {
		var n int
		n, err = s.conn.Read(buf)
		if err != nil {
			break
		}
		b := buf[:n]
		rtt := time.Since(start)
		for _, name := range names {
			if fp := udpProbers[name].parse(b, id); fp != nil {
				fp.set("response", printable(b, p.cfg.MaxBytes))
				fp.set("probes", strings.Join(names, ","))
				return exposure.Observation{State: exposure.ProbeOpen, Service: fp.Service, Product: fp.Product, Evidence: fp.Evidence, RTT: rtt}
			}
		}
	}
	state, reason := outcome(ctx, err)
	obs := exposure.Observation{State: state, Evidence: map[string]string{"probes": strings.Join(names, ",")}}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		obs.Evidence["reason"] = "ICMP port unreachable"
	case state == exposure.ProbeFiltered:
		obs.Evidence["reason"] = reason + " (open|filtered: a UDP service ignores datagrams it does not understand)"
	default:
		obs.Error = reason
	}
	return obs
}

// parseGenericUDP accepts any answer: the port is open whatever answered.
func parseGenericUDP(b []byte, _ uint16) *fingerprint {
	fp := &fingerprint{Service: classify(b)}
	if fp.Service == "" {
		fp.set("note", "answered a probe, service not recognised")
	}
	return fp
}

// memcachedUDPVersion is "version" behind the 8-byte UDP frame header
// (request ID, sequence 0, 1 datagram, reserved), as memcached's
// protocol.txt "UDP protocol" section requires.
func memcachedUDPVersion(id uint16) []byte {
	b := make([]byte, 8, 8+9)
	binary.BigEndian.PutUint16(b[0:], id)
	binary.BigEndian.PutUint16(b[4:], 1)
	return append(b, "version\r\n"...)
}

func parseMemcachedUDP(b []byte, id uint16) *fingerprint {
	if len(b) < 8 || binary.BigEndian.Uint16(b[0:]) != id {
		return nil
	}
	fp := memcachedVersion(b[8:])
	if fp != nil {
		fp.set("memcached.udp", "enabled: UDP memcached is a DDoS amplification vector")
	}
	return fp
}
