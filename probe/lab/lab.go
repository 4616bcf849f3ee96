// Package lab starts small in-process services on loopback for the demo and
// the probe tests: an SSH-like greeter, HTTP and HTTPS servers (self-signed
// and expired certificates), Redis-, MySQL-, PostgreSQL-, MongoDB-, RDP-,
// VNC-, FTP- and SMTP-like responders, UDP DNS, NTP, SNMPv3 and memcached
// responders, a silent listener, a closed port and a filtered one.
//
// Each service answers just enough of its protocol for a prober to
// fingerprint it. Everything binds to 127.0.0.1 and nothing else; the
// Redirect map lets a prober dial these listeners in place of the
// documentation-range addresses (203.0.113.0/24 …) the demo estate uses.
package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Kind names a lab service.
type Kind string

// TCP kinds.
const (
	SSH          Kind = "ssh"           // "SSH-2.0-OpenSSH_9.6p1 …" greeting
	FTP          Kind = "ftp"           // "220 (vsFTPd 3.0.5)"
	SMTP         Kind = "smtp"          // "220 … ESMTP Postfix"
	MySQL        Kind = "mysql"         // protocol-10 handshake, version 8.0.36
	VNC          Kind = "vnc"           // "RFB 003.008"
	HTTP         Kind = "http"          // net/http, title "Portcullis lab"
	HTTPS        Kind = "https"         // HTTP over TLS, self-signed certificate
	HTTPSExpired Kind = "https-expired" // HTTP over TLS, self-signed certificate expired a year ago
	Redis        Kind = "redis"         // PING → +PONG, INFO server
	RedisAuth    Kind = "redis-auth"    // PING → -NOAUTH
	Postgres     Kind = "postgresql"    // SSLRequest → 'N'
	MongoDB      Kind = "mongodb"       // OP_MSG isMaster → maxWireVersion 21
	RDP          Kind = "rdp"           // X.224 connection confirm, CredSSP selected
	Memcached    Kind = "memcached"     // "version" → "VERSION 1.6.21"
	Silent       Kind = "silent"        // accepts and never says a word
	Closed       Kind = "closed"        // nothing listens: connection refused
	Filtered     Kind = "filtered"      // SYNs go unanswered (Linux: a full accept queue)
)

// UDP kinds.
const (
	DNS          Kind = "dns"           // answers version.bind CH TXT
	NTP          Kind = "ntp"           // mode 4, stratum 2
	SNMP         Kind = "snmp"          // SNMPv3 report with a Net-SNMP engine ID
	MemcachedUDP Kind = "memcached-udp" // "version" behind the UDP frame header
	ClosedUDP    Kind = "closed-udp"    // nothing listens: ICMP port unreachable
	SilentUDP    Kind = "silent-udp"    // reads datagrams, never answers
)

// Protocol says whether a kind is a TCP or a UDP service.
func (k Kind) Protocol() exposure.Protocol {
	switch k {
	case DNS, NTP, SNMP, MemcachedUDP, ClosedUDP, SilentUDP:
		return exposure.ProtocolUDP
	}
	return exposure.ProtocolTCP
}

// Service asks for one lab service.
type Service struct {
	Kind Kind
	// Public is the address the service stands in for (a documentation
	// address of the demo estate); Redirect maps it to the listener.
	Public netip.AddrPort
	// Banner replaces the greeting of SSH, FTP, SMTP and VNC services (sent
	// as is, line break included) and the Server header of HTTP ones.
	Banner string
	// Delay holds the greeting back (a slow banner).
	Delay time.Duration
}

// Endpoint is a running service.
type Endpoint struct {
	Service
	Protocol exposure.Protocol
	// Addr is the loopback address and port the service listens on (for
	// Closed kinds: a port nothing listens on).
	Addr netip.AddrPort
}

// Lab is a set of running services. Close stops them.
type Lab struct {
	Endpoints []Endpoint

	cancel   context.CancelFunc
	wg       sync.WaitGroup
	mu       sync.Mutex
	closers  []func() error
	agents   []string
	accepted atomic.Int64
}

var loopback = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// Start starts services on 127.0.0.1, each on a port of its own. They run
// until ctx ends or Close is called.
func Start(ctx context.Context, services []Service) (*Lab, error) {
	ctx, cancel := context.WithCancel(ctx)
	l := &Lab{cancel: cancel}
	l.Endpoints = make([]Endpoint, len(services))
	// A closed service is a port that was listened on and freed: the kernel
	// may hand it out again to the next listener, which would then answer
	// where "closed" was promised. So every listener is started first and
	// the closed ports are picked last.
	for _, closedPass := range []bool{false, true} {
		for i, s := range services {
			if (s.Kind == Closed || s.Kind == ClosedUDP) != closedPass {
				continue
			}
			ep, err := l.start(ctx, s)
			if err != nil {
				_ = l.Close()
				return nil, fmt.Errorf("start lab service %d (%s): %w", i, s.Kind, err)
			}
			l.Endpoints[i] = ep
		}
	}
	context.AfterFunc(ctx, func() { _ = l.Close() })
	return l, nil
}

func (l *Lab) start(ctx context.Context, s Service) (Endpoint, error) {
	ep := Endpoint{Service: s, Protocol: s.Kind.Protocol()}
	local := netip.AddrPortFrom(loopback, 0)
	switch s.Kind {
	case Closed:
		ln, err := net.Listen("tcp", local.String())
		if err != nil {
			return ep, err
		}
		ep.Addr = netip.MustParseAddrPort(ln.Addr().String())
		return ep, ln.Close() // the port is free again: connecting to it is refused
	case ClosedUDP:
		pc, err := net.ListenPacket("udp", local.String())
		if err != nil {
			return ep, err
		}
		ep.Addr = netip.MustParseAddrPort(pc.LocalAddr().String())
		return ep, pc.Close()
	case Filtered:
		addr, closeFn, err := filteredListener(ctx)
		if err != nil {
			return ep, err
		}
		l.addCloser(closeFn)
		ep.Addr = addr
		return ep, nil
	}
	if ep.Protocol == exposure.ProtocolUDP {
		pc, err := net.ListenPacket("udp", local.String())
		if err != nil {
			return ep, err
		}
		l.addCloser(pc.Close)
		ep.Addr = netip.MustParseAddrPort(pc.LocalAddr().String())
		answer, err := udpResponder(s.Kind)
		if err != nil {
			_ = pc.Close()
			return ep, err
		}
		l.wg.Go(func() { serveUDP(pc, answer) })
		return ep, nil
	}
	ln, err := net.Listen("tcp", local.String())
	if err != nil {
		return ep, err
	}
	ep.Addr = netip.MustParseAddrPort(ln.Addr().String())
	switch s.Kind {
	case HTTP, HTTPS, HTTPSExpired:
		stop, err := l.serveHTTP(ln, s)
		if err != nil {
			_ = ln.Close()
			return ep, err
		}
		l.addCloser(stop)
		return ep, nil
	}
	handle, err := tcpHandler(s)
	if err != nil {
		_ = ln.Close()
		return ep, err
	}
	l.addCloser(ln.Close)
	l.wg.Go(func() { l.serveTCP(ctx, ln, handle) })
	return ep, nil
}

func (l *Lab) addCloser(f func() error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closers = append(l.closers, f)
}

// Close stops every service and waits for them to finish.
func (l *Lab) Close() error {
	l.cancel()
	l.mu.Lock()
	closers := l.closers
	l.closers = nil
	l.mu.Unlock()
	var errs []error
	for _, c := range closers {
		if err := c(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	l.wg.Wait()
	return errors.Join(errs...)
}

// Redirect maps each service's Public address to its loopback address, for
// probe.Config.Redirect. Services without a Public address are left out.
func (l *Lab) Redirect() map[netip.AddrPort]netip.AddrPort {
	m := map[netip.AddrPort]netip.AddrPort{}
	for _, e := range l.Endpoints {
		if e.Public.IsValid() {
			m[e.Public] = e.Addr
		}
	}
	return m
}

// Find returns the first endpoint of kind k.
func (l *Lab) Find(k Kind) (Endpoint, bool) {
	for _, e := range l.Endpoints {
		if e.Kind == k {
			return e, true
		}
	}
	return Endpoint{}, false
}

// Accepted counts the TCP connections the lab's services accepted.
func (l *Lab) Accepted() int64 { return l.accepted.Load() }

// UserAgents returns the User-Agent of every HTTP request the lab served.
func (l *Lab) UserAgents() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.agents...)
}
