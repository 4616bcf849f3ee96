package reports

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

// The JSON report of schema 2.0 lists what many exposures and findings
// share once, in tables keyed by a short ID, and references it:
//
//   - rules: the text of each rule that produced a finding (title,
//     service, compliance, remediation), keyed by rule ID;
//   - targets: what exposures reach ("t1", "t2", …);
//   - sourceSets: the public sources that get through ("s1", …);
//   - evidence: each layer and rule that let traffic in ("e1", …).
//
// The Document in memory keeps the linked shape every writer renders
// (Exposure.Target, .Sources, .Evidence filled in): writeJSON builds the
// tables from it, and Read resolves them back. The tables are written
// before the exposures that reference them, so a reader that streams the
// exposures can resolve each one as it comes; IDs are given in the order
// the exposures first use them. See docs/report-format.md.

// ruleEntry is one element of rules: the text a rule gives its findings.
type ruleEntry struct {
	Title       string                `json:"title"`
	Service     string                `json:"service,omitempty"`
	Compliance  []rules.ComplianceRef `json:"compliance"`
	Remediation string                `json:"remediation,omitempty"`
}

// findingV2 is a finding of schema 2.0: its rule's text is in rules
// (by ruleId). The text fields are present only on a finding whose text
// differs from its rule's entry (a report merged from two catalogs), and
// then they take precedence.
type findingV2 struct {
	ID               string                 `json:"id"`
	RuleID           string                 `json:"ruleId"`
	Title            *string                `json:"title,omitempty"`
	Severity         rules.Severity         `json:"severity"`
	Level            exposure.Level         `json:"level"`
	Service          *string                `json:"service,omitempty"`
	Port             int                    `json:"port"`
	ExposureID       string                 `json:"exposureId"`
	Compliance       *[]rules.ComplianceRef `json:"compliance,omitempty"`
	Remediation      *string                `json:"remediation,omitempty"`
	Suppressed       bool                   `json:"suppressed"`
	Suppression      *rules.Suppression     `json:"suppression,omitempty"`
	ExpiredException *rules.Suppression     `json:"expiredException,omitempty"`
	MatchedBy        string                 `json:"matchedBy,omitempty"`
	Subsumes         []string               `json:"subsumes,omitempty"`
	Custom           bool                   `json:"custom,omitempty"`
	Probe            *Probe                 `json:"probe,omitempty"`
}

// exposureV2 is an exposure of schema 2.0: target, sources and evidence
// are references into the tables. Key is written only where it differs
// from what the other fields give (keyOf), which the analysis never
// produces; a reader derives it.
type exposureV2 struct {
	ID            string            `json:"id"`
	Key           *exposure.Key     `json:"key,omitempty"`
	Level         exposure.Level    `json:"level"`
	Provider      string            `json:"provider"`
	Account       string            `json:"account"`
	Region        string            `json:"region"`
	Address       string            `json:"address,omitempty"`
	Hostname      string            `json:"hostname,omitempty"`
	AddressFamily string            `json:"addressFamily,omitempty"`
	Protocol      exposure.Protocol `json:"protocol"`
	FromPort      int               `json:"fromPort"`
	ToPort        int               `json:"toPort"`
	Target        string            `json:"target"`
	Backend       *Backend          `json:"backend,omitempty"`
	Sources       string            `json:"sources"`
	SourceBreadth exposure.Breadth  `json:"sourceBreadth"`
	Evidence      []string          `json:"evidence"`
	Probe         *Probe            `json:"probe,omitempty"`
	Change        string            `json:"change,omitempty"`
}

// documentV2 is the JSON report of schema 2.x as Read decodes it. The
// writer writes the same fields in the same order (writeJSON).
type documentV2 struct {
	SchemaVersion     string                       `json:"schemaVersion"`
	Tool              Tool                         `json:"tool"`
	GeneratedAt       string                       `json:"generatedAt"`
	Scope             Scope                        `json:"scope"`
	Partial           bool                         `json:"partial"`
	Summary           Summary                      `json:"summary"`
	Rules             map[string]ruleEntry         `json:"rules"`
	Findings          []*findingV2                 `json:"findings"`
	Targets           map[string]Target            `json:"targets"`
	SourceSets        map[string][]string          `json:"sourceSets"`
	Evidence          map[string]exposure.Evidence `json:"evidence"`
	Exposures         []*exposureV2                `json:"exposures"`
	Compliance        []ControlEntry               `json:"compliance"`
	Exceptions        []ExceptionEntry             `json:"exceptions"`
	Misconfigurations []MisconfigurationEntry      `json:"misconfigurations"`
	Errors            []exposure.Error             `json:"errors"`
	Changes           *Changes                     `json:"changes,omitempty"`
}

// tables are the shared parts of a Document, each listed once, and for
// each exposure the indexes of its target, source set and evidence. They
// hold pointers into the Document, not rendered JSON.
type tables struct {
	rules     []string // rule IDs in order of first use
	ruleText  map[string]*Finding
	targets   []*Target
	sources   [][]string
	evidence  []*exposure.Evidence
	target    []int // by exposure
	sourceSet []int // by exposure
	evStart   []int // by exposure: its evidence is evRefs[evStart[i]:evStart[i+1]]
	evRefs    []int // indexes into evidence
}

// targetKey, evidenceKey identify a table entry by content.
type targetKey struct {
	kind, id, name, owner, tags string
}

type evidenceKey struct {
	layer, layerKind, layerName, rule, action, sources, note, unknown string
}

// joinKey joins strings unambiguously (each is length-prefixed), for map
// keys made of lists.
func joinKey(ss []string) string {
	var sb strings.Builder
	for _, s := range ss {
		sb.WriteString(strconv.Itoa(len(s)))
		sb.WriteByte(':')
		sb.WriteString(s)
	}
	return sb.String()
}

func tagsKey(tags map[string]string) string {
	if len(tags) == 0 {
		return ""
	}
	kv := make([]string, 0, 2*len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		kv = append(kv, k, tags[k])
	}
	return joinKey(kv)
}

// newTables indexes what the document's exposures and findings share.
func newTables(d *Document) *tables {
	t := &tables{
		ruleText:  map[string]*Finding{},
		target:    make([]int, len(d.Exposures)),
		sourceSet: make([]int, len(d.Exposures)),
		evStart:   make([]int, 0, len(d.Exposures)+1),
	}
	targets := map[targetKey]int{}
	sources := map[string]int{}
	evidence := map[evidenceKey]int{}
	for i, x := range d.Exposures {
		tk := targetKey{x.Target.Kind, x.Target.ID, x.Target.Name, x.Target.Owner, tagsKey(x.Target.Tags)}
		n, ok := targets[tk]
		if !ok {
			n = len(t.targets)
			targets[tk] = n
			t.targets = append(t.targets, &x.Target)
		}
		t.target[i] = n
		sk := joinKey(x.Sources)
		if n, ok = sources[sk]; !ok {
			n = len(t.sources)
			sources[sk] = n
			t.sources = append(t.sources, x.Sources)
		}
		t.sourceSet[i] = n
		t.evStart = append(t.evStart, len(t.evRefs))
		for j := range x.Evidence {
			ev := &x.Evidence[j]
			ek := evidenceKey{ev.Layer, ev.LayerKind, ev.LayerName, ev.Rule, ev.Action, joinKey(ev.Sources), ev.Note, ev.Unknown}
			if n, ok = evidence[ek]; !ok {
				n = len(t.evidence)
				evidence[ek] = n
				t.evidence = append(t.evidence, ev)
			}
			t.evRefs = append(t.evRefs, n)
		}
	}
	t.evStart = append(t.evStart, len(t.evRefs))
	for _, f := range d.Findings {
		if _, ok := t.ruleText[f.RuleID]; !ok {
			t.ruleText[f.RuleID] = f
			t.rules = append(t.rules, f.RuleID)
		}
	}
	return t
}

func targetRef(n int) string   { return "t" + strconv.Itoa(n+1) }
func sourcesRef(n int) string  { return "s" + strconv.Itoa(n+1) }
func evidenceRef(n int) string { return "e" + strconv.Itoa(n+1) }

// exposureV2 shapes exposure i of the document for the JSON.
func (t *tables) exposureV2(i int, x *Exposure) *exposureV2 {
	w := &exposureV2{
		ID: x.ID, Level: x.Level, Provider: x.Provider, Account: x.Account, Region: x.Region,
		Address: x.Address, Hostname: x.Hostname, AddressFamily: x.AddressFamily,
		Protocol: x.Protocol, FromPort: x.FromPort, ToPort: x.ToPort,
		Target: targetRef(t.target[i]), Backend: x.Backend,
		Sources: sourcesRef(t.sourceSet[i]), SourceBreadth: x.SourceBreadth,
		Evidence: make([]string, 0, t.evStart[i+1]-t.evStart[i]),
		Probe:    x.Probe, Change: x.Change,
	}
	if k := x.Key; k != keyOf(x) {
		w.Key = &k
	}
	for _, n := range t.evRefs[t.evStart[i]:t.evStart[i+1]] {
		w.Evidence = append(w.Evidence, evidenceRef(n))
	}
	return w
}

// ruleEntry is the rules table's entry for a rule: the text of its first
// finding.
func (t *tables) ruleEntry(id string) ruleEntry {
	f := t.ruleText[id]
	return ruleEntry{Title: f.Title, Service: f.Service, Compliance: nonNil(f.Compliance), Remediation: f.Remediation}
}

// findingV2 shapes a finding for the JSON: its text only where it differs
// from its rule's entry.
func (t *tables) findingV2(f *Finding) *findingV2 {
	w := &findingV2{
		ID: f.ID, RuleID: f.RuleID, Severity: f.Severity, Level: f.Level, Port: f.Port, ExposureID: f.ExposureID,
		Suppressed: f.Suppressed, Suppression: f.Suppression, ExpiredException: f.ExpiredException,
		MatchedBy: f.MatchedBy, Subsumes: f.Subsumes, Custom: f.Custom, Probe: f.Probe,
	}
	r := t.ruleText[f.RuleID]
	if r == f {
		return w
	}
	if f.Title != r.Title {
		w.Title = &f.Title
	}
	if f.Service != r.Service {
		w.Service = &f.Service
	}
	if !slices.Equal(f.Compliance, r.Compliance) {
		c := nonNil(f.Compliance)
		w.Compliance = &c
	}
	if f.Remediation != r.Remediation {
		w.Remediation = &f.Remediation
	}
	return w
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// resolve turns a decoded 2.x report into the Document: every reference
// looked up (a reference to nothing is an error), the text of every
// finding taken from its rule, each exposure's key derived where the
// report leaves it out. Entries are shared, not copied: exposures with
// the same target share its tags, those with the same sources one slice.
func (w *documentV2) resolve() (*Document, error) {
	d := &Document{
		SchemaVersion: w.SchemaVersion, Tool: w.Tool, GeneratedAt: w.GeneratedAt, Scope: w.Scope,
		Partial: w.Partial, Summary: w.Summary, Compliance: w.Compliance, Exceptions: w.Exceptions,
		Misconfigurations: w.Misconfigurations, Errors: w.Errors, Changes: w.Changes,
		Exposures: make([]*Exposure, 0, len(w.Exposures)),
		Findings:  make([]*Finding, 0, len(w.Findings)),
	}
	for ref, s := range w.SourceSets {
		if s == nil {
			w.SourceSets[ref] = []string{}
		}
	}
	for i, e := range w.Exposures {
		if e == nil {
			return nil, fmt.Errorf("exposures[%d] is null", i)
		}
		x := &Exposure{
			ID: e.ID, Level: e.Level, Provider: e.Provider, Account: e.Account, Region: e.Region,
			Address: e.Address, Hostname: e.Hostname, AddressFamily: e.AddressFamily,
			Protocol: e.Protocol, FromPort: e.FromPort, ToPort: e.ToPort, Backend: e.Backend,
			SourceBreadth: e.SourceBreadth, Probe: e.Probe, Change: e.Change,
			Evidence: make([]exposure.Evidence, 0, len(e.Evidence)),
		}
		name := e.ID
		if name == "" {
			name = fmt.Sprintf("exposures[%d]", i)
		}
		t, ok := w.Targets[e.Target]
		if !ok {
			return nil, fmt.Errorf("exposure %s: target %q is not in targets", name, e.Target)
		}
		x.Target = t
		if x.Sources, ok = w.SourceSets[e.Sources]; !ok {
			return nil, fmt.Errorf("exposure %s: sources %q is not in sourceSets", name, e.Sources)
		}
		for _, ref := range e.Evidence {
			ev, ok := w.Evidence[ref]
			if !ok {
				return nil, fmt.Errorf("exposure %s: evidence %q is not in evidence", name, ref)
			}
			x.Evidence = append(x.Evidence, ev)
		}
		if e.Key != nil {
			x.Key = *e.Key
		} else {
			x.Key = keyOf(x)
		}
		d.Exposures = append(d.Exposures, x)
	}
	for i, f := range w.Findings {
		if f == nil {
			return nil, fmt.Errorf("findings[%d] is null", i)
		}
		r, ok := w.Rules[f.RuleID]
		if !ok {
			return nil, fmt.Errorf("finding %s: rule %q is not in rules", f.ID, f.RuleID)
		}
		x := &Finding{
			ID: f.ID, RuleID: f.RuleID, Title: r.Title, Severity: f.Severity, Level: f.Level, Service: r.Service,
			Port: f.Port, ExposureID: f.ExposureID, Compliance: r.Compliance, Remediation: r.Remediation,
			Suppressed: f.Suppressed, Suppression: f.Suppression, ExpiredException: f.ExpiredException,
			MatchedBy: f.MatchedBy, Subsumes: f.Subsumes, Custom: f.Custom, Probe: f.Probe,
		}
		if f.Title != nil {
			x.Title = *f.Title
		}
		if f.Service != nil {
			x.Service = *f.Service
		}
		if f.Compliance != nil {
			x.Compliance = *f.Compliance
		}
		if f.Remediation != nil {
			x.Remediation = *f.Remediation
		}
		d.Findings = append(d.Findings, x)
	}
	return d, nil
}

// MarshalJSON encodes the document as writeJSON writes it (schema
// SchemaVersion), so that json.Marshal of a Document is the JSON report,
// not the in-memory shape.
func (d *Document) MarshalJSON() ([]byte, error) {
	var sb strings.Builder
	if err := writeJSON(&sb, d); err != nil {
		return nil, err
	}
	return json.RawMessage(sb.String()), nil
}
