package exposure

import (
	"fmt"
	"strconv"
	"strings"
)

// Protocol is an IP protocol number (IANA "Assigned Internet Protocol
// Numbers"). ProtocolAll stands for every protocol, as AWS's "-1", Azure's
// "*" and GCP's "all" do.
type Protocol int16

// Well-known protocols. The port axis of ICMP and ICMPv6 carries the ICMP
// type (a rule for every type covers the whole axis); protocols without ports
// always cover the whole axis.
const (
	ProtocolAll    Protocol = -1
	ProtocolICMP   Protocol = 1
	ProtocolTCP    Protocol = 6
	ProtocolUDP    Protocol = 17
	ProtocolICMPv6 Protocol = 58
)

var protocolNames = map[string]Protocol{
	"all": ProtocolAll, "-1": ProtocolAll, "*": ProtocolAll, "any": ProtocolAll,
	"icmp": ProtocolICMP, "tcp": ProtocolTCP, "udp": ProtocolUDP,
	"icmpv6": ProtocolICMPv6, "ipv6-icmp": ProtocolICMPv6, "icmp6": ProtocolICMPv6,
	"esp": 50, "ah": 51, "gre": 47, "sctp": 132, "ipip": 4,
}

// ParseProtocol accepts a protocol name (tcp, udp, icmp, icmpv6, all, *, -1,
// esp, ah, gre, sctp, ipip; case-insensitive) or a number from 0 to 255.
func ParseProtocol(s string) (Protocol, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if p, ok := protocolNames[t]; ok {
		return p, nil
	}
	n, err := strconv.Atoi(t)
	if err != nil {
		return 0, fmt.Errorf("unknown protocol %q", s)
	}
	if n < 0 || n > 255 {
		return 0, fmt.Errorf("protocol number %d out of range 0-255", n)
	}
	return Protocol(n), nil
}

// HasPorts reports whether the protocol carries ports (TCP, UDP, SCTP).
func (p Protocol) HasPorts() bool {
	return p == ProtocolTCP || p == ProtocolUDP || p == 132
}

// IsICMP reports whether the port axis of p carries ICMP types.
func (p Protocol) IsICMP() bool { return p == ProtocolICMP || p == ProtocolICMPv6 }

// String returns the lower-case name of well-known protocols, "all" for
// ProtocolAll and the number otherwise.
func (p Protocol) String() string {
	switch p {
	case ProtocolAll:
		return "all"
	case ProtocolICMP:
		return "icmp"
	case ProtocolTCP:
		return "tcp"
	case ProtocolUDP:
		return "udp"
	case ProtocolICMPv6:
		return "icmpv6"
	case 47:
		return "gre"
	case 50:
		return "esp"
	case 51:
		return "ah"
	case 132:
		return "sctp"
	}
	return strconv.Itoa(int(p))
}

// MarshalText implements encoding.TextMarshaler.
func (p Protocol) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Protocol) UnmarshalText(b []byte) error {
	v, err := ParseProtocol(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}
