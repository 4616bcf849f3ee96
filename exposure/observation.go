package exposure

import "time"

// ProbeState is what a probe saw on a port.
type ProbeState string

const (
	ProbeOpen     ProbeState = "open"     // a connection was accepted or a datagram answered
	ProbeClosed   ProbeState = "closed"   // refused (TCP RST, ICMP port unreachable)
	ProbeFiltered ProbeState = "filtered" // no answer before the timeout
	ProbeError    ProbeState = "error"    // the probe itself failed
	ProbeSkipped  ProbeState = "skipped"  // refused by the scope guard or sampling policy
)

// Observation is the outcome of probing one port of one public endpoint.
type Observation struct {
	Endpoint string            `json:"endpoint"` // IP address (or host name) probed
	Protocol Protocol          `json:"protocol"`
	Port     uint16            `json:"port"`
	State    ProbeState        `json:"state"`
	Service  string            `json:"service,omitempty"` // fingerprinted service: ssh, http, tls, redis, dns…
	Product  string            `json:"product,omitempty"` // e.g. "OpenSSH_9.6", "nginx/1.25"
	Evidence map[string]string `json:"evidence,omitempty"`
	RTT      time.Duration     `json:"rttNanos,omitempty"`
	Error    string            `json:"error,omitempty"`
}
