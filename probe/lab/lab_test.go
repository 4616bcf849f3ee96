package lab

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
)

func TestStart(t *testing.T) {
	pub := netip.MustParseAddrPort("203.0.113.10:22")
	var services []Service
	for _, k := range []Kind{SSH, FTP, SMTP, MySQL, VNC, HTTP, HTTPS, HTTPSExpired, Redis, RedisAuth, Postgres, MongoDB, RDP, Memcached, Silent, Closed, Filtered, DNS, NTP, SNMP, MemcachedUDP, ClosedUDP, SilentUDP} {
		services = append(services, Service{Kind: k})
	}
	services[0].Public = pub
	l, err := Start(t.Context(), services)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, e := range l.Endpoints {
		if e.Addr.Addr() != netip.MustParseAddr("127.0.0.1") || e.Addr.Port() == 0 {
			t.Errorf("%s listens on %s, want 127.0.0.1 and a port", e.Kind, e.Addr)
		}
		if e.Protocol != e.Kind.Protocol() {
			t.Errorf("%s protocol %s", e.Kind, e.Protocol)
		}
	}
	if r := l.Redirect(); len(r) != 1 || r[pub] != l.Endpoints[0].Addr {
		t.Errorf("Redirect = %v, want only %s → %s", r, pub, l.Endpoints[0].Addr)
	}
	if e, ok := l.Find(Closed); !ok {
		t.Error("no closed endpoint")
	} else if _, err := net.DialTimeout("tcp", e.Addr.String(), time.Second); err == nil {
		t.Error("the closed port accepted a connection")
	}
	if e, _ := l.Find(DNS); e.Protocol != exposure.ProtocolUDP {
		t.Errorf("dns runs over %s", e.Protocol)
	}
	if _, err := Start(t.Context(), []Service{{Kind: "gopher"}}); err == nil {
		t.Error("an unknown kind started")
	}
	if err := l.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}
