// Package rules evaluates exposures against Portcullis's risky-port catalog,
// user-defined CEL rules and exceptions, and maps the findings to compliance
// controls (CIS AWS/GCP/Azure, PCI DSS, NIST SP 800-53, SOC 2).
//
// The catalog and the compliance mappings are data: YAML files embedded in
// the binary (catalog.yaml, compliance.yaml), validated at load. Code only
// evaluates; the schema is documented in docs/rules.md.
package rules

import (
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/portcullis-sec/portcullis/exposure"
)

//go:embed catalog.yaml
var catalogYAML []byte

//go:embed compliance.yaml
var complianceYAML []byte

// CatalogSchema is the schema identifier the catalog file declares.
const CatalogSchema = "portcullis.dev/rules/v1"

// Match kinds: how a rule recognises an exposure.
const (
	// KindPorts matches exposures reaching one of the rule's ports (the
	// backend port behind a forward), or a port where a probe
	// fingerprinted one of the rule's services.
	KindPorts = "ports"
	// KindProtocol matches any exposure of the rule's protocols.
	KindProtocol = "protocol"
	// KindAllTraffic matches exposures of every protocol (AWS "-1",
	// Azure "*", GCP "all").
	KindAllTraffic = "all-traffic"
	// KindAllPorts matches the whole port range of a port protocol.
	KindAllPorts = "all-ports"
	// KindWideRange matches port ranges wider than the catalog's
	// wideRangeThreshold that are not the whole range.
	KindWideRange = "wide-range"
	// KindICMPAll matches every ICMP (or ICMPv6) type.
	KindICMPAll = "icmp-all"
	// KindServicePort matches a probe that fingerprinted a catalog
	// service on a port the catalog does not expect it on.
	KindServicePort = "service-port-mismatch"
)

var matchKinds = []string{KindPorts, KindProtocol, KindAllTraffic, KindAllPorts, KindWideRange, KindICMPAll, KindServicePort}

// Address families a rule judges.
const (
	FamilyAny  = "any"
	FamilyIPv4 = "ipv4"
	FamilyIPv6 = "ipv6"
)

// Rule is one entry of the catalog (or a user's custom rule).
type Rule struct {
	ID          string `yaml:"id" json:"id"`
	Title       string `yaml:"title" json:"title"`
	Description string `yaml:"description" json:"description"`
	// Service is what the rule protects (ssh, rdp, mysql…).
	Service  string `yaml:"service,omitempty" json:"service,omitempty"`
	Category string `yaml:"category" json:"category"`
	// Severity is the base severity: an effective exposure open to anyone,
	// not yet confirmed by a probe. See Adjust for the formula.
	Severity Severity `yaml:"severity" json:"severity"`
	// Basis says why the rule has its severity: the peer ratings and
	// facts it rests on (Security Hub, Prowler, CloudSploit, GCP Security
	// Health Analytics). Required in the catalog.
	Basis string `yaml:"basis,omitempty" json:"basis,omitempty"`
	// Floor is the lowest severity adjustments may bring the rule to.
	Floor Severity `yaml:"floor,omitempty" json:"floor,omitempty"`
	Match Match    `yaml:"match" json:"match"`
	// Remediation per provider (aws, gcp, azure) with a default.
	Remediation map[string]string `yaml:"remediation" json:"remediation"`
	References  []string          `yaml:"references,omitempty" json:"references,omitempty"`
	Tags        []string          `yaml:"tags,omitempty" json:"tags,omitempty"`
	// Condition is the CEL expression of a custom rule (empty for
	// catalog rules).
	Condition string `yaml:"condition,omitempty" json:"condition,omitempty"`
	// Compliance lists every control the rule can violate, derived from
	// the compliance mappings; a finding carries those whose scope the
	// exposure falls in.
	Compliance []ComplianceRef `yaml:"-" json:"compliance,omitempty"`
	// Source is where the rule is defined (file:line).
	Source string `yaml:"-" json:"source,omitempty"`

	m compiledMatch
}

// Match says which exposures a rule applies to.
type Match struct {
	Kind      string   `yaml:"kind,omitempty" json:"kind"`
	Protocols []string `yaml:"protocols,omitempty" json:"protocols,omitempty"`
	// Ports are single ports or ranges ("22", "5900-5903").
	Ports []string `yaml:"ports,omitempty" json:"ports,omitempty"`
	// Services are the fingerprint names a probe reports for the
	// service (ssh, redis…), matched wherever the service answers.
	Services []string `yaml:"services,omitempty" json:"services,omitempty"`
	// Breadth lists the source breadths matched: anyone, broad, narrow.
	Breadth []string `yaml:"breadth,omitempty" json:"breadth,omitempty"`
	// Levels lists the exposure levels matched: effective, latent.
	Levels []string `yaml:"levels,omitempty" json:"levels,omitempty"`
	// Family is the address family whose sources are judged: any
	// (default), ipv4 or ipv6.
	Family string `yaml:"family,omitempty" json:"family,omitempty"`
	// Side is the side of a port translation a ports rule judges:
	// service (default: the backend port, the service the traffic
	// reaches) or frontend (the port the internet connects to).
	Side string `yaml:"side,omitempty" json:"side,omitempty"`
}

// Sides of a port translation a rule judges.
const (
	SideService  = "service"
	SideFrontend = "frontend"
)

// compiledMatch is Match parsed for evaluation.
type compiledMatch struct {
	protocols []exposure.Protocol
	ports     []exposure.PortRange
	services  []string
	breadth   map[exposure.Breadth]bool
	levels    map[exposure.Level]bool
}

// Catalog is the validated rule catalog with its compliance mappings.
type Catalog struct {
	schema     string
	wideRange  int
	webPorts   portSet
	rules      []Rule
	byID       map[string]int
	frameworks []Framework
}

type catalogFile struct {
	Schema             string `yaml:"schema"`
	WideRangeThreshold int    `yaml:"wideRangeThreshold"`
	// WebPorts are the TCP ports web servers listen on behind load
	// balancers, whose number names no application: a web listener
	// forwarding to one is judged on its frontend.
	WebPorts []string `yaml:"webPorts"`
	// ProviderRemediation is appended to a rule's default remediation for
	// providers the rule gives no text of its own; {protocols} and
	// {ports} are replaced with the rule's.
	ProviderRemediation map[string]string `yaml:"providerRemediation"`
	Rules               []Rule            `yaml:"rules"`
}

// LoadCatalog returns the embedded catalog and compliance mappings,
// validated.
func LoadCatalog() (*Catalog, error) {
	return parseCatalog("rules/catalog.yaml", catalogYAML, "rules/compliance.yaml", complianceYAML)
}

// parseCatalog parses and validates a catalog and its compliance mappings;
// every problem found is reported, each with file:line.
func parseCatalog(catName string, catData []byte, compName string, compData []byte) (*Catalog, error) {
	var cf catalogFile
	f, err := decodeYAML(catName, catData, &cf)
	if err != nil {
		return nil, fmt.Errorf("load rule catalog: %w", err)
	}
	c := &Catalog{schema: cf.Schema, wideRange: cf.WideRangeThreshold, byID: map[string]int{}}
	var errs []error
	if cf.Schema != CatalogSchema {
		errs = append(errs, fmt.Errorf("%s: schema %q, want %q", f.pos(mapValue(f.root, "schema")), cf.Schema, CatalogSchema))
	}
	if c.wideRange < 1 || c.wideRange > 65535 {
		errs = append(errs, fmt.Errorf("%s: wideRangeThreshold %d out of range 1-65535", f.pos(mapValue(f.root, "wideRangeThreshold")), c.wideRange))
	}
	if len(cf.Rules) == 0 {
		errs = append(errs, fmt.Errorf("%s: no rules", catName))
	}
	for _, p := range cf.WebPorts {
		pr, err := exposure.ParsePortRange(p)
		if err != nil || strings.TrimSpace(p) == "" || strings.TrimSpace(p) == "*" {
			errs = append(errs, fmt.Errorf("%s: webPorts: invalid port %q", f.pos(mapValue(f.root, "webPorts")), p))
			continue
		}
		c.webPorts = append(c.webPorts, pr)
	}
	firstAt := map[string]string{}
	for i := range cf.Rules {
		r := cf.Rules[i]
		r.Source = f.itemPos("rules", i)
		bad := false
		for _, err := range r.validate(false) {
			errs = append(errs, fmt.Errorf("%s: %w", r.Source, err))
			bad = true
		}
		if prev, dup := firstAt[r.ID]; dup && r.ID != "" {
			errs = append(errs, fmt.Errorf("%s: rule %s: duplicate ID (first at %s)", r.Source, r.ID, prev))
			bad = true
		} else {
			firstAt[r.ID] = r.Source
		}
		if bad {
			continue
		}
		r.fillRemediation(cf.ProviderRemediation)
		c.byID[r.ID] = len(c.rules)
		c.rules = append(c.rules, r)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("load rule catalog: %w", errors.Join(errs...))
	}
	fws, err := parseCompliance(compName, compData, c)
	if err != nil {
		return nil, fmt.Errorf("load compliance mappings: %w", err)
	}
	c.frameworks = fws
	c.deriveCompliance()
	return c, nil
}

// validate checks a rule and compiles its match, returning every problem,
// each naming the rule. Custom rules carry a CEL condition instead of a
// match.
func (r *Rule) validate(custom bool) []error {
	if r.ID == "" {
		return []error{errors.New("rule without id")}
	}
	if strings.ContainsAny(r.ID, " \t*?[]") {
		return []error{fmt.Errorf("rule %s: id must not contain spaces or glob characters", r.ID)}
	}
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("rule %s: "+format, append([]any{r.ID}, a...)...))
	}
	if r.Title == "" {
		bad("title is required")
	}
	if !custom && r.Description == "" {
		bad("description is required")
	}
	if !custom && r.Category == "" {
		bad("category is required")
	}
	if !custom && r.Basis == "" {
		bad("basis (why the rule has its severity) is required")
	}
	if r.Floor > r.Severity {
		bad("floor %s is above severity %s", r.Floor, r.Severity)
	}
	if !custom && r.Remediation["default"] == "" {
		bad("remediation.default is required")
	}
	for k := range r.Remediation {
		if k != "default" && !slices.Contains(exposure.Providers(), k) {
			bad("remediation: unknown provider %q (want default, %s)", k, strings.Join(exposure.Providers(), ", "))
		}
	}
	if custom {
		if r.Condition == "" {
			bad("condition (a CEL expression) is required")
		}
	} else {
		if r.Condition != "" {
			bad("condition is only for custom rules")
		}
		if err := r.compileMatch(); err != nil {
			bad("match: %w", err)
		}
	}
	return errs
}

func (r *Rule) compileMatch() error {
	m := &r.Match
	if m.Kind == "" {
		m.Kind = KindPorts
	}
	if !slices.Contains(matchKinds, m.Kind) {
		return fmt.Errorf("unknown kind %q (want one of %s)", m.Kind, strings.Join(matchKinds, ", "))
	}
	if m.Family == "" {
		m.Family = FamilyAny
	}
	if m.Family != FamilyAny && m.Family != FamilyIPv4 && m.Family != FamilyIPv6 {
		return fmt.Errorf("unknown family %q (want any, ipv4 or ipv6)", m.Family)
	}
	if m.Side == "" {
		m.Side = SideService
	}
	if m.Side != SideService && m.Side != SideFrontend {
		return fmt.Errorf("unknown side %q (want service or frontend)", m.Side)
	}
	if m.Side == SideFrontend && m.Kind != KindPorts {
		return fmt.Errorf("side frontend is for kind ports only")
	}
	var cm compiledMatch
	for _, p := range m.Protocols {
		proto, err := exposure.ParseProtocol(p)
		if err != nil {
			return err
		}
		cm.protocols = append(cm.protocols, proto)
	}
	for _, p := range m.Ports {
		pr, err := exposure.ParsePortRange(p)
		if err != nil {
			return err
		}
		if strings.TrimSpace(p) == "*" || strings.TrimSpace(p) == "" {
			return fmt.Errorf("port %q: use kind all-ports for the whole range", p)
		}
		cm.ports = append(cm.ports, pr)
	}
	for _, s := range m.Services {
		cm.services = append(cm.services, strings.ToLower(s))
	}
	if len(m.Breadth) == 0 {
		m.Breadth = []string{string(exposure.BreadthAnyone), string(exposure.BreadthBroad), string(exposure.BreadthNarrow)}
	}
	cm.breadth = map[exposure.Breadth]bool{}
	for _, b := range m.Breadth {
		switch exposure.Breadth(b) {
		case exposure.BreadthAnyone, exposure.BreadthBroad, exposure.BreadthNarrow:
			cm.breadth[exposure.Breadth(b)] = true
		default:
			return fmt.Errorf("unknown breadth %q (want anyone, broad or narrow)", b)
		}
	}
	if len(m.Levels) == 0 {
		m.Levels = []string{string(exposure.Effective), string(exposure.Latent)}
	}
	cm.levels = map[exposure.Level]bool{}
	for _, l := range m.Levels {
		switch exposure.Level(l) {
		case exposure.Effective, exposure.Latent:
			cm.levels[exposure.Level(l)] = true
		default:
			return fmt.Errorf("unknown level %q (want effective or latent)", l)
		}
	}
	switch m.Kind {
	case KindPorts:
		if len(cm.protocols) == 0 || len(cm.ports) == 0 {
			return errors.New("kind ports needs protocols and ports")
		}
		for _, p := range cm.protocols {
			if !p.HasPorts() {
				return fmt.Errorf("protocol %s has no ports", p)
			}
		}
	case KindProtocol, KindAllPorts:
		if len(cm.protocols) == 0 {
			return fmt.Errorf("kind %s needs protocols", m.Kind)
		}
	case KindICMPAll:
		for _, p := range cm.protocols {
			if !p.IsICMP() {
				return fmt.Errorf("kind icmp-all: protocol %s is not icmp or icmpv6", p)
			}
		}
		if len(cm.protocols) == 0 {
			return errors.New("kind icmp-all needs protocols (icmp, icmpv6)")
		}
	}
	if m.Kind != KindPorts && len(cm.ports) > 0 {
		return fmt.Errorf("kind %s takes no ports", m.Kind)
	}
	r.m = cm
	return nil
}

// portSet is a list of TCP port ranges.
type portSet []exposure.PortRange

// covers reports whether every port of r is in the set (TCP only).
func (ps portSet) covers(proto exposure.Protocol, r exposure.PortRange) bool {
	if proto != exposure.ProtocolTCP {
		return false
	}
	for p := int(r.From); p <= int(r.To); p++ {
		if !slices.ContainsFunc(ps, func(x exposure.PortRange) bool { return x.Contains(uint16(p)) }) { //nolint:gosec // G115: p runs from r.From to r.To, both uint16 (int only so that the loop ends at 65535)
			return false
		}
	}
	return true
}

// Rules returns the catalog's rules in catalog order.
func (c *Catalog) Rules() []Rule { return slices.Clone(c.rules) }

// Rule returns the rule with the given ID.
func (c *Catalog) Rule(id string) (Rule, bool) {
	i, ok := c.byID[id]
	if !ok {
		return Rule{}, false
	}
	return c.rules[i], true
}

// WideRangeThreshold is the number of ports above which a range counts as
// wide: port rules inside it are reported once, by the structural rule.
func (c *Catalog) WideRangeThreshold() int { return c.wideRange }

// Frameworks returns the compliance frameworks the catalog maps.
func (c *Catalog) Frameworks() []Framework { return slices.Clone(c.frameworks) }

// RiskyPorts returns, per protocol, every port a catalog rule names, sorted:
// the ports worth probing first inside a wide exposed range.
func (c *Catalog) RiskyPorts() map[exposure.Protocol][]uint16 {
	seen := map[exposure.Protocol]map[uint16]bool{}
	for _, r := range c.rules {
		for _, proto := range r.m.protocols {
			if !proto.HasPorts() {
				continue
			}
			for _, pr := range r.m.ports {
				if seen[proto] == nil {
					seen[proto] = map[uint16]bool{}
				}
				for p := int(pr.From); p <= int(pr.To); p++ {
					seen[proto][uint16(p)] = true //nolint:gosec // G115: p runs from pr.From to pr.To, both uint16 (int only so that the loop ends at 65535)
				}
			}
		}
	}
	out := map[exposure.Protocol][]uint16{}
	for proto, ports := range seen {
		for p := range ports {
			out[proto] = append(out[proto], p)
		}
		sort.Slice(out[proto], func(i, j int) bool { return out[proto][i] < out[proto][j] })
	}
	return out
}

// fillRemediation completes the rule's per-provider remediation from the
// catalog's provider templates.
func (r *Rule) fillRemediation(templates map[string]string) {
	repl := strings.NewReplacer("{protocols}", strings.Join(r.Match.Protocols, "/"), "{ports}", strings.Join(r.Match.Ports, ", "))
	for _, p := range exposure.Providers() {
		if r.Remediation[p] != "" || templates[p] == "" {
			continue
		}
		if r.Match.Kind != KindPorts {
			continue
		}
		r.Remediation[p] = strings.TrimSpace(r.Remediation["default"]) + " " + repl.Replace(strings.TrimSpace(templates[p]))
	}
}

// remediation returns the rule's remediation for a provider.
func (r *Rule) remediation(provider string) string {
	if s := r.Remediation[provider]; s != "" {
		return s
	}
	return r.Remediation["default"]
}

// expectsPort reports whether the rule names port p for protocol proto.
func (r *Rule) expectsPort(proto exposure.Protocol, p uint16) bool {
	if !protocolCovers(r.m.protocols, proto) {
		return false
	}
	for _, pr := range r.m.ports {
		if pr.Contains(p) {
			return true
		}
	}
	return false
}

// servesService reports whether a fingerprinted service is one the rule
// protects.
func (r *Rule) servesService(service string) bool {
	return service != "" && slices.Contains(r.m.services, strings.ToLower(service))
}
