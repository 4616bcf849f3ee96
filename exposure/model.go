// Package exposure is Portcullis's provider-neutral exposure model and the
// path analysis over it. Providers normalize what they collect into an
// Inventory of Targets, each with the Path of Layers that internet traffic
// crosses to reach it; Analyze computes, per target, protocol and port, the
// public sources that get through every layer (effective exposures) and, per
// layer, what its own rules admit from the internet that no path delivers
// today (latent exposures).
//
// The package performs no I/O, reads no clock and holds no global mutable
// state: inventory in, exposures out.
package exposure

import (
	"net/netip"
	"slices"

	"go4.org/netipx"
)

// Inventory is everything a provider collected for one scope, normalized.
type Inventory struct {
	// Targets are the things with an internet-facing address.
	Targets []*Target
	// Layers lists every filtering layer in the scope, attached or not, so
	// that rules that admit internet traffic are reported as latent
	// exposures even when no target uses them. Layers reachable only
	// through Targets need not be repeated here.
	Layers []*Layer
	// Errors are the partial failures met while collecting or normalizing:
	// the rest of the inventory is still valid.
	Errors []Error
}

// Merge appends other's targets, layers and errors to inv.
func (inv *Inventory) Merge(other *Inventory) {
	if other == nil {
		return
	}
	inv.Targets = append(inv.Targets, other.Targets...)
	inv.Layers = append(inv.Layers, other.Layers...)
	inv.Errors = append(inv.Errors, other.Errors...)
}

// Provider names: a Scope's Provider, a snapshot's top-level directory and
// the CLI's --provider values. They are the model's vocabulary, so that the
// stages that see no provider package (rules, reports, state) name providers
// without spelling literals; audit's driver table has one row per name.
const (
	ProviderAWS   = "aws"
	ProviderGCP   = "gcp"
	ProviderAzure = "azure"
)

// Providers lists the provider names, sorted. It returns a new slice each
// call. audit's driver table implements exactly these (a test holds them
// equal), so a stage that cannot import audit checks names against this.
func Providers() []string {
	return []string{ProviderAWS, ProviderAzure, ProviderGCP}
}

// Scope says where a resource lives.
type Scope struct {
	Provider string `json:"provider"`         // ProviderAWS, ProviderGCP, ProviderAzure
	Account  string `json:"account"`          // AWS account, GCP project, Azure subscription
	Region   string `json:"region,omitempty"` // region or location; empty for global resources
}

// Error is a partial failure: one resource, region or account that could not
// be collected or normalized. The audit goes on without it and reports it.
type Error struct {
	Scope
	Resource string `json:"resource,omitempty"` // resource ID, API call or file:line
	Stage    string `json:"stage"`              // collect, snapshot, normalize, analyze, probe
	Message  string `json:"message"`
}

func (e Error) Error() string {
	s := e.Stage + " " + e.Provider
	if e.Account != "" {
		s += " " + e.Account
	}
	if e.Region != "" {
		s += " " + e.Region
	}
	if e.Resource != "" {
		s += " " + e.Resource
	}
	return s + ": " + e.Message
}

// Target kinds used by the providers.
const (
	KindInterface    = "network-interface" // an ENI / NIC / instance network interface
	KindLoadBalancer = "load-balancer"     // an LB frontend
	KindForwarding   = "forwarding-rule"   // a GCP forwarding rule
	KindInstance     = "instance"
)

// Target is something with an internet-facing address.
type Target struct {
	Scope
	ID    string            // native ID (ENI ID, LB ARN, NIC resource ID)
	Kind  string            // one of the Kind constants, or a provider-specific kind
	Name  string            // human name (Name tag, LB name)
	Tags  map[string]string // provider tags or labels
	Owner string            // the resource behind it: instance ID, LB ARN, VM ID
	// Endpoints are the public addresses traffic is sent to.
	Endpoints []Endpoint
	// Path is what traffic crosses to reach the target's own ports.
	Path Path
	// Forwards, when present, are the only ports the target answers on:
	// a load balancer or NAT rule that maps frontend ports to backend ports.
	// A target with Forwards is reachable only through them.
	Forwards []Forward
}

// Endpoint is one public address of a target.
type Endpoint struct {
	IP   netip.Addr // public address; invalid when the target is reached by DNS name only
	Host string     // DNS name, when there is one
	IPv6 bool       // the address family when IP is unset
}

// Is6 reports whether the endpoint is an IPv6 endpoint.
func (e Endpoint) Is6() bool {
	if e.IP.IsValid() {
		return e.IP.Is6() && !e.IP.Is4In6()
	}
	return e.IPv6
}

// String returns the IP, or the host name when there is no IP.
func (e Endpoint) String() string {
	if e.IP.IsValid() {
		return e.IP.String()
	}
	return e.Host
}

// Path is the ordered list of hops traffic crosses. Traffic reaches the
// target only if every hop admits it (intersection).
type Path []Hop

// Hop is one point on a path where traffic is filtered. A hop admits what
// any of its layers admits (union): the security groups on one ENI form one
// hop. A hop with no layers admits nothing.
type Hop struct {
	Layers []*Layer
}

// Mode says how a layer's rules combine.
type Mode uint8

const (
	// AllowUnion: every rule allows; traffic passes if any rule matches
	// (AWS security groups, route tables, listeners).
	AllowUnion Mode = iota
	// Ordered: rules are evaluated in (Tier, Priority) order, first match
	// decides; traffic no rule decides gets Default (NACLs, NSGs, GCP
	// firewall rules and policies). At equal priority deny rules are
	// evaluated before allow rules, as GCP documents ("deny wins").
	Ordered
)

// Action is what a rule does with matching traffic.
type Action uint8

// The zero Action is Deny, so a layer or rule that leaves its action unset
// fails closed.
const (
	Deny Action = iota
	Allow
	// Next ends evaluation of the rule's tier for matching traffic, which
	// continues with the next tier (GCP firewall policy goto_next).
	Next
)

func (a Action) String() string {
	switch a {
	case Allow:
		return "allow"
	case Deny:
		return "deny"
	case Next:
		return "goto_next"
	}
	return "unknown"
}

// Layer kinds used by the providers; they are shown in evidence.
const (
	LayerRoute          = "route-table"
	LayerNetworkACL     = "network-acl"
	LayerSecurityGroup  = "security-group"
	LayerListener       = "listener"
	LayerNSG            = "network-security-group"
	LayerFirewall       = "firewall"
	LayerFirewallPolicy = "firewall-policy"
)

// Layer is one filtering construct: a security group, a NACL, a route
// table, an NSG, a set of GCP firewall rules.
//
// Layers are immutable once analysis starts and may be shared between many
// targets; the analysis computes each layer once.
type Layer struct {
	Scope
	ID   string // native ID; variants of one construct share it
	Kind string // one of the Layer constants
	Name string
	Mode Mode
	// Default is the action for traffic no rule decides (Ordered only;
	// AllowUnion layers deny what no rule allows).
	Default Action
	// Egress marks a stateless outbound layer evaluated for the replies
	// (AWS NACL egress): rule sources are then destinations, and the layer
	// admits traffic from client c when its rules let replies reach c on
	// some port of the ephemeral range 1024-65535.
	Egress bool
	// Latent marks a layer whose own rules are judged on their own
	// (security groups, NSGs, firewall rules, NACLs): what it admits from
	// the internet and no path delivers is reported as latent exposure.
	Latent bool
	// LatentByRule judges each allow rule on its own for latent exposures:
	// an allow shadowed by a deny of the same layer is still reported, as
	// CIS Azure 6.x and CIS GCP 3.6/3.7 judge NSG and firewall rules one
	// by one (deleting the deny would open the port). Otherwise an Ordered
	// layer is judged as a whole.
	LatentByRule bool
	Rules        []Rule
	// Outbound are a stateful layer's outbound rules (an AWS security
	// group's egress rules), for checks that judge the layer's own
	// configuration (CIS AWS default security group). The analysis does
	// not evaluate them: a stateful layer lets replies to what it admits
	// out whatever they say. Optional.
	Outbound []Rule
	// Internal is address space that reaches the layer only from inside its
	// own network, never from the internet, even where it is public: a
	// VPC's IPv6 blocks (replies to them stay in the VPC), public ranges
	// used inside a VNet. Latent exposures leave it out. Optional.
	Internal *netipx.IPSet
	// Attached says whether anything uses the layer (a security group on
	// no ENI is unattached); informational.
	Attached bool
	Tags     map[string]string
	// Unknown, when set, marks a placeholder for a layer whose rules could
	// not be read (its file missing or undecodable, its API denied) and
	// says why, naming the file or API. Nothing is inferred through an
	// unknown layer: a path with a hop of unknown layers only is not
	// analysed, and a hop that also holds known layers admits what they
	// admit (a lower bound); either way the analysis records an error
	// naming the target and what was lost. An unknown layer has no rules
	// and is never judged for latent exposures. See docs/model.md.
	Unknown string
}

// UnknownLayer returns the placeholder of a layer whose rules could not be
// read: why names the file or API and the failure.
func UnknownLayer(scope Scope, id, kind, why string) *Layer {
	return &Layer{Scope: scope, ID: id, Kind: kind, Unknown: why}
}

// Rule is one entry of a layer.
type Rule struct {
	// ID names the rule in evidence: a NACL rule number, an NSG rule name,
	// a security-group rule ID or index.
	ID          string
	Description string
	Action      Action
	// Tier and Priority order rules in Ordered layers: lower first.
	Tier     int
	Priority int
	Protocol Protocol
	// Ports the rule covers; empty means every port of the protocol.
	Ports []PortRange
	// Sources the rule matches (destinations for Egress layers); nil
	// matches nothing. Use AnySource for "0.0.0.0/0 and ::/0".
	Sources *netipx.IPSet
	// SourceNames are the sources as the provider wrote them (CIDRs,
	// prefix-list IDs, service tags, group IDs), for evidence.
	SourceNames []string
}

// Forward maps frontend ports of a target to a backend (a load-balancer
// listener and target, an Azure load-balancing or inbound NAT rule, a GCP
// forwarding rule).
type Forward struct {
	ID       string // listener ARN, rule ID
	Name     string
	Kind     string // listener, lb-rule, inbound-nat-rule, forwarding-rule
	Protocol Protocol
	// Frontend is the port range clients connect to.
	Frontend PortRange
	// BackendPort is where traffic goes on the backend: 0 keeps the
	// frontend port (a range forwards port to port); otherwise every
	// frontend port maps to this one port.
	BackendPort uint16
	// Backend identifies the backend: instance, ENI or NIC ID. Empty when
	// the listener has no registered backend.
	Backend     string
	BackendName string
	// BackendPath filters traffic in front of the backend (its security
	// groups or NSGs), evaluated on the backend port.
	BackendPath Path
	// ProxySources, when set, are the addresses the backend sees instead
	// of the client's (an ALB, a proxy load balancer): the backend path must
	// admit one of them, and then every client that reached the frontend is
	// delivered. When nil the client's address is preserved and the backend
	// path must admit the client itself.
	ProxySources *netipx.IPSet
	// ProxySources4 and ProxySources6, when set, replace ProxySources for
	// clients of one address family: a backend of the other family sees
	// the forwarder's address even where client addresses are preserved
	// (an AWS dualstack NLB forwards IPv6 clients to IPv4 targets from its
	// own IPv4 address). ProxySources then holds for the other family (nil:
	// the client is preserved).
	ProxySources4 *netipx.IPSet
	ProxySources6 *netipx.IPSet
	// Terminates is true for proxies that accept connections themselves
	// (ALB, classic ELB, GCP proxy LBs): the frontend port is open whatever
	// the backend does. A passthrough forward (NLB, Azure LB, GCP network
	// LB) is open only where the backend admits the traffic.
	Terminates bool
	// MaybeProxied says that whether the backend sees the client or
	// ProxySources is unknown (the attribute deciding it could not be
	// read): the backend is delivered what either would deliver, so an
	// unknown attribute neither hides a path nor closes one. Set Unknown
	// with it.
	MaybeProxied bool
	// Unknown, when set, says what the forward rests on that could not be
	// read (a target group's attributes or registered targets, a backend's
	// interface): every exposure through the forward carries it in its
	// evidence (Evidence.Unknown), so a finding that rests on missing data
	// says so.
	Unknown string
}

// proxyFor returns what the backend sees of clients of one family instead
// of their own address; nil when it sees the client.
func (f *Forward) proxyFor(v6 bool) *netipx.IPSet {
	if v6 && f.ProxySources6 != nil {
		return f.ProxySources6
	}
	if !v6 && f.ProxySources4 != nil {
		return f.ProxySources4
	}
	return f.ProxySources
}

// Level says whether an exposure is reachable today.
type Level string

const (
	// Effective: reachable from the internet now, through the whole path.
	Effective Level = "effective"
	// Latent: a rule admits internet traffic but no path delivers it today.
	Latent Level = "latent"
)

// Exposure is what gets through to a target (effective) or what a layer's
// rules admit on their own (latent), for one protocol and port range.
//
// Exposures of a Result are read-only: the analysis shares their Site,
// Sources, Backend and Evidence values between exposures (every exposure of
// one target endpoint points at one Site, every exposure a rule admits at
// one Evidence), which keeps a million exposures within a few hundred MiB.
type Exposure struct {
	Level Level
	// Site is where the exposure is: scope, target and endpoint, whose
	// fields read as the exposure's own (e.Provider, e.Target.ID,
	// e.Endpoint). Never nil in a Result.
	*Site
	Protocol Protocol
	Ports    PortRange
	// Sources are the public addresses that get through.
	Sources *netipx.IPSet
	// Backend is set when a forward translates ports.
	Backend *Backend
	// Evidence names every layer and rule that let the traffic in.
	Evidence []*Evidence
}

// Site is where exposures are: one target endpoint (effective exposures)
// or one layer (latent exposures, whose Endpoint is unset).
type Site struct {
	Scope
	Target   TargetRef
	Endpoint Endpoint // effective only
}

// TargetRef identifies the target (or, for latent exposures, the layer).
type TargetRef struct {
	ID    string            `json:"id"`
	Kind  string            `json:"kind"`
	Name  string            `json:"name,omitempty"`
	Owner string            `json:"owner,omitempty"`
	Tags  map[string]string `json:"tags,omitempty"`
}

// Backend is the far side of a port translation.
type Backend struct {
	ID       string    `json:"id,omitempty"`
	Name     string    `json:"name,omitempty"`
	Forward  string    `json:"forward"` // the listener or rule ID
	Protocol Protocol  `json:"protocol"`
	Ports    PortRange `json:"ports"`
}

// Evidence names one rule of one layer that admitted the traffic.
type Evidence struct {
	Layer     string   `json:"layer"`
	LayerKind string   `json:"layerKind"`
	LayerName string   `json:"layerName,omitempty"`
	Rule      string   `json:"rule,omitempty"`
	Action    string   `json:"action"`
	Sources   []string `json:"sources,omitempty"`
	Note      string   `json:"note,omitempty"`
	// Unknown, when set, says which data this step of the path rests on
	// could not be read: the exposure exists for some value of it and may
	// not exist for the true one (indeterminate, never assumed closed).
	Unknown string `json:"unknown,omitempty"`
}

// Unknown lists what the exposure rests on that could not be read (its
// evidence's Unknown notes, in path order); empty when the exposure rests
// on complete data.
func (e *Exposure) Unknown() []string {
	var out []string
	for _, ev := range e.Evidence {
		if ev != nil && ev.Unknown != "" && !slices.Contains(out, ev.Unknown) {
			out = append(out, ev.Unknown)
		}
	}
	return out
}
