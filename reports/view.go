package reports

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

// view is the normalized form of a Report that every writer renders: the
// JSON document (whose field names are the published contract) plus the
// indexes and labels the human formats need. Building it never modifies the
// Report.
type view struct {
	Doc document
	// public4 and public6 are the public internet of each family, to say
	// "anyone" about a source set.
	public4, public6 *netipx.IPSet
	// sources caches what is derived from a source set, by pointer and by
	// content: an estate has few distinct sets (0.0.0.0/0, an office
	// range) shared by many exposures.
	sourcesByPtr map[*netipx.IPSet]*sourceInfo
	sourcesByKey map[string]*sourceInfo
}

// sourceInfo is what the report shows about one source set.
type sourceInfo struct {
	prefixes []string
	breadth  exposure.Breadth
	label    string
}

// document is the JSON report; see docs/report-format.md and
// schema/report.schema.json.
type document struct {
	SchemaVersion     string             `json:"schemaVersion"`
	Tool              Tool               `json:"tool"`
	GeneratedAt       string             `json:"generatedAt"`
	Scope             Scope              `json:"scope"`
	Partial           bool               `json:"partial"`
	Summary           summaryDoc         `json:"summary"`
	Findings          []*findingDoc      `json:"findings"`
	Exposures         []*exposureDoc     `json:"exposures"`
	Compliance        []Control          `json:"compliance"`
	Exceptions        []ExceptionStatus  `json:"exceptions"`
	Misconfigurations []Misconfiguration `json:"misconfigurations"`
	Errors            []exposure.Error   `json:"errors"`
}

type summaryDoc struct {
	Partial           bool             `json:"partial"`
	FailOn            rules.Severity   `json:"failOn"`
	Failing           int              `json:"failing"` // active findings at or above failOn
	Exposures         exposureCounts   `json:"exposures"`
	Findings          findingCounts    `json:"findings"`
	Compliance        complianceCounts `json:"compliance"`
	Exceptions        exceptionCounts  `json:"exceptions"`
	Misconfigurations int              `json:"misconfigurations"`
	Errors            int              `json:"errors"`
}

type exposureCounts struct {
	Total     int `json:"total"`
	Effective int `json:"effective"`
	Latent    int `json:"latent"`
	// Targets is the number of distinct targets with an effective exposure.
	Targets int `json:"targets"`
}

type findingCounts struct {
	Total      int `json:"total"`
	Active     int `json:"active"`
	Suppressed int `json:"suppressed"`
	// ByLevel and BySeverity count active findings only.
	ByLevel    levelCounts    `json:"byLevel"`
	BySeverity severityCounts `json:"bySeverity"`
}

type levelCounts struct {
	Effective int `json:"effective"`
	Latent    int `json:"latent"`
}

type severityCounts struct {
	Critical int `json:"critical"`
	High     int `json:"high"`
	Medium   int `json:"medium"`
	Low      int `json:"low"`
	Info     int `json:"info"`
}

func (c *severityCounts) add(s rules.Severity) {
	switch {
	case s >= rules.Critical:
		c.Critical++
	case s == rules.High:
		c.High++
	case s == rules.Medium:
		c.Medium++
	case s == rules.Low:
		c.Low++
	default:
		c.Info++
	}
}

type complianceCounts struct {
	Pass          int `json:"pass"`
	Fail          int `json:"fail"`
	NotApplicable int `json:"notApplicable"`
}

type exceptionCounts struct {
	Expired int `json:"expired"`
	Stale   int `json:"stale"`
}

type exposureDoc struct {
	ID            string              `json:"id"`
	Level         exposure.Level      `json:"level"`
	Provider      string              `json:"provider"`
	Account       string              `json:"account"`
	Region        string              `json:"region"`
	Address       string              `json:"address,omitempty"`
	Hostname      string              `json:"hostname,omitempty"`
	AddressFamily string              `json:"addressFamily,omitempty"`
	Protocol      exposure.Protocol   `json:"protocol"`
	FromPort      int                 `json:"fromPort"`
	ToPort        int                 `json:"toPort"`
	Target        targetDoc           `json:"target"`
	Backend       *backendDoc         `json:"backend,omitempty"`
	Sources       []string            `json:"sources"`
	SourceBreadth exposure.Breadth    `json:"sourceBreadth"`
	Evidence      []exposure.Evidence `json:"evidence"`
	Probe         *probeDoc           `json:"probe,omitempty"`

	// Labels for the human formats, computed once.
	SourcesLabel string `json:"-"`
	// MaxSeverity is the highest severity of the active findings on the
	// exposure; HasFindings says whether there are any.
	MaxSeverity rules.Severity `json:"-"`
	HasFindings bool           `json:"-"`
	// Matched says whether any rule matched, suppressed or not.
	Matched bool `json:"-"`
	ports   exposure.PortRange
}

type targetDoc struct {
	Kind  string            `json:"kind"`
	ID    string            `json:"id"`
	Name  string            `json:"name,omitempty"`
	Owner string            `json:"owner,omitempty"`
	Tags  map[string]string `json:"tags,omitempty"`
}

type backendDoc struct {
	ID       string            `json:"id,omitempty"`
	Name     string            `json:"name,omitempty"`
	Forward  string            `json:"forward"`
	Protocol exposure.Protocol `json:"protocol"`
	FromPort int               `json:"fromPort"`
	ToPort   int               `json:"toPort"`
}

type probeDoc struct {
	Endpoint string              `json:"endpoint"`
	Protocol exposure.Protocol   `json:"protocol"`
	Port     int                 `json:"port"`
	State    exposure.ProbeState `json:"state"`
	Service  string              `json:"service,omitempty"`
	Product  string              `json:"product,omitempty"`
	Evidence map[string]string   `json:"evidence,omitempty"`
	RTTMs    float64             `json:"rttMs,omitempty"`
	Error    string              `json:"error,omitempty"`
}

type findingDoc struct {
	ID          string                `json:"id"`
	RuleID      string                `json:"ruleId"`
	Title       string                `json:"title"`
	Severity    rules.Severity        `json:"severity"`
	Level       exposure.Level        `json:"level"`
	Service     string                `json:"service,omitempty"`
	Port        int                   `json:"port"`
	ExposureID  string                `json:"exposureId"`
	Compliance  []rules.ComplianceRef `json:"compliance"`
	Remediation string                `json:"remediation,omitempty"`
	Suppressed  bool                  `json:"suppressed"`
	Suppression *rules.Suppression    `json:"suppression,omitempty"`
	// ExpiredException is an exception that matched but has expired: the
	// finding is reported again.
	ExpiredException *rules.Suppression `json:"expiredException,omitempty"`
	MatchedBy        string             `json:"matchedBy,omitempty"`
	Subsumes         []string           `json:"subsumes,omitempty"`
	Custom           bool               `json:"custom,omitempty"`
	// Probe is the observation the rules engine tied to the finding's port.
	Probe *probeDoc `json:"probe,omitempty"`

	// Exposure is the exposure the finding is about (never nil).
	Exposure *exposureDoc `json:"-"`
}

func newView(r *Report) *view {
	v := &view{sourcesByPtr: map[*netipx.IPSet]*sourceInfo{}, sourcesByKey: map[string]*sourceInfo{}}
	v.public4, v.public6 = splitFamilies(exposure.PublicInternet())
	d := &v.Doc
	d.SchemaVersion = SchemaVersion
	d.Tool = r.Tool
	if !r.GeneratedAt.IsZero() {
		d.GeneratedAt = r.GeneratedAt.UTC().Format(time.RFC3339)
	}
	d.Scope = Scope{
		Providers: sortedUnique(r.Scope.Providers),
		Accounts:  sortedUnique(r.Scope.Accounts),
		Regions:   sortedUnique(r.Scope.Regions),
		Snapshot:  r.Scope.Snapshot,
		Framework: r.Scope.Framework,
	}
	d.Errors = slices.Clone(r.Errors)

	probes := indexObservations(r.Observations)
	byPtr := make(map[*exposure.Exposure]*exposureDoc, len(r.Exposures))
	addExposure := func(e *exposure.Exposure) *exposureDoc {
		if x, ok := byPtr[e]; ok {
			return x
		}
		x := v.exposureDoc(e, probes)
		byPtr[e] = x
		d.Exposures = append(d.Exposures, x)
		return x
	}
	for _, e := range r.Exposures {
		if e != nil {
			addExposure(e)
		}
	}
	for i, f := range r.Findings {
		if f.Exposure == nil {
			// A finding must point at an exposure; report the broken one
			// instead of failing the whole report.
			d.Errors = append(d.Errors, exposure.Error{
				Resource: fmt.Sprintf("findings[%d] (rule %s)", i, f.RuleID),
				Stage:    "report",
				Message:  "finding has no exposure; left out of the report",
			})
			continue
		}
		x := addExposure(f.Exposure) // a finding on an exposure missing from Exposures still shows it
		fd := &findingDoc{
			RuleID:      f.RuleID,
			Title:       f.Title,
			Severity:    f.Severity,
			Level:       x.Level,
			Service:     f.Service,
			Port:        int(f.Port),
			ExposureID:  x.ID,
			Compliance:  slices.Clone(f.Compliance),
			Remediation: f.Remediation,
			Suppressed:  f.Suppressed != nil,
			Suppression: f.Suppressed,
			Exposure:    x,
		}
		if fd.Compliance == nil {
			fd.Compliance = []rules.ComplianceRef{}
		}
		slices.SortFunc(fd.Compliance, func(a, b rules.ComplianceRef) int {
			return cmp.Or(strings.Compare(a.Framework, b.Framework), naturalCompare(a.Control, b.Control))
		})
		fd.ExpiredException, fd.MatchedBy, fd.Custom = f.Expired, f.MatchedBy, f.Custom
		fd.Subsumes = slices.Clone(f.Subsumes)
		if f.Probe != nil {
			fd.Probe = newProbeDoc(f.Probe)
		}
		fd.ID = f.ID
		if fd.ID == "" {
			fd.ID = x.ID + ":" + f.RuleID
			if f.Port != 0 {
				fd.ID += ":" + strconv.Itoa(int(f.Port))
			}
		}
		x.Matched = true
		if !fd.Suppressed && (!x.HasFindings || f.Severity > x.MaxSeverity) {
			x.MaxSeverity, x.HasFindings = f.Severity, true
		}
		d.Findings = append(d.Findings, fd)
	}

	slices.SortStableFunc(d.Exposures, compareExposures)
	slices.SortStableFunc(d.Findings, compareFindings)
	d.Compliance = slices.Clone(r.Compliance)
	for i := range d.Compliance {
		if d.Compliance[i].Evidence == nil {
			d.Compliance[i].Evidence = []string{}
		}
	}
	slices.SortStableFunc(d.Compliance, func(a, b Control) int {
		return cmp.Or(strings.Compare(a.Framework, b.Framework), naturalCompare(a.ID, b.ID))
	})
	d.Exceptions = slices.Clone(r.Exceptions)
	slices.SortStableFunc(d.Exceptions, func(a, b ExceptionStatus) int {
		return cmp.Or(strings.Compare(string(a.Kind), string(b.Kind)), strings.Compare(a.Rule, b.Rule),
			strings.Compare(a.Resource, b.Resource), strings.Compare(a.Expires, b.Expires),
			strings.Compare(a.Reason, b.Reason), strings.Compare(a.Owner, b.Owner), strings.Compare(a.Source, b.Source))
	})
	d.Misconfigurations = slices.Clone(r.Misconfigurations)
	slices.SortStableFunc(d.Misconfigurations, func(a, b Misconfiguration) int {
		return cmp.Or(compareScope(a.Scope, b.Scope), strings.Compare(a.Resource, b.Resource), strings.Compare(a.ID, b.ID),
			strings.Compare(a.Title, b.Title), strings.Compare(a.Detail, b.Detail))
	})
	slices.SortStableFunc(d.Errors, func(a, b exposure.Error) int {
		return cmp.Or(compareScope(a.Scope, b.Scope), strings.Compare(a.Stage, b.Stage),
			strings.Compare(a.Resource, b.Resource), strings.Compare(a.Message, b.Message))
	})
	// Encode empty lists as [] rather than null: scripts iterate them.
	for _, p := range []*[]string{&d.Scope.Providers, &d.Scope.Accounts, &d.Scope.Regions} {
		if *p == nil {
			*p = []string{}
		}
	}
	if d.Findings == nil {
		d.Findings = []*findingDoc{}
	}
	if d.Exposures == nil {
		d.Exposures = []*exposureDoc{}
	}
	if d.Compliance == nil {
		d.Compliance = []Control{}
	}
	if d.Exceptions == nil {
		d.Exceptions = []ExceptionStatus{}
	}
	if d.Misconfigurations == nil {
		d.Misconfigurations = []Misconfiguration{}
	}
	if d.Errors == nil {
		d.Errors = []exposure.Error{}
	}
	d.Partial = r.Partial || len(r.Errors) > 0
	d.Summary = summarize(d, r.FailOn)
	return v
}

func summarize(d *document, failOn rules.Severity) summaryDoc {
	s := summaryDoc{Partial: d.Partial, FailOn: failOn, Errors: len(d.Errors), Misconfigurations: len(d.Misconfigurations)}
	targets := map[string]bool{}
	for _, e := range d.Exposures {
		s.Exposures.Total++
		if e.Level == exposure.Effective {
			s.Exposures.Effective++
			targets[e.Provider+"\x00"+e.Account+"\x00"+e.Target.ID] = true
		} else {
			s.Exposures.Latent++
		}
	}
	s.Exposures.Targets = len(targets)
	for _, f := range d.Findings {
		s.Findings.Total++
		if f.Suppressed {
			s.Findings.Suppressed++
			continue
		}
		s.Findings.Active++
		if f.Level == exposure.Effective {
			s.Findings.ByLevel.Effective++
		} else {
			s.Findings.ByLevel.Latent++
		}
		s.Findings.BySeverity.add(f.Severity)
		if f.Severity >= failOn {
			s.Failing++
		}
	}
	for _, c := range d.Compliance {
		switch c.Status {
		case ControlPass:
			s.Compliance.Pass++
		case ControlFail:
			s.Compliance.Fail++
		default:
			s.Compliance.NotApplicable++
		}
	}
	for _, x := range d.Exceptions {
		if x.Kind == ExceptionExpired {
			s.Exceptions.Expired++
		} else {
			s.Exceptions.Stale++
		}
	}
	return s
}

func (v *view) exposureDoc(e *exposure.Exposure, probes map[string][]exposure.Observation) *exposureDoc {
	x := &exposureDoc{
		ID:       e.ID(),
		Level:    e.Level,
		Provider: e.Provider,
		Account:  e.Account,
		Region:   e.Region,
		Protocol: e.Protocol,
		FromPort: int(e.Ports.From),
		ToPort:   int(e.Ports.To),
		Target: targetDoc{
			Kind:  e.Target.Kind,
			ID:    e.Target.ID,
			Name:  e.Target.Name,
			Owner: e.Target.Owner,
			Tags:  e.Target.Tags,
		},
		Evidence: make([]exposure.Evidence, 0, len(e.Evidence)),
		ports:    e.Ports,
	}
	for _, ev := range e.Evidence {
		if ev != nil {
			x.Evidence = append(x.Evidence, *ev)
		}
	}
	if ep := e.Endpoint; ep.IP.IsValid() || ep.Host != "" {
		x.Address = ep.String()
		if ep.IP.IsValid() && ep.Host != "" {
			x.Hostname = ep.Host
		}
		x.AddressFamily = "ipv4"
		if ep.Is6() {
			x.AddressFamily = "ipv6"
		}
	}
	if x.Level == "" {
		// The zero Level is not a level; the analysis always sets one, and
		// an exposure with an endpoint is one someone can reach.
		x.Level = exposure.Effective
		if x.Address == "" {
			x.Level = exposure.Latent
		}
	}
	if b := e.Backend; b != nil {
		x.Backend = &backendDoc{
			ID: b.ID, Name: b.Name, Forward: b.Forward, Protocol: b.Protocol,
			FromPort: int(b.Ports.From), ToPort: int(b.Ports.To),
		}
	}
	si := v.sourceInfo(e.Sources)
	x.Sources, x.SourceBreadth, x.SourcesLabel = si.prefixes, si.breadth, si.label
	if x.Address != "" {
		x.Probe = matchProbe(probes, e)
	}
	return x
}

func endpointKey(s string) string {
	if a, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil {
		return a.Unmap().WithZone("").String()
	}
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
}

// indexObservations indexes observations by endpoint.
func indexObservations(obs []exposure.Observation) map[string][]exposure.Observation {
	m := make(map[string][]exposure.Observation)
	for _, o := range obs {
		k := endpointKey(o.Endpoint)
		m[k] = append(m[k], o)
	}
	return m
}

// probeRank orders observation states by how much they say: an open port
// confirms the exposure, so it wins when a range was probed on several ports.
var probeRank = map[exposure.ProbeState]int{
	exposure.ProbeOpen: 0, exposure.ProbeClosed: 1, exposure.ProbeFiltered: 2,
	exposure.ProbeError: 3, exposure.ProbeSkipped: 4,
}

func rankOf(s exposure.ProbeState) int {
	if r, ok := probeRank[s]; ok {
		return r
	}
	return len(probeRank)
}

// matchProbe returns the most telling observation of the exposure's
// endpoint, protocol and a port within its range: open before closed before
// filtered, then the lowest port.
func matchProbe(probes map[string][]exposure.Observation, e *exposure.Exposure) *probeDoc {
	var keys []string
	if e.Endpoint.IP.IsValid() {
		keys = append(keys, endpointKey(e.Endpoint.IP.String()))
	}
	if e.Endpoint.Host != "" {
		keys = append(keys, endpointKey(e.Endpoint.Host))
	}
	var best *exposure.Observation
	for _, k := range keys {
		list := probes[k]
		for i := range list {
			o := &list[i]
			// Protocol "all" is every protocol reported on its own row but
			// TCP, UDP, ICMP and ICMPv6: a TCP or UDP probe is not about it.
			if o.Protocol != e.Protocol || !e.Ports.Contains(o.Port) {
				continue
			}
			if best == nil || rankOf(o.State) < rankOf(best.State) ||
				(rankOf(o.State) == rankOf(best.State) && (o.Port < best.Port ||
					(o.Port == best.Port && o.Protocol < best.Protocol))) {
				best = o
			}
		}
	}
	if best == nil {
		return nil
	}
	return newProbeDoc(best)
}

func newProbeDoc(o *exposure.Observation) *probeDoc {
	return &probeDoc{
		Endpoint: o.Endpoint, Protocol: o.Protocol, Port: int(o.Port), State: o.State,
		Service: o.Service, Product: o.Product, Evidence: o.Evidence,
		RTTMs: float64(o.RTT.Microseconds()) / 1000, Error: o.Error,
	}
}

func compareScope(a, b exposure.Scope) int {
	return cmp.Or(strings.Compare(a.Provider, b.Provider), strings.Compare(a.Account, b.Account),
		strings.Compare(a.Region, b.Region))
}

func levelOrder(l exposure.Level) int {
	if l == exposure.Effective {
		return 0
	}
	return 1
}

func compareExposures(a, b *exposureDoc) int {
	sa, sb := -1, -1
	if a.HasFindings {
		sa = int(a.MaxSeverity)
	}
	if b.HasFindings {
		sb = int(b.MaxSeverity)
	}
	return cmp.Or(
		cmp.Compare(sb, sa),
		cmp.Compare(levelOrder(a.Level), levelOrder(b.Level)),
		strings.Compare(a.Provider, b.Provider),
		strings.Compare(a.Account, b.Account),
		strings.Compare(a.Region, b.Region),
		strings.Compare(a.Target.ID, b.Target.ID),
		strings.Compare(a.Address, b.Address),
		cmp.Compare(a.Protocol, b.Protocol),
		cmp.Compare(a.FromPort, b.FromPort),
		cmp.Compare(a.ToPort, b.ToPort),
		strings.Compare(a.ID, b.ID),
	)
}

func compareFindings(a, b *findingDoc) int {
	x, y := a.Exposure, b.Exposure
	return cmp.Or(
		cmp.Compare(b.Severity, a.Severity),
		cmp.Compare(levelOrder(a.Level), levelOrder(b.Level)),
		strings.Compare(x.Provider, y.Provider),
		strings.Compare(x.Account, y.Account),
		strings.Compare(x.Region, y.Region),
		strings.Compare(x.Target.ID, y.Target.ID),
		strings.Compare(x.Address, y.Address),
		cmp.Compare(x.Protocol, y.Protocol),
		cmp.Compare(x.FromPort, y.FromPort),
		cmp.Compare(a.Port, b.Port),
		strings.Compare(a.RuleID, b.RuleID),
		strings.Compare(a.ID, b.ID),
	)
}

// naturalCompare orders control IDs the way people number them: "5.2"
// before "5.10", "AC-3" before "AC-17".
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitPrefix(a), digitPrefix(b)
		if da > 0 && db > 0 {
			na, _ := strconv.ParseUint(strings.TrimLeft(a[:da], "0")+"0", 10, 64)
			nb, _ := strconv.ParseUint(strings.TrimLeft(b[:db], "0")+"0", 10, 64)
			if c := cmp.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func digitPrefix(s string) int {
	i := 0
	for i < len(s) && i < 18 && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

func sortedUnique(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

// splitFamilies splits a set into its IPv4 and IPv6 parts.
func splitFamilies(s *netipx.IPSet) (v4, v6 *netipx.IPSet) {
	var b4, b6 netipx.IPSetBuilder
	if s != nil {
		for _, p := range s.Prefixes() {
			if p.Addr().Is4() {
				b4.AddPrefix(p)
			} else {
				b6.AddPrefix(p)
			}
		}
	}
	v4, _ = b4.IPSet()
	v6, _ = b6.IPSet()
	return v4, v6
}

func (v *view) sourceInfo(s *netipx.IPSet) *sourceInfo {
	if s == nil {
		s = &netipx.IPSet{}
	}
	if si, ok := v.sourcesByPtr[s]; ok {
		return si
	}
	var key strings.Builder
	for _, r := range s.Ranges() {
		key.WriteString(r.String())
		key.WriteByte(' ')
	}
	si, ok := v.sourcesByKey[key.String()]
	if !ok {
		si = &sourceInfo{prefixes: exposure.DisplaySources(s), breadth: exposure.SourceBreadth(s), label: v.sourcesLabel(s)}
		v.sourcesByKey[key.String()] = si
	}
	v.sourcesByPtr[s] = si
	return si
}

// sourcesLabel summarizes a source set for people: "anyone", "anyone
// (IPv4)", one CIDR, or "N ranges".
func (v *view) sourcesLabel(s *netipx.IPSet) string {
	pub := exposure.Intersect(s, exposure.PublicInternet())
	s4, s6 := splitFamilies(pub)
	// "Anyone" as exposure.SourceBreadth judges it per family (the whole
	// public internet but at most a /16 of IPv4 or a /32 of IPv6).
	any4 := exposure.SourceBreadth(s4) == exposure.BreadthAnyone
	any6 := exposure.SourceBreadth(s6) == exposure.BreadthAnyone
	n4, n6 := len(s4.Prefixes()), len(s6.Prefixes())
	rangesOf := func(set *netipx.IPSet, n int, family string) string {
		if n == 1 {
			return set.Prefixes()[0].String()
		}
		return strconv.Itoa(n) + " " + family + " ranges"
	}
	switch {
	case any4 && any6:
		return "anyone"
	case any4 && n6 == 0:
		return "anyone (IPv4)"
	case any6 && n4 == 0:
		return "anyone (IPv6)"
	case any4:
		return "anyone (IPv4) + " + rangesOf(s6, n6, "IPv6")
	case any6:
		return "anyone (IPv6) + " + rangesOf(s4, n4, "IPv4")
	}
	switch n := n4 + n6; n {
	case 0:
		return "none"
	case 1:
		return pub.Prefixes()[0].String()
	default:
		return strconv.Itoa(n) + " ranges"
	}
}

// Labels shared by the human formats.

// AddressLabel is the address traffic is sent to, or "(latent)".
func (e *exposureDoc) AddressLabel() string {
	if e.Address == "" {
		return "(latent)"
	}
	return e.Address
}

// PortLabel is the port range, with the backend ports after an arrow when a
// forward translates them ("443→8443").
func (e *exposureDoc) PortLabel() string {
	s := portRangeLabel(e.Protocol, e.FromPort, e.ToPort)
	if b := e.Backend; b != nil && (b.FromPort != e.FromPort || b.ToPort != e.ToPort) {
		s += "→" + portRangeLabel(b.Protocol, b.FromPort, b.ToPort)
	}
	return s
}

func portRangeLabel(p exposure.Protocol, from, to int) string {
	r := exposure.PortRange{From: uint16(from), To: uint16(to)}
	switch {
	case r.IsAll():
		return "all"
	case p.IsICMP():
		return "type " + r.String()
	}
	return r.String()
}

// TargetLabel names the target: its name, or a short form of its ID.
func (e *exposureDoc) TargetLabel() string {
	if e.Target.Name != "" {
		return e.Target.Name
	}
	return shortID(e.Target.ID, "")
}

// ProbeLabel is the probe outcome ("open ssh"), or "" when not probed.
func (e *exposureDoc) ProbeLabel() string { return e.Probe.label() }

// ProbeLabel is the outcome of the finding's own probe, or of the
// exposure's when the rules engine tied none to the finding.
func (f *findingDoc) ProbeLabel() string {
	if f.Probe != nil {
		return f.Probe.label()
	}
	return f.Exposure.ProbeLabel()
}

// ProbeView is the probe shown for the finding.
func (f *findingDoc) ProbeView() *probeDoc {
	if f.Probe != nil {
		return f.Probe
	}
	return f.Exposure.Probe
}

func (p *probeDoc) label() string {
	if p == nil {
		return ""
	}
	s := string(p.State)
	if p.Service != "" {
		s += " " + p.Service
	}
	return s
}

// orderedKinds are the layer kinds whose rule identifiers are what people
// look for (NACL rule numbers, NSG and firewall rule names).
var orderedKinds = map[string]bool{
	exposure.LayerNetworkACL: true, exposure.LayerNSG: true,
	exposure.LayerFirewall: true, exposure.LayerFirewallPolicy: true,
}

// EvidenceLabel lists the layers that let the traffic in, shortly:
// "acl-0a1#100, sg-0b2". Route tables are left out: every public path has
// one and the JSON report names it.
func (e *exposureDoc) EvidenceLabel() string {
	var parts []string
	for _, ev := range e.Evidence {
		if ev.LayerKind == exposure.LayerRoute {
			continue
		}
		s := shortID(ev.Layer, ev.LayerName)
		if ev.Rule != "" && orderedKinds[ev.LayerKind] {
			s += "#" + ev.Rule
		}
		if !slices.Contains(parts, s) {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ", ")
}

// shortID shortens long resource identifiers (ARNs, Azure resource IDs,
// GCP self-links) to their name.
func shortID(id, name string) string {
	if !strings.Contains(id, "/") {
		return id
	}
	if name != "" {
		return name
	}
	id = strings.TrimRight(id, "/")
	return id[strings.LastIndex(id, "/")+1:]
}

// frameworkControls is the compliance state of one framework.
type frameworkControls struct {
	Framework                 string
	Controls                  []Control
	Pass, Fail, NotApplicable int
}

// complianceByFramework groups sorted controls by framework.
func complianceByFramework(cs []Control) []*frameworkControls {
	var out []*frameworkControls
	for _, c := range cs {
		if len(out) == 0 || out[len(out)-1].Framework != c.Framework {
			out = append(out, &frameworkControls{Framework: c.Framework})
		}
		fw := out[len(out)-1]
		fw.Controls = append(fw.Controls, c)
		switch c.Status {
		case ControlPass:
			fw.Pass++
		case ControlFail:
			fw.Fail++
		default:
			fw.NotApplicable++
		}
	}
	return out
}
