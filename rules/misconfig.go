package rules

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Misconfiguration kinds: layer settings that break traffic or a
// benchmark without being an exposure themselves.
const (
	// MisconfigNACLIngressEphemeral: an inbound NACL denies the internet's
	// replies to the subnet's ephemeral ports, so the subnet's outbound
	// connections (package updates, API calls) hang.
	MisconfigNACLIngressEphemeral = "nacl-ingress-blocks-ephemeral"
	// MisconfigNACLEgressEphemeral: an outbound NACL denies replies to
	// internet clients' ephemeral ports, so the services it should let in
	// never answer.
	MisconfigNACLEgressEphemeral = "nacl-egress-blocks-ephemeral"
	// MisconfigDefaultSGTraffic: a VPC's default security group has
	// inbound or outbound rules (CIS AWS asks that it restricts all
	// traffic).
	MisconfigDefaultSGTraffic = "default-security-group-allows-traffic"
)

// ephemeralPorts is the range AWS recommends a NACL allow for return
// traffic: clients pick source ports anywhere in it (Linux 32768-60999,
// Windows 49152-65535, NAT gateways and Elastic Load Balancing 1024-65535).
// https://docs.aws.amazon.com/vpc/latest/userguide/custom-network-acl.html#nacl-ephemeral-ports
var ephemeralPorts = exposure.PortRange{From: 1024, To: 65535}

// Misconfiguration is a layer setting reported apart from security
// findings.
type Misconfiguration struct {
	Kind     string   `json:"kind"`
	Title    string   `json:"title"`
	Severity Severity `json:"severity"`
	exposure.Scope
	Layer     string `json:"layer"`
	LayerName string `json:"layerName,omitempty"`
	LayerKind string `json:"layerKind"`
	Protocol  string `json:"protocol,omitempty"`
	// Family is the address family whose internet is cut off: ipv4, ipv6.
	Family string `json:"family,omitempty"`
	// Ports are the affected ports ("1024-65535", "1024-32767").
	Ports       string          `json:"ports,omitempty"`
	Message     string          `json:"message"`
	Remediation string          `json:"remediation"`
	Compliance  []ComplianceRef `json:"compliance,omitempty"`
}

// CheckNACLReturnTraffic reports network ACLs (stateless) that deny the
// return traffic of TCP or UDP connections on ephemeral ports 1024-65535
// for the whole internet: on an egress NACL (its rules' Sources are
// destinations) the replies of services the subnet exposes; on an ingress
// NACL the replies to the subnet's own outbound connections. A NACL that
// denies the whole range is a medium misconfiguration; one that denies
// part of it (allowing only 32768-65535, say) is low, since NAT gateways,
// load balancers and Windows clients use ports below the Linux range.
// Denying specific hosts is not reported.
func CheckNACLReturnTraffic(layers []*exposure.Layer) []Misconfiguration {
	var out []Misconfiguration
	seen := map[string]bool{}
	for _, l := range layers {
		if l == nil || l.Kind != exposure.LayerNetworkACL {
			continue
		}
		key := fmt.Sprintf("%s/%s/%s/%s/%t", l.Provider, l.Account, l.Region, l.ID, l.Egress)
		if seen[key] {
			continue
		}
		seen[key] = true
		// IPv6 is judged only where the NACL has IPv6 entries: an IPv4-only
		// VPC's NACL denies all IPv6 by default and that is no mistake.
		families := []string{FamilyIPv4}
		if mentionsIPv6(l) {
			families = append(families, FamilyIPv6)
		}
		for _, fam := range families {
			universe := publicV4
			if fam == FamilyIPv6 {
				universe = publicV6
			}
			for _, proto := range []exposure.Protocol{exposure.ProtocolTCP, exposure.ProtocolUDP} {
				blocked := blockedEphemeral(l, proto, universe)
				if len(blocked) == 0 {
					continue
				}
				out = append(out, naclMisconfig(l, proto, fam, blocked))
			}
		}
	}
	return out
}

// mentionsIPv6 reports whether any rule of the layer names IPv6 addresses.
func mentionsIPv6(l *exposure.Layer) bool {
	for _, r := range l.Rules {
		if r.Sources == nil {
			continue
		}
		for _, p := range r.Sources.Prefixes() {
			if p.Addr().Is6() {
				return true
			}
		}
	}
	return false
}

// publicFamily returns the public internet of one address family.
func publicFamily(family string) *netipx.IPSet {
	var b netipx.IPSetBuilder
	for _, p := range exposure.PublicInternet().Prefixes() {
		if p.Addr().Is4() == (family == FamilyIPv4) {
			b.AddPrefix(p)
		}
	}
	s, _ := b.IPSet()
	return s
}

func naclMisconfig(l *exposure.Layer, proto exposure.Protocol, family string, blocked []exposure.PortRange) Misconfiguration {
	whole := len(blocked) == 1 && blocked[0] == ephemeralPorts
	var ports []string
	for _, b := range blocked {
		ports = append(ports, b.String())
	}
	m := Misconfiguration{
		Scope: l.Scope, Layer: l.ID, LayerName: l.Name, LayerKind: l.Kind,
		Protocol: proto.String(), Family: family, Ports: strings.Join(ports, ","), Severity: Low,
	}
	anyNet := "0.0.0.0/0"
	if family == FamilyIPv6 {
		anyNet = "::/0"
	}
	if whole {
		m.Severity = Medium
	}
	if proto == exposure.ProtocolUDP {
		m.Severity = max(Info, m.Severity-1) // UDP replies matter to fewer clients (DNS, NTP)
	}
	what := "part of the ephemeral range"
	if whole {
		what = "the whole ephemeral range"
	}
	if l.Egress {
		m.Kind = MisconfigNACLEgressEphemeral
		m.Title = "Outbound network ACL blocks replies to internet clients"
		m.Message = fmt.Sprintf("outbound rules deny %s %s (%s) to every %s internet address: replies of services the subnet exposes cannot reach clients whose source port falls there", proto, what, m.Ports, family)
		m.Remediation = fmt.Sprintf("Add an outbound allow rule for %s 1024-65535 to %s, numbered before any deny that covers it: network ACLs are stateless and replies need their own rule.", proto, anyNet)
	} else {
		m.Kind = MisconfigNACLIngressEphemeral
		m.Title = "Inbound network ACL blocks replies to the subnet's outbound connections"
		m.Message = fmt.Sprintf("inbound rules deny %s %s (%s) from every %s internet address: replies to connections the subnet opens (updates, API calls, NAT gateway traffic) are dropped", proto, what, m.Ports, family)
		m.Remediation = fmt.Sprintf("Add an inbound allow rule for %s 1024-65535 from %s, numbered before any deny that covers it; security groups still decide what may connect, since they are stateful.", proto, anyNet)
	}
	return m
}

// blockedEphemeral returns the ephemeral port ranges on which an ordered
// layer denies the protocol for every address of universe.
func blockedEphemeral(l *exposure.Layer, proto exposure.Protocol, universe *netipx.IPSet) []exposure.PortRange {
	rules := slices.Clone(l.Rules)
	sort.SliceStable(rules, func(i, j int) bool {
		a, b := rules[i], rules[j]
		if c := cmp.Compare(a.Tier, b.Tier); c != 0 {
			return c < 0
		}
		if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
			return c < 0
		}
		return a.Action == exposure.Deny && b.Action != exposure.Deny
	})
	// Cut the ephemeral range at every rule boundary; each piece is then
	// wholly inside or outside every rule.
	cuts := map[int]bool{int(ephemeralPorts.From): true, int(ephemeralPorts.To) + 1: true}
	for _, r := range rules {
		for _, pr := range r.Ports {
			if pr.Overlaps(ephemeralPorts) {
				cuts[max(int(pr.From), int(ephemeralPorts.From))] = true
				cuts[min(int(pr.To), int(ephemeralPorts.To))+1] = true
			}
		}
	}
	bounds := make([]int, 0, len(cuts))
	for c := range cuts {
		bounds = append(bounds, c)
	}
	sort.Ints(bounds)
	var blocked []exposure.PortRange
	for i := 0; i+1 < len(bounds); i++ {
		// Every cut is in [ephemeralPorts.From, ephemeralPorts.To+1], and the
		// last one is only ever an end (+1 undone): both fit in a uint16.
		seg := exposure.PortRange{From: uint16(bounds[i]), To: uint16(bounds[i+1] - 1)} //nolint:gosec // G115: bounded by the cuts, see above
		if allowsAny(l, rules, proto, seg, universe) {
			continue
		}
		if n := len(blocked); n > 0 && int(blocked[n-1].To)+1 == int(seg.From) {
			blocked[n-1].To = seg.To
		} else {
			blocked = append(blocked, seg)
		}
	}
	return blocked
}

// allowsAny walks an ordered layer's rules for one port segment and reports
// whether some address of universe is allowed.
func allowsAny(l *exposure.Layer, rules []exposure.Rule, proto exposure.Protocol, seg exposure.PortRange, universe *netipx.IPSet) bool {
	undecided := universe
	for _, r := range rules {
		if r.Protocol != proto && r.Protocol != exposure.ProtocolAll {
			continue
		}
		if len(r.Ports) > 0 && !slices.ContainsFunc(r.Ports, func(pr exposure.PortRange) bool {
			return pr.From <= seg.From && pr.To >= seg.To
		}) {
			continue
		}
		hit := exposure.Intersect(undecided, r.Sources)
		if len(hit.Prefixes()) == 0 {
			continue
		}
		if r.Action == exposure.Allow {
			return true
		}
		var b netipx.IPSetBuilder
		b.AddSet(undecided)
		b.RemoveSet(hit)
		undecided, _ = b.IPSet()
		if len(undecided.Prefixes()) == 0 {
			return false
		}
	}
	return l.Mode == exposure.Ordered && l.Default == exposure.Allow
}

// isDefaultSG reports whether l is an AWS VPC's default security group.
func isDefaultSG(l *exposure.Layer) bool {
	return l != nil && l.Kind == exposure.LayerSecurityGroup && !l.Egress &&
		(l.Provider == exposure.ProviderAWS || l.Provider == "") && l.Name == "default"
}

// CheckDefaultSecurityGroups reports AWS default security groups that have
// any inbound or outbound rule. CIS AWS Foundations asks that the default
// group of every VPC restricts all traffic, because instances launched
// without a group land in it; AWS Config's vpc-default-security-group-closed
// is non-compliant for any inbound or outbound rule, so the allow-all
// egress rule and the self-referencing inbound rule AWS creates both count.
// https://docs.aws.amazon.com/vpc/latest/userguide/default-security-group.html
// https://docs.aws.amazon.com/config/latest/developerguide/vpc-default-security-group-closed.html
func CheckDefaultSecurityGroups(layers []*exposure.Layer) []Misconfiguration {
	var out []Misconfiguration
	seen := map[string]bool{}
	for _, l := range layers {
		if !isDefaultSG(l) || len(l.Rules)+len(l.Outbound) == 0 {
			continue
		}
		key := l.Account + "/" + l.Region + "/" + l.ID
		if seen[key] {
			continue
		}
		seen[key] = true
		names := func(rs []exposure.Rule) string {
			var srcs []string
			for _, r := range rs {
				srcs = append(srcs, r.SourceNames...)
			}
			slices.Sort(srcs)
			return strings.Join(slices.Compact(srcs), ", ")
		}
		var parts []string
		if len(l.Rules) > 0 {
			parts = append(parts, fmt.Sprintf("%d inbound rule(s) (sources: %s)", len(l.Rules), names(l.Rules)))
		}
		if len(l.Outbound) > 0 {
			parts = append(parts, fmt.Sprintf("%d outbound rule(s) (destinations: %s)", len(l.Outbound), names(l.Outbound)))
		}
		out = append(out, Misconfiguration{
			Kind: MisconfigDefaultSGTraffic, Title: "Default security group allows traffic", Severity: Low,
			Scope: l.Scope, Layer: l.ID, LayerName: l.Name, LayerKind: l.Kind,
			Message: "default security group has " + strings.Join(parts, " and "),
			Remediation: "Remove every inbound and outbound rule from the VPC's default security group and attach purpose-made groups instead; " +
				"the default group cannot be deleted, and instances launched without a group join it.",
			Compliance: []ComplianceRef{{Framework: FrameworkCISAWS, Control: "5.4"}},
		})
	}
	return out
}
