package gcp

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"go4.org/netipx"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/providers"
)

// Rule evaluation order, from
// https://cloud.google.com/firewall/docs/firewall-policies-overview#rule-evaluation:
// the organization's hierarchical policy, then each folder's from the top
// down, then — with the network's default AFTER_CLASSIC_FIREWALL
// enforcement order — the VPC firewall rules, the global network firewall
// policy and the regional network firewall policy of the instance's
// region; with BEFORE_CLASSIC_FIREWALL the two network policies come
// before the VPC rules. Each level is one tier of an Ordered layer: a
// match decides (allow, deny) or ends the tier (goto_next); a packet no
// rule of a tier matches goes on to the next tier, and the implied
// ingress deny ends it all.
const (
	tierNetworkBase = 100 // hierarchical policies use tiers 0..99
	levelVPC        = "vpc"
	levelHierarchy  = "hierarchical"
	levelNetwork    = "network"
	levelRegional   = "regional"
)

// proxyRanges are the sources Google's front ends use towards backends of
// global external proxy load balancers (and of classic ones), as listed in
// https://cloud.google.com/load-balancing/docs/firewall-rules.
var proxyRangeNames = []string{"130.211.0.0/22", "35.191.0.0/16"}

// entry is one protocol of a rule with its ports (empty = every port).
type entry struct {
	proto exposure.Protocol
	ports []exposure.PortRange
}

// compiledRule is a VPC firewall rule or a firewall policy rule, parsed.
type compiledRule struct {
	uid         int
	level       string
	id          string // unique ID: resource key of the rule
	name        string // as shown in evidence
	description string
	project     string
	network     string // VPC rules: the network key
	priority    int
	action      exposure.Action
	note        string

	targetTags       []string
	targetSAs        []string
	targetNetworks   []string // hierarchical rules: targetResources
	secureTagTargets bool     // targets secure tags we cannot resolve
	destRanges       *netipx.IPSet

	rangeSources *netipx.IPSet
	srcTags      []string
	srcSAs       []string
	sources      *netipx.IPSet // final, after tag resolution
	sourceNames  []string

	entries []entry
}

// parseEntries parses allowed/denied/layer4Configs entries.
func parseEntries(cfgs []l4Config) ([]entry, error) {
	var out []entry
	for i, c := range cfgs {
		pr, err := exposure.ParseProtocol(c.IPProtocol)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		e := entry{proto: pr}
		if len(c.Ports) > 0 && !pr.HasPorts() {
			return nil, fmt.Errorf("entry %d: ports %v given for protocol %s (only tcp, udp and sctp have ports)", i, c.Ports, c.IPProtocol)
		}
		for _, p := range c.Ports {
			if strings.TrimSpace(p) == "" {
				return nil, fmt.Errorf("entry %d: empty port", i)
			}
			r, err := exposure.ParsePortRange(p)
			if err != nil || strings.TrimSpace(p) == "*" {
				if err == nil {
					err = fmt.Errorf("invalid port %q", p)
				}
				return nil, fmt.Errorf("entry %d (%s): %w", i, c.IPProtocol, err)
			}
			e.ports = append(e.ports, r)
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no protocol entries")
	}
	return out, nil
}

// parseRanges parses CIDR lists naming the field in errors.
func parseRanges(field string, cidrs []string) (*netipx.IPSet, error) {
	s, err := exposure.ParseSources(cidrs...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	return s, nil
}

// compileFirewall turns a VPC firewall rule into a compiledRule, or
// returns nil for rules that never decide internet ingress (egress or
// disabled ones: https://cloud.google.com/vpc/docs/firewalls#firewall_rule_components).
func compileFirewall(proj string, f *firewall) (*compiledRule, error) {
	if strings.EqualFold(f.Direction, "EGRESS") || f.Disabled {
		return nil, nil
	}
	if f.Direction != "" && !strings.EqualFold(f.Direction, "INGRESS") {
		return nil, fmt.Errorf("direction: unknown value %q", f.Direction)
	}
	r := &compiledRule{
		level: levelVPC, project: proj, name: f.Name, description: f.Description,
		network: resourceKey(f.Network), priority: 1000,
		targetTags: f.TargetTags, targetSAs: f.TargetServiceAccounts,
		srcTags: f.SourceTags, srcSAs: f.SourceServiceAccounts,
	}
	r.id = resourceKey(f.SelfLink)
	if r.id == "" {
		r.id = "projects/" + proj + "/global/firewalls/" + f.Name
	}
	if f.Network == "" {
		return nil, fmt.Errorf("network: missing")
	}
	if f.Priority != nil {
		if *f.Priority < 0 || *f.Priority > 65535 {
			return nil, fmt.Errorf("priority: %d out of range 0-65535", *f.Priority)
		}
		r.priority = int(*f.Priority)
	}
	var err error
	cfgs := f.Allowed
	r.action = exposure.Allow
	if len(f.Denied) > 0 {
		cfgs, r.action = f.Denied, exposure.Deny
		if len(f.Allowed) > 0 {
			return nil, fmt.Errorf("both allowed and denied are set")
		}
	}
	if r.entries, err = parseEntries(cfgs); err != nil {
		if len(f.Denied) > 0 {
			return nil, fmt.Errorf("denied: %w", err)
		}
		return nil, fmt.Errorf("allowed: %w", err)
	}
	ranges := f.SourceRanges
	if len(ranges) == 0 && len(f.SourceTags) == 0 && len(f.SourceServiceAccounts) == 0 {
		// "If you omit a source for an ingress rule, Google Cloud uses
		// 0.0.0.0/0" (https://cloud.google.com/firewall/docs/firewalls#sources-for-rules).
		ranges = []string{"0.0.0.0/0"}
	}
	if r.rangeSources, err = parseRanges("sourceRanges", ranges); err != nil {
		return nil, err
	}
	r.sourceNames = append(append(append([]string{}, ranges...), prefixed("tag:", f.SourceTags)...), prefixed("serviceAccount:", f.SourceServiceAccounts)...)
	if len(f.DestinationRanges) > 0 {
		if r.destRanges, err = parseRanges("destinationRanges", f.DestinationRanges); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func prefixed(p string, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = p + s
	}
	return out
}

// compilePolicyRule turns a firewall policy rule into a compiledRule, or
// nil when it never decides internet ingress to instances.
func compilePolicyRule(proj, level, policyID, policyName string, pr *policyRule) (*compiledRule, error) {
	if pr.Disabled || strings.EqualFold(pr.Direction, "EGRESS") {
		return nil, nil
	}
	if pr.Direction != "" && !strings.EqualFold(pr.Direction, "INGRESS") {
		return nil, fmt.Errorf("direction: unknown value %q", pr.Direction)
	}
	// Rules for internal managed load balancers' proxies do not filter
	// traffic to instances.
	if strings.EqualFold(pr.TargetType, "INTERNAL_MANAGED_LB") {
		return nil, nil
	}
	r := &compiledRule{
		level: level, project: proj, priority: int(pr.Priority), description: pr.Description,
		id:         policyID + "/rules/" + strconv.FormatInt(pr.Priority, 10),
		name:       policyName + "/" + strconv.FormatInt(pr.Priority, 10),
		targetSAs:  pr.TargetServiceAccounts,
		targetTags: nil,
	}
	if pr.RuleName != "" {
		r.name += " (" + pr.RuleName + ")"
	}
	for _, t := range pr.TargetResources {
		r.targetNetworks = append(r.targetNetworks, resourceKey(t))
	}
	switch strings.ToLower(pr.Action) {
	case "allow":
		r.action = exposure.Allow
	case "deny":
		r.action = exposure.Deny
	case "goto_next":
		r.action = exposure.Next
	case "apply_security_profile_group":
		// Cloud NGFW inspects the traffic and lets it through unless a
		// threat is detected: for exposure it is an allow.
		r.action = exposure.Allow
		r.note = "apply_security_profile_group: allowed, then inspected by Cloud NGFW"
	default:
		return nil, fmt.Errorf("action: unknown value %q", pr.Action)
	}
	if len(pr.TargetSecureTags) > 0 {
		r.secureTagTargets = true
	}
	var err error
	m := &pr.Match
	if r.entries, err = parseEntries(m.Layer4Configs); err != nil {
		return nil, fmt.Errorf("match.layer4Configs: %w", err)
	}
	if len(m.DestIPRanges) > 0 {
		if r.destRanges, err = parseRanges("match.destIpRanges", m.DestIPRanges); err != nil {
			return nil, err
		}
	}
	var b netipx.IPSetBuilder
	addrField := false
	if len(m.SrcIPRanges) > 0 {
		addrField = true
		s, err := parseRanges("match.srcIpRanges", m.SrcIPRanges)
		if err != nil {
			return nil, err
		}
		b.AddSet(s)
		r.sourceNames = append(r.sourceNames, m.SrcIPRanges...)
	}
	// Address groups, FQDNs, geolocations and threat-intelligence lists are
	// resolved by Google at run time and cannot be resolved from the
	// snapshot. Conservatively, an allow rule is taken to admit every
	// address through them and a deny or goto_next rule to match none, so
	// that an exposure is never hidden (docs/providers/gcp.md).
	unresolved := append(append(append(prefixed("addressGroup:", m.SrcAddressGroups), prefixed("fqdn:", m.SrcFqdns)...),
		prefixed("region:", m.SrcRegionCodes)...), prefixed("threatIntelligence:", m.SrcThreatIntelligences)...)
	if len(unresolved) > 0 {
		addrField = true
		r.sourceNames = append(r.sourceNames, unresolved...)
		if r.action == exposure.Allow {
			b.AddSet(exposure.AnySource())
			r.note = joinNote(r.note, "sources "+strings.Join(unresolved, ", ")+" cannot be resolved offline: taken as any address")
		} else {
			r.note = joinNote(r.note, "sources "+strings.Join(unresolved, ", ")+" cannot be resolved offline: taken as no address")
		}
	}
	// Secure tags and VPC networks as sources only ever name internal
	// addresses, which never come from the internet.
	if len(m.SrcSecureTags) > 0 || len(m.SrcNetworks) > 0 {
		addrField = true
		for _, t := range m.SrcSecureTags {
			r.sourceNames = append(r.sourceNames, "secureTag:"+t.Name)
		}
		r.sourceNames = append(r.sourceNames, prefixed("network:", m.SrcNetworks)...)
	}
	src, _ := b.IPSet()
	if m.SrcNetworkType != "" {
		r.sourceNames = append(r.sourceNames, "networkType:"+m.SrcNetworkType)
		var typ *netipx.IPSet
		switch strings.ToUpper(m.SrcNetworkType) {
		case "INTERNET":
			typ = exposure.PublicInternet()
		case "NON_INTERNET", "VPC_NETWORKS", "INTRA_VPC":
			typ = nonInternet()
		default:
			return nil, fmt.Errorf("match.srcNetworkType: unknown value %q", m.SrcNetworkType)
		}
		// The network context is combined with the other sources by AND
		// (https://cloud.google.com/firewall/docs/firewall-policies-rule-details#combinations-sources).
		if addrField {
			src = exposure.Intersect(src, typ)
		} else {
			src = typ
		}
	} else if !addrField {
		return nil, fmt.Errorf("match: an ingress rule needs a source")
	}
	r.rangeSources = src
	return r, nil
}

func nonInternet() *netipx.IPSet {
	var b netipx.IPSetBuilder
	b.AddSet(exposure.AnySource())
	b.RemoveSet(exposure.PublicInternet())
	s, _ := b.IPSet()
	return s
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// appliesTo reports whether a compiled rule applies to a network
// interface (targets and destination filtering).
func (r *compiledRule) appliesTo(n *nic) bool {
	if r.level == levelVPC && r.network != n.network {
		return false
	}
	if len(r.targetNetworks) > 0 && !contains(r.targetNetworks, n.network) {
		return false
	}
	if len(r.targetTags) > 0 {
		hit := false
		for _, t := range r.targetTags {
			if n.inst.tags[t] {
				hit = true
				break
			}
		}
		if !hit {
			return false
		}
	}
	if len(r.targetSAs) > 0 && !contains(r.targetSAs, n.inst.sa) {
		return false
	}
	if r.secureTagTargets && r.action != exposure.Allow {
		// Which instances carry a secure tag is not in the compute API;
		// an allow is assumed to apply and a deny or goto_next not to, so
		// that an exposure is never hidden.
		return false
	}
	if r.destRanges != nil {
		hit := false
		for _, a := range n.addresses() {
			if r.destRanges.Contains(a) {
				hit = true
				break
			}
		}
		if !hit {
			return false
		}
	}
	return true
}

func contains(ss []string, s string) bool {
	for _, v := range ss {
		if v == s {
			return true
		}
	}
	return false
}

// rules turns a compiled rule into model rules in tier.
func (r *compiledRule) rules(tier int) []exposure.Rule {
	desc := r.level + " firewall rule"
	if r.level != levelVPC {
		desc = r.level + " firewall policy rule"
	}
	if r.description != "" {
		desc += ": " + r.description
	}
	if r.note != "" {
		desc += " [" + r.note + "]"
	}
	out := make([]exposure.Rule, 0, len(r.entries))
	for _, e := range r.entries {
		out = append(out, exposure.Rule{
			ID: r.name, Description: desc, Action: r.action,
			Tier: tier, Priority: r.priority, Protocol: e.proto, Ports: e.ports,
			Sources: r.sources, SourceNames: r.sourceNames,
		})
	}
	return out
}

// resolveSources completes VPC rules' sources with the internal addresses
// of the instances their source tags and service accounts select: "source
// tags and service accounts match the primary internal address and alias
// ranges of the network interfaces in the rule's network"
// (https://cloud.google.com/firewall/docs/firewalls#sources-for-rules).
// They never match external addresses, so they never admit the internet.
func (r *compiledRule) resolveSources(members []*nic) {
	if len(r.srcTags) == 0 && len(r.srcSAs) == 0 {
		r.sources = r.rangeSources
		return
	}
	var b netipx.IPSetBuilder
	if r.rangeSources != nil {
		b.AddSet(r.rangeSources)
	}
	for _, n := range members {
		hit := contains(r.srcSAs, n.inst.sa)
		for _, t := range r.srcTags {
			hit = hit || n.inst.tags[t]
		}
		if !hit {
			continue
		}
		for _, a := range n.internal {
			b.Add(a)
		}
		for _, p := range n.aliases {
			b.AddPrefix(p)
		}
	}
	r.sources, _ = b.IPSet()
}

func (r *compiledRule) kind() string {
	if r.level == levelVPC {
		return exposure.LayerFirewall
	}
	return exposure.LayerFirewallPolicy
}

// addresses returns every address of the interface a packet can be sent
// to (for destination ranges).
func (n *nic) addresses() []netip.Addr {
	out := append([]netip.Addr{}, n.internal...)
	out = append(out, n.ext4...)
	return append(out, n.ext6...)
}

// firewallLists are the VPC firewall rules and the network firewall
// policies (global and regional, aggregated) of a project.
func (r *projectRun) firewallLists() []list {
	c, p := r.c, r.project
	return []list{
		{file: FileFirewallRules, method: "compute.firewalls.list", fetch: func(ctx context.Context) ([]proto.Message, error) {
			return messages(drain(c.firewalls.List(ctx, &computepb.ListFirewallsRequest{Project: p})))
		}},
		{file: FileNetworkFirewallPolicies, method: "compute.networkFirewallPolicies.list", fetch: func(ctx context.Context) ([]proto.Message, error) {
			return aggregated(c.netPolicies.AggregatedList(ctx, &computepb.AggregatedListNetworkFirewallPoliciesRequest{Project: p}),
				func(v compute.FirewallPoliciesScopedListPair) []*computepb.FirewallPolicy {
					return v.Value.GetFirewallPolicies()
				})
		}, after: r.policyRules},
	}
}

// effectiveFirewalls stores networks.getEffectiveFirewalls for each
// network: the documented way to read the hierarchical (organization and
// folder) policies that apply, in evaluation order, with only project-level
// permissions.
func (r *projectRun) effectiveFirewalls(ctx context.Context, g *errgroup.Group, networks []*computepb.Network) {
	for _, n := range networks {
		g.Go(func() error {
			resp, err := r.c.networks.GetEffectiveFirewalls(ctx, &computepb.GetEffectiveFirewallsNetworkRequest{Project: r.project, Network: n.GetName()})
			if err != nil {
				r.fail("compute.networks.getEffectiveFirewalls "+n.GetName(), err)
				return nil
			}
			r.putMessage(providers.Join(DirEffectiveFirewalls, n.GetName()+".json"), resp)
			return nil
		})
	}
}

// policyRules fetches the rules of network firewall policies when the list
// did not carry them (the list API may leave rules out; get always returns
// them). Unassociated policies are fetched too: their allow rules are
// judged as latent exposures.
func (r *projectRun) policyRules(ctx context.Context, items []proto.Message) []proto.Message {
	for i, m := range items {
		pol, ok := m.(*computepb.FirewallPolicy)
		if !ok || len(pol.GetRules()) > 0 {
			continue
		}
		var full *computepb.FirewallPolicy
		var err error
		method := "compute.networkFirewallPolicies.get"
		if region := lastSegment(pol.GetRegion()); region != "" {
			method = "compute.regionNetworkFirewallPolicies.get"
			full, err = r.c.regPolicies.Get(ctx, &computepb.GetRegionNetworkFirewallPolicyRequest{Project: r.project, Region: region, FirewallPolicy: pol.GetName()})
		} else {
			full, err = r.c.netPolicies.Get(ctx, &computepb.GetNetworkFirewallPolicyRequest{Project: r.project, FirewallPolicy: pol.GetName()})
		}
		if err != nil {
			r.fail(method+" "+pol.GetName(), err)
			continue
		}
		items[i] = full
	}
	return items
}
