package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

// Document is the JSON report: the one contract every format is rendered
// from and every reader (explain, report, diff) reads. The field names are
// published; see docs/report-format.md and schema/report.schema.json.
// Fields tagged json:"-" are labels derived from the published fields
// alone, so a Document read back with Read renders exactly as the one
// built from the Report.
//
// In memory the Document is linked: each exposure holds its target,
// sources and evidence. Its json tags are the shape of schema 1.x, which
// Read decodes; the JSON written (writeJSON, and Document.MarshalJSON) is
// the compact form of schema 2.0, which lists targets, source sets,
// evidence and rule text once and references them (compact.go).
type Document struct {
	SchemaVersion     string                  `json:"schemaVersion"`
	Tool              Tool                    `json:"tool"`
	GeneratedAt       string                  `json:"generatedAt"`
	Scope             Scope                   `json:"scope"`
	Partial           bool                    `json:"partial"`
	Summary           Summary                 `json:"summary"`
	Findings          []*Finding              `json:"findings"`
	Exposures         []*Exposure             `json:"exposures"`
	Compliance        []ControlEntry          `json:"compliance"`
	Exceptions        []ExceptionEntry        `json:"exceptions"`
	Misconfigurations []MisconfigurationEntry `json:"misconfigurations"`
	Errors            []exposure.Error        `json:"errors"`
	// Changes is what changed since the last run; only with a state.
	Changes *Changes `json:"changes,omitempty"`
}

// Summary holds the counts of the document.
type Summary struct {
	Partial           bool             `json:"partial"`
	FailOn            rules.Severity   `json:"failOn"`
	Failing           int              `json:"failing"` // active findings at or above failOn
	Exposures         ExposureCounts   `json:"exposures"`
	Findings          FindingCounts    `json:"findings"`
	Compliance        ComplianceCounts `json:"compliance"`
	Exceptions        ExceptionCounts  `json:"exceptions"`
	Misconfigurations int              `json:"misconfigurations"`
	Errors            int              `json:"errors"`
}

// ExposureCounts counts exposures by level.
type ExposureCounts struct {
	Total     int `json:"total"`
	Effective int `json:"effective"`
	Latent    int `json:"latent"`
	// Targets is the number of distinct targets with an effective exposure.
	Targets int `json:"targets"`
}

// FindingCounts counts findings.
type FindingCounts struct {
	Total      int `json:"total"`
	Active     int `json:"active"`
	Suppressed int `json:"suppressed"`
	// ByLevel and BySeverity count active findings only.
	ByLevel    LevelCounts    `json:"byLevel"`
	BySeverity SeverityCounts `json:"bySeverity"`
}

// LevelCounts counts active findings by exposure level.
type LevelCounts struct {
	Effective int `json:"effective"`
	Latent    int `json:"latent"`
}

// SeverityCounts counts active findings by severity.
type SeverityCounts struct {
	Critical int `json:"critical"`
	High     int `json:"high"`
	Medium   int `json:"medium"`
	Low      int `json:"low"`
	Info     int `json:"info"`
}

func (c *SeverityCounts) add(s rules.Severity) {
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

// ComplianceCounts counts controls by status.
type ComplianceCounts struct {
	Pass          int `json:"pass"`
	Fail          int `json:"fail"`
	NotApplicable int `json:"notApplicable"`
}

// ExceptionCounts counts the exceptions that need attention.
type ExceptionCounts struct {
	Expired int `json:"expired"`
	Stale   int `json:"stale"`
}

// Exposure is one effective or latent exposure.
type Exposure struct {
	ID string `json:"id"`
	// Key is the port-less identity of the exposure across runs
	// (exposure.Key): two runs' exposures with the same Key are the same
	// opening, whatever its ports.
	Key           exposure.Key        `json:"key"`
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
	Target        Target              `json:"target"`
	Backend       *Backend            `json:"backend,omitempty"`
	Sources       []string            `json:"sources"`
	SourceBreadth exposure.Breadth    `json:"sourceBreadth"`
	Evidence      []exposure.Evidence `json:"evidence"`
	Probe         *Probe              `json:"probe,omitempty"`
	// Change is what happened to the exposure's key since the last run
	// (ChangeNew, ChangeWidened, …); empty when unchanged or without a
	// state.
	Change string `json:"change,omitempty"`

	// Labels for the human formats, derived from the fields above and the
	// findings (see Document.link).
	SourcesLabel string `json:"-"`
	// MaxSeverity is the highest severity of the active findings on the
	// exposure; HasFindings says whether there are any.
	MaxSeverity rules.Severity `json:"-"`
	HasFindings bool           `json:"-"`
	// Matched says whether any rule matched, suppressed or not.
	Matched bool `json:"-"`
}

// Target is what an exposure reaches (for a latent exposure, the layer).
type Target struct {
	Kind  string            `json:"kind"`
	ID    string            `json:"id"`
	Name  string            `json:"name,omitempty"`
	Owner string            `json:"owner,omitempty"`
	Tags  map[string]string `json:"tags,omitempty"`
}

// Backend is where a forward (listener, NAT rule) sends the traffic.
type Backend struct {
	ID       string            `json:"id,omitempty"`
	Name     string            `json:"name,omitempty"`
	Forward  string            `json:"forward"`
	Protocol exposure.Protocol `json:"protocol"`
	FromPort int               `json:"fromPort"`
	ToPort   int               `json:"toPort"`
}

// Probe is what a probe saw on one port.
type Probe struct {
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

// Finding is a catalog or custom rule applied to an exposure.
type Finding struct {
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
	Probe *Probe `json:"probe,omitempty"`

	// Exposure is the exposure the finding is about (never nil in a
	// Document from NewDocument or Read): the one whose ID is ExposureID.
	Exposure *Exposure `json:"-"`
}

// ControlEntry is the state of one control of a compliance framework, as
// the report shows it (shaped from rules.ControlResult).
type ControlEntry struct {
	Framework string              `json:"framework"`
	ID        string              `json:"id"`
	Title     string              `json:"title"`
	Status    rules.ControlStatus `json:"status"`
	// Evidence holds finding IDs, exposure IDs or free text.
	Evidence []string `json:"evidence"`
}

// ExceptionEntry is one suppression that needs attention (shaped from
// rules.ExceptionStatus).
type ExceptionEntry struct {
	Kind     rules.ExceptionState `json:"kind"`
	Rule     string               `json:"rule"`
	Resource string               `json:"resource"`
	Reason   string               `json:"reason"`
	Owner    string               `json:"owner,omitempty"`
	Expires  string               `json:"expires,omitempty"` // YYYY-MM-DD
	// Source is where the exception is written (file:line).
	Source string `json:"source,omitempty"`
}

// MisconfigurationEntry is a configuration problem that is not an
// exposure by itself (shaped from rules.Misconfiguration).
type MisconfigurationEntry struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Resource string `json:"resource"`
	Detail   string `json:"detail"`
	exposure.Scope
	Severity    rules.Severity `json:"severity"`
	Remediation string         `json:"remediation,omitempty"`
}

// maxReportBytes bounds what Read accepts: the largest estates give JSON
// reports of tens of megabytes; anything far beyond is not a report.
const maxReportBytes = 1 << 30

// Read decodes a JSON report of schema 2.x (the compact form this release
// writes) or 1.x (the form before it), resolves the references of a 2.x
// report, re-links every finding to its exposure and recomputes the
// labels the human formats show, so that the Document renders in every
// format exactly as the one the report was written from. The Document
// is of this release's SchemaVersion whatever the version read: a 1.x
// report is migrated (docs/report-format.md, "Migrating from 1.x").
func Read(r io.Reader) (*Document, error) {
	dec := json.NewDecoder(io.LimitReader(r, maxReportBytes))
	// Check the version before the whole shape: a report of another major
	// version may not decode into this one, and saying "version 3.0" is
	// more useful than a type error deep inside it.
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("read report: not JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("read report: not JSON: data after the report object")
	}
	var head struct {
		SchemaVersion *string `json:"schemaVersion"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("read report: not a JSON report object: %w", err)
	}
	if head.SchemaVersion == nil {
		return nil, errors.New("read report: no schemaVersion: not a portcullis JSON report")
	}
	major, err := checkSchemaVersion(*head.SchemaVersion)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	var d *Document
	switch major {
	case 1:
		d = &Document{}
		if err := json.Unmarshal(raw, d); err != nil {
			return nil, fmt.Errorf("read report: %w", err)
		}
	default:
		var w documentV2
		if err := json.Unmarshal(raw, &w); err != nil {
			return nil, fmt.Errorf("read report: %w", err)
		}
		if d, err = w.resolve(); err != nil {
			return nil, fmt.Errorf("read report: %w", err)
		}
	}
	d.SchemaVersion = SchemaVersion
	if err := d.link(true); err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	return d, nil
}

// readsMajors are the major schema versions Read accepts: this release's
// and the one before it (migrated on reading).
var readsMajors = []int{1, 2}

// checkSchemaVersion accepts the major versions Read reads and returns
// the major number: minor versions only add fields, which older readers
// ignore and newer ones leave empty.
func checkSchemaVersion(v string) (int, error) {
	major := func(s string) (int, bool) {
		m, _, _ := strings.Cut(s, ".")
		n, err := strconv.Atoi(m)
		return n, err == nil && n >= 0
	}
	got, ok := major(v)
	if !ok {
		return 0, fmt.Errorf("schemaVersion %q is not a version (this release reads 1.x and 2.x, writes %s)", v, SchemaVersion)
	}
	if !slices.Contains(readsMajors, got) {
		return 0, fmt.Errorf("schemaVersion %s is not supported: this release reads 1.x and 2.x (writes %s)", v, SchemaVersion)
	}
	return got, nil
}

// link ties every finding to its exposure by ExposureID and computes the
// labels (json:"-" fields) from the published fields. fromJSON also fills
// what a report of an older minor version lacks (the exposure key) and
// the empty lists a hand-written report may leave out.
func (d *Document) link(fromJSON bool) error {
	byID := make(map[string]*Exposure, len(d.Exposures))
	labels := map[string]string{}
	for i, x := range d.Exposures {
		if x == nil {
			return fmt.Errorf("exposures[%d] is null", i)
		}
		if fromJSON {
			if x.ID == "" {
				return fmt.Errorf("exposures[%d] has no id", i)
			}
			if _, dup := byID[x.ID]; dup {
				return fmt.Errorf("exposures[%d]: id %s appears twice", i, x.ID)
			}
			if x.Key == (exposure.Key{}) {
				x.Key = keyOf(x)
			}
			if x.Sources == nil {
				x.Sources = []string{}
			}
			if x.Evidence == nil {
				x.Evidence = []exposure.Evidence{}
			}
		}
		if _, dup := byID[x.ID]; !dup {
			byID[x.ID] = x
		}
		k := strings.Join(x.Sources, " ")
		label, ok := labels[k]
		if !ok {
			var err error
			if label, err = sourcesLabel(x.Sources); err != nil {
				return fmt.Errorf("exposure %s: sources: %w", x.ID, err)
			}
			labels[k] = label
		}
		x.SourcesLabel = label
		x.MaxSeverity, x.HasFindings, x.Matched = 0, false, false
	}
	for i, f := range d.Findings {
		if f == nil {
			return fmt.Errorf("findings[%d] is null", i)
		}
		if fromJSON || f.Exposure == nil {
			x, ok := byID[f.ExposureID]
			if !ok {
				return fmt.Errorf("finding %s (rule %s): exposure %q is not in the report", f.ID, f.RuleID, f.ExposureID)
			}
			f.Exposure = x
		}
		if fromJSON && f.Compliance == nil {
			f.Compliance = []rules.ComplianceRef{}
		}
		x := f.Exposure
		x.Matched = true
		if !f.Suppressed && (!x.HasFindings || f.Severity > x.MaxSeverity) {
			x.MaxSeverity, x.HasFindings = f.Severity, true
		}
	}
	if fromJSON {
		fillEmpty(d)
	}
	return nil
}

// keyOf derives an exposure's key from its published fields, as
// exposure.Exposure.Key does from the model: what a report of schema 1.0
// (which had no key) needs to take part in a diff.
func keyOf(x *Exposure) exposure.Key {
	k := exposure.Key{
		Scope: exposure.Scope{Provider: x.Provider, Account: x.Account, Region: x.Region},
		Level: x.Level, Target: x.Target.ID, Endpoint: x.Address, Protocol: x.Protocol,
	}
	if b := x.Backend; b != nil {
		k.Forward, k.Backend = b.Forward, b.ID
	}
	return k
}

// fillEmpty encodes empty lists as [] rather than null: scripts iterate
// them, and a Document read back encodes as it was written.
func fillEmpty(d *Document) {
	for _, p := range []*[]string{&d.Scope.Providers, &d.Scope.Accounts, &d.Scope.Regions} {
		if *p == nil {
			*p = []string{}
		}
	}
	if d.Findings == nil {
		d.Findings = []*Finding{}
	}
	if d.Exposures == nil {
		d.Exposures = []*Exposure{}
	}
	if d.Compliance == nil {
		d.Compliance = []ControlEntry{}
	}
	for i := range d.Compliance {
		if d.Compliance[i].Evidence == nil {
			d.Compliance[i].Evidence = []string{}
		}
	}
	if d.Exceptions == nil {
		d.Exceptions = []ExceptionEntry{}
	}
	if d.Misconfigurations == nil {
		d.Misconfigurations = []MisconfigurationEntry{}
	}
	if d.Errors == nil {
		d.Errors = []exposure.Error{}
	}
}
