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

// builder shapes a Report into its Document: ordering, probe matching,
// counts and the JSON shape of every rules type are decided here, once.
type builder struct {
	// sources caches what is derived from a source set, by pointer and by
	// content: an estate has few distinct sets (0.0.0.0/0, an office
	// range) shared by many exposures.
	sourcesByPtr map[*netipx.IPSet]*sourceInfo
	sourcesByKey map[string]*sourceInfo
}

// sourceInfo is what the report publishes about one source set.
type sourceInfo struct {
	prefixes []string
	breadth  exposure.Breadth
}

// NewDocument builds the Document of a report: the JSON contract that
// every format renders. Building it never modifies the Report.
func NewDocument(r *Report) *Document {
	b := &builder{sourcesByPtr: map[*netipx.IPSet]*sourceInfo{}, sourcesByKey: map[string]*sourceInfo{}}
	d := &Document{}
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
		Units:     slices.Clone(r.Scope.Units),
	}
	d.Errors = slices.Clone(r.Errors)

	probes := indexObservations(r.Observations)
	byPtr := make(map[*exposure.Exposure]*Exposure, len(r.Exposures))
	addExposure := func(e *exposure.Exposure) *Exposure {
		if x, ok := byPtr[e]; ok {
			return x
		}
		x := b.exposure(e, probes)
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
		fd := &Finding{
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
			fd.Probe = newProbe(f.Probe)
		}
		fd.ID = f.ID
		if fd.ID == "" {
			fd.ID = x.ID + ":" + f.RuleID
			if f.Port != 0 {
				fd.ID += ":" + strconv.Itoa(int(f.Port))
			}
		}
		d.Findings = append(d.Findings, fd)
	}
	// The labels (and MaxSeverity, which orders exposures) come from the
	// document's own fields, as they do for a document read back.
	if err := d.link(false); err != nil {
		// Every source list here is exposure.DisplaySources output, which
		// always parses; should the two ever disagree, say so in the
		// report rather than fail it.
		d.Errors = append(d.Errors, exposure.Error{Stage: "report", Message: "label the report: " + err.Error()})
	}

	slices.SortStableFunc(d.Exposures, compareExposures)
	slices.SortStableFunc(d.Findings, compareFindings)
	d.Compliance = controls(r.Compliance)
	slices.SortStableFunc(d.Compliance, func(a, b ControlEntry) int {
		return cmp.Or(strings.Compare(a.Framework, b.Framework), naturalCompare(a.ID, b.ID))
	})
	d.Exceptions = exceptions(r.Exceptions)
	slices.SortStableFunc(d.Exceptions, func(a, b ExceptionEntry) int {
		return cmp.Or(strings.Compare(string(a.Kind), string(b.Kind)), strings.Compare(a.Rule, b.Rule),
			strings.Compare(a.Resource, b.Resource), strings.Compare(a.Expires, b.Expires),
			strings.Compare(a.Reason, b.Reason), strings.Compare(a.Owner, b.Owner), strings.Compare(a.Source, b.Source))
	})
	d.Misconfigurations = misconfigurations(r.Misconfigurations)
	slices.SortStableFunc(d.Misconfigurations, func(a, b MisconfigurationEntry) int {
		return cmp.Or(compareScope(a.Scope, b.Scope), strings.Compare(a.Resource, b.Resource), strings.Compare(a.ID, b.ID),
			strings.Compare(a.Title, b.Title), strings.Compare(a.Detail, b.Detail))
	})
	slices.SortStableFunc(d.Errors, func(a, b exposure.Error) int {
		return cmp.Or(compareScope(a.Scope, b.Scope), strings.Compare(a.Stage, b.Stage),
			strings.Compare(a.Resource, b.Resource), strings.Compare(a.Message, b.Message))
	})
	fillEmpty(d)
	d.Partial = r.Partial || len(r.Errors) > 0
	d.Summary = summarize(d, r.FailOn)
	return d
}

// controls shapes the rules engine's control results for the report: the
// evidence is one line per finding, exposure or resource, after the
// reason.
func controls(cs []rules.ControlResult) []ControlEntry {
	out := make([]ControlEntry, 0, len(cs))
	for _, c := range cs {
		ctl := ControlEntry{Framework: c.Framework, ID: c.Control, Title: c.Title, Status: c.Status}
		if c.Reason != "" {
			ctl.Evidence = append(ctl.Evidence, c.Reason)
		}
		for _, e := range c.Evidence {
			ref := e.FindingID
			if ref == "" {
				ref = e.ExposureID
			}
			if ref == "" {
				ref = e.Resource
			}
			if e.Detail != "" {
				ref += ": " + e.Detail
			}
			ctl.Evidence = append(ctl.Evidence, ref)
		}
		out = append(out, ctl)
	}
	return out
}

// exceptions shapes the expired and stale exceptions for the report.
func exceptions(es []rules.ExceptionStatus) []ExceptionEntry {
	out := make([]ExceptionEntry, 0, len(es))
	for _, e := range es {
		out = append(out, ExceptionEntry{
			Kind: e.State, Rule: e.Exception.Rule, Resource: e.Exception.Resource,
			Reason: e.Exception.Reason, Owner: e.Exception.Owner, Expires: e.Exception.Expires, Source: e.Exception.Source,
		})
	}
	return out
}

// misconfigurations shapes layer misconfigurations for the report: the
// resource is the layer, with its name when it has one.
func misconfigurations(ms []rules.Misconfiguration) []MisconfigurationEntry {
	out := make([]MisconfigurationEntry, 0, len(ms))
	for _, m := range ms {
		res := m.Layer
		if m.LayerName != "" && m.LayerName != m.Layer {
			res += " (" + m.LayerName + ")"
		}
		out = append(out, MisconfigurationEntry{
			ID: m.Kind, Title: m.Title, Resource: res, Detail: m.Message, Scope: m.Scope,
			Severity: m.Severity, Remediation: m.Remediation,
		})
	}
	return out
}

func summarize(d *Document, failOn rules.Severity) Summary {
	s := Summary{Partial: d.Partial, FailOn: failOn, Errors: len(d.Errors), Misconfigurations: len(d.Misconfigurations)}
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
		case rules.StatusPass:
			s.Compliance.Pass++
		case rules.StatusFail:
			s.Compliance.Fail++
		default:
			s.Compliance.NotApplicable++
		}
	}
	for _, x := range d.Exceptions {
		if x.Kind == rules.ExceptionExpired {
			s.Exceptions.Expired++
		} else {
			s.Exceptions.Stale++
		}
	}
	return s
}

func (bl *builder) exposure(e *exposure.Exposure, probes map[string][]exposure.Observation) *Exposure {
	x := &Exposure{
		ID:       e.ID(),
		Level:    e.Level,
		Provider: e.Provider,
		Account:  e.Account,
		Region:   e.Region,
		Protocol: e.Protocol,
		FromPort: int(e.Ports.From),
		ToPort:   int(e.Ports.To),
		Target: Target{
			Kind:  e.Target.Kind,
			ID:    e.Target.ID,
			Name:  e.Target.Name,
			Owner: e.Target.Owner,
			Tags:  e.Target.Tags,
		},
		Evidence: make([]exposure.Evidence, 0, len(e.Evidence)),
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
		x.Backend = &Backend{
			ID: b.ID, Name: b.Name, Forward: b.Forward, Protocol: b.Protocol,
			FromPort: int(b.Ports.From), ToPort: int(b.Ports.To),
		}
	}
	// Key is the model's own (exposure.Key), with the level the report
	// shows.
	x.Key = e.Key()
	x.Key.Level = x.Level
	si := bl.sourceInfo(e.Sources)
	x.Sources, x.SourceBreadth = si.prefixes, si.breadth
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
func matchProbe(probes map[string][]exposure.Observation, e *exposure.Exposure) *Probe {
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
	return newProbe(best)
}

func newProbe(o *exposure.Observation) *Probe {
	return &Probe{
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

func compareExposures(a, b *Exposure) int {
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

func compareFindings(a, b *Finding) int {
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

func (bl *builder) sourceInfo(s *netipx.IPSet) *sourceInfo {
	if s == nil {
		s = &netipx.IPSet{}
	}
	if si, ok := bl.sourcesByPtr[s]; ok {
		return si
	}
	var key strings.Builder
	for _, r := range s.Ranges() {
		key.WriteString(r.String())
		key.WriteByte(' ')
	}
	si, ok := bl.sourcesByKey[key.String()]
	if !ok {
		si = &sourceInfo{prefixes: exposure.DisplaySources(s), breadth: exposure.SourceBreadth(s)}
		bl.sourcesByKey[key.String()] = si
	}
	bl.sourcesByPtr[s] = si
	return si
}
