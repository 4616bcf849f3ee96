package exposure

import (
	"fmt"
	"strconv"
	"strings"
)

// PortRange is an inclusive range of ports (or ICMP types).
type PortRange struct {
	From uint16 `json:"from"`
	To   uint16 `json:"to"`
}

// AllPorts is the whole port axis.
var AllPorts = PortRange{0, 65535}

// Port returns the range holding the single port p.
func Port(p uint16) PortRange { return PortRange{p, p} }

// Contains reports whether p lies within r.
func (r PortRange) Contains(p uint16) bool { return p >= r.From && p <= r.To }

// Overlaps reports whether r and o share a port.
func (r PortRange) Overlaps(o PortRange) bool { return r.From <= o.To && o.From <= r.To }

// Size is the number of ports in r.
func (r PortRange) Size() int { return int(r.To) - int(r.From) + 1 }

// IsAll reports whether r is the whole axis.
func (r PortRange) IsAll() bool { return r == AllPorts }

func (r PortRange) String() string {
	if r.From == r.To {
		return strconv.Itoa(int(r.From))
	}
	return fmt.Sprintf("%d-%d", r.From, r.To)
}

// NewPortRange validates a from/to pair as the clouds' APIs give it (int32
// in AWS and Azure). It rejects negative, reversed and out-of-range values.
func NewPortRange(from, to int64) (PortRange, error) {
	if from < 0 || to < 0 || from > 65535 || to > 65535 {
		return PortRange{}, fmt.Errorf("port range %d-%d out of range 0-65535", from, to)
	}
	if from > to {
		return PortRange{}, fmt.Errorf("port range %d-%d is reversed", from, to)
	}
	return PortRange{uint16(from), uint16(to)}, nil
}

// ParsePortRange parses "22", "8000-8999" or "*" (the whole axis), the forms
// used by Azure NSGs and GCP firewall rules.
func ParsePortRange(s string) (PortRange, error) {
	s = strings.TrimSpace(s)
	if s == "*" || s == "" {
		return AllPorts, nil
	}
	lo, hi, found := strings.Cut(s, "-")
	a, err := strconv.ParseInt(strings.TrimSpace(lo), 10, 32)
	if err != nil {
		return PortRange{}, fmt.Errorf("invalid port %q", s)
	}
	b := a
	if found {
		if b, err = strconv.ParseInt(strings.TrimSpace(hi), 10, 32); err != nil {
			return PortRange{}, fmt.Errorf("invalid port range %q", s)
		}
	}
	return NewPortRange(a, b)
}
