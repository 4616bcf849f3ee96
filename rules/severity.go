package rules

import (
	"fmt"
	"strings"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Severity orders how bad a finding is.
type Severity int

const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = []string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < Info || s > Critical {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity accepts info, low, medium, high, critical (any case).
func ParseSeverity(v string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(strings.TrimSpace(v), n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want info, low, medium, high or critical)", v)
}

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Reach says how far an exposure is from the internet reaching it, as
// steps below an effective exposure. docs/rules.md has the model and a
// table of examples.
type Reach int

const (
	// ReachEffective: the internet reaches the target now, through every
	// layer of the path.
	ReachEffective Reach = 0
	// ReachLatent: a layer that filters per target (a security group, an
	// NSG, a GCP firewall rule or policy) admits the traffic, but no path
	// delivers it today: nothing uses the layer, or another layer on its
	// path (a route, a NACL, a subnet NSG) closes it. One change (attach
	// the group, add the route, open the NACL) makes it effective.
	ReachLatent Reach = 1
	// ReachLatentBehind: a stateless subnet filter (an AWS network ACL)
	// admits the traffic, and the targets' own stateful filters (their
	// security groups) sit behind it and close it. AWS designs NACLs as an
	// optional second layer and creates every VPC's default NACL allowing
	// all traffic
	// (https://docs.aws.amazon.com/vpc/latest/userguide/default-network-acl.html);
	// whatever a security group also admits is an effective exposure,
	// reported on its own. Security Hub rates the NACL control EC2.21
	// medium, against high for the security-group control EC2.18
	// (https://docs.aws.amazon.com/securityhub/latest/userguide/ec2-controls.html).
	ReachLatentBehind Reach = 2
)

// ReachOf returns the reach of an exposure: effective, or latent on a
// per-target layer, or latent on a stateless subnet layer with the
// targets' own filters behind it.
func ReachOf(e *exposure.Exposure) Reach {
	if e.Level != exposure.Latent {
		return ReachEffective
	}
	if e.Site != nil && e.Target.Kind == exposure.LayerNetworkACL {
		return ReachLatentBehind
	}
	return ReachLatent
}

// Adjust computes a finding's severity from its rule's base severity (the
// severity of an effective exposure open to anyone, not confirmed by a
// probe):
//
//	score    = base − breadth + probe
//	breadth  = 0 anyone, 1 broad, 2 narrow
//	probe    = +1 open, −1 closed or filtered, 0 otherwise (no probe,
//	           error, skipped, or open but serving another service)
//	reached  = clamp(score, max(info, floor), critical)
//	severity = max(info, reached − reach)
//	reach    = 0 effective, 1 latent, 2 latent behind the targets' own filters
//
// The floor bounds what breadth and probes may do to an exposure the
// internet reaches; reach applies after it, so that a latent exposure is
// never as severe as the same exposure made effective (an allow-all rule
// is critical on a live target, high on an unattached group, medium on a
// NACL in front of security groups). The same port is never less severe
// open to anyone than to a broad range, nor to a broad range than to one
// partner /24; never less severe effective than latent; never less severe
// confirmed than unconfirmed. A probe can lower a finding, never remove it.
func Adjust(base, floor Severity, b exposure.Breadth, reach Reach, probe exposure.ProbeState) Severity {
	score := int(base)
	switch b {
	case exposure.BreadthBroad:
		score--
	case exposure.BreadthNarrow:
		score -= 2
	}
	switch probe {
	case exposure.ProbeOpen:
		score++
	case exposure.ProbeClosed, exposure.ProbeFiltered:
		score--
	}
	lo := max(Info, floor)
	reached := min(max(score, int(lo)), int(Critical))
	return Severity(max(reached-int(reach), int(Info)))
}
