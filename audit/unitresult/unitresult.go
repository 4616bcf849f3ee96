// Package unitresult is the compact, versioned result of auditing one
// collection unit (an AWS account-region, a GCP project, an Azure
// subscription): what the serverless collect function writes after it has
// analysed its own unit, and what the report stage merges, one unit at a
// time, into the run's one report (audit.Merge).
//
// A unit result holds what the report needs of the unit and nothing it can
// recompute: the unit's effective and latent exposures in the analysis's
// own order, the layers that the rules judge as layers (network ACLs and
// default security groups; every other layer is judged through the
// exposures it lets in), the unit's scope (which providers and scopes its
// snapshot held and which of them could be read) and its partial failures
// by stage. Rules are not evaluated per unit: probe observations, custom
// rules, exceptions and compliance controls are the report stage's inputs
// and judge the whole estate, so the merge evaluates them once, exactly as
// a whole-estate audit does (docs/deployment.md, "Run at organization
// size").
//
// The encoding is this package's own (gzip-compressed JSON with tables),
// not the JSON report: the report's schema serves people and integrations
// and changes for them, this one serves the merge. Values shared between
// exposures (the site of a target endpoint, a source set, a rule's
// evidence, a backend) are written once and referenced by index, so the
// decoded exposures share them as the analysis's do. A result of another
// format or version is refused with an error naming both.
package unitresult

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Format names the encoding in every result; Version is bumped whenever a
// field changes meaning. Collect and report run from one deployment, so a
// mismatch means a run straddled an upgrade: the unit is then reported as
// not audited rather than misread.
const (
	Format  = "portcullis-unit-result"
	Version = 1
	// ContentType is what the runs bucket stores results as.
	ContentType = "application/gzip"
)

// Result is one unit's audit.
type Result struct {
	// Unit is the work item: provider and account (project, subscription),
	// and the region for AWS.
	Unit exposure.Scope
	// Present are the providers whose directory the unit's snapshot held;
	// Audited those of them of which something could be read (a layer
	// whose rules are known, or a target). A provider present in some unit
	// and audited in none gets the whole-estate audit's "nothing could be
	// read" error at the merge.
	Present, Audited []string
	// Units are the collection units found in the snapshot (its
	// directories) for every present provider.
	Units []exposure.Scope
	// Accounts and Regions are those of the unit's targets and listed
	// layers (the report's scope).
	Accounts, Regions []string
	// Errors by stage, in the whole-estate audit's order: what collection
	// recorded, what normalization met, what the analysis could not do.
	CollectErrors, NormalizeErrors, AnalyzeErrors []exposure.Error
	// Effective and Latent are the analysis's exposures of the unit, each
	// list sorted as exposure.Analyze sorts it.
	Effective, Latent []*exposure.Exposure
	// Layers are the layers rules judge as layers (rules.LayerChecked)
	// that the unit's inventory lists; PathLayers those found only on its
	// targets' paths (per-target variants), kept apart so that the merge
	// lists them in a whole-estate audit's order.
	Layers, PathLayers []*exposure.Layer
	// Targets and LayersSeen count what the unit's inventory held (logs
	// and benchmarks).
	Targets, LayersSeen int
}

// wire is the encoded form. Index fields are 1-based where 0 means none.
type wire struct {
	Format  string `json:"format"`
	Version int    `json:"version"`

	Unit       exposure.Scope   `json:"unit"`
	Present    []string         `json:"present,omitempty"`
	Audited    []string         `json:"audited,omitempty"`
	Units      []exposure.Scope `json:"units,omitempty"`
	Accounts   []string         `json:"accounts,omitempty"`
	Regions    []string         `json:"regions,omitempty"`
	Targets    int              `json:"targets"`
	LayersSeen int              `json:"layersSeen"`

	CollectErrors   []exposure.Error `json:"collectErrors,omitempty"`
	NormalizeErrors []exposure.Error `json:"normalizeErrors,omitempty"`
	AnalyzeErrors   []exposure.Error `json:"analyzeErrors,omitempty"`

	Sites    []wireSite           `json:"sites,omitempty"`
	Sets     [][]string           `json:"sets,omitempty"` // IP ranges ("a-b")
	Evidence []*exposure.Evidence `json:"evidence,omitempty"`
	Backends []*exposure.Backend  `json:"backends,omitempty"`
	// Effective and Latent exposures as [site, protocol, from, to, set,
	// backend, evidence...] (site 0-based, set and backend 1-based).
	Effective [][]int     `json:"effective,omitempty"`
	Latent    [][]int     `json:"latent,omitempty"`
	Layers    []wireLayer `json:"layers,omitempty"`
	// Listed is how many of Layers the inventory lists; the rest were
	// found only on paths.
	Listed int `json:"listed,omitempty"`
}

type wireSite struct {
	exposure.Scope
	Target exposure.TargetRef `json:"target"`
	IP     string             `json:"ip,omitempty"`
	Host   string             `json:"host,omitempty"`
	IPv6   bool               `json:"ipv6,omitempty"`
}

type wireLayer struct {
	exposure.Scope
	ID           string            `json:"id"`
	Kind         string            `json:"kind"`
	Name         string            `json:"name,omitempty"`
	Mode         exposure.Mode     `json:"mode"`
	Default      exposure.Action   `json:"default"`
	Egress       bool              `json:"egress,omitempty"`
	Latent       bool              `json:"latent,omitempty"`
	LatentByRule bool              `json:"latentByRule,omitempty"`
	Rules        []wireRule        `json:"rules,omitempty"`
	Outbound     []wireRule        `json:"outbound,omitempty"`
	Internal     int               `json:"internal,omitempty"`
	Attached     bool              `json:"attached,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
	Unknown      string            `json:"unknown,omitempty"`
}

type wireRule struct {
	ID          string               `json:"id,omitempty"`
	Description string               `json:"description,omitempty"`
	Action      exposure.Action      `json:"action"`
	Tier        int                  `json:"tier,omitempty"`
	Priority    int                  `json:"priority,omitempty"`
	Protocol    exposure.Protocol    `json:"protocol"`
	Ports       []exposure.PortRange `json:"ports,omitempty"`
	Sources     int                  `json:"sources,omitempty"`
	SourceNames []string             `json:"sourceNames,omitempty"`
}

// encoder assigns table indexes by pointer, so that shared values are
// written once.
type encoder struct {
	w        wire
	sites    map[*exposure.Site]int
	sets     map[*netipx.IPSet]int
	evidence map[*exposure.Evidence]int
	backends map[*exposure.Backend]int
}

// Encode writes r to w.
func Encode(w io.Writer, r *Result) error {
	e := &encoder{
		w: wire{Format: Format, Version: Version, Unit: r.Unit, Present: r.Present, Audited: r.Audited, Units: r.Units,
			Accounts: r.Accounts, Regions: r.Regions, Targets: r.Targets, LayersSeen: r.LayersSeen,
			CollectErrors: r.CollectErrors, NormalizeErrors: r.NormalizeErrors, AnalyzeErrors: r.AnalyzeErrors},
		sites: map[*exposure.Site]int{}, sets: map[*netipx.IPSet]int{},
		evidence: map[*exposure.Evidence]int{}, backends: map[*exposure.Backend]int{},
	}
	var err error
	if e.w.Effective, err = e.exposures(r.Effective); err != nil {
		return err
	}
	if e.w.Latent, err = e.exposures(r.Latent); err != nil {
		return err
	}
	e.w.Listed = len(r.Layers)
	for _, l := range slices.Concat(r.Layers, r.PathLayers) {
		if l == nil {
			return errors.New("encode unit result: nil layer")
		}
		e.w.Layers = append(e.w.Layers, wireLayer{
			Scope: l.Scope, ID: l.ID, Kind: l.Kind, Name: l.Name, Mode: l.Mode, Default: l.Default,
			Egress: l.Egress, Latent: l.Latent, LatentByRule: l.LatentByRule,
			Rules: e.rules(l.Rules), Outbound: e.rules(l.Outbound), Internal: e.set(l.Internal),
			Attached: l.Attached, Tags: l.Tags, Unknown: l.Unknown,
		})
	}
	zw := gzip.NewWriter(w)
	if err := json.NewEncoder(zw).Encode(&e.w); err != nil {
		return fmt.Errorf("encode unit result of %s: %w", unitName(r.Unit), err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compress unit result of %s: %w", unitName(r.Unit), err)
	}
	return nil
}

func (e *encoder) exposures(list []*exposure.Exposure) ([][]int, error) {
	out := make([][]int, 0, len(list))
	for _, x := range list {
		if x == nil || x.Site == nil {
			return nil, errors.New("encode unit result: exposure without a site")
		}
		site, ok := e.sites[x.Site]
		if !ok {
			site = len(e.w.Sites)
			e.sites[x.Site] = site
			s := wireSite{Scope: x.Scope, Target: x.Target, Host: x.Endpoint.Host, IPv6: x.Endpoint.IPv6}
			if x.Endpoint.IP.IsValid() {
				s.IP = x.Endpoint.IP.String()
			}
			e.w.Sites = append(e.w.Sites, s)
		}
		back := 0
		if x.Backend != nil {
			if back = e.backends[x.Backend]; back == 0 {
				e.w.Backends = append(e.w.Backends, x.Backend)
				back = len(e.w.Backends)
				e.backends[x.Backend] = back
			}
		}
		row := make([]int, 6, 6+len(x.Evidence))
		row[0], row[1], row[2], row[3], row[4], row[5] = site, int(x.Protocol), int(x.Ports.From), int(x.Ports.To), e.set(x.Sources), back
		for _, ev := range x.Evidence {
			if ev == nil {
				return nil, errors.New("encode unit result: nil evidence")
			}
			i, ok := e.evidence[ev]
			if !ok {
				i = len(e.w.Evidence)
				e.evidence[ev] = i
				e.w.Evidence = append(e.w.Evidence, ev)
			}
			row = append(row, i)
		}
		out = append(out, row)
	}
	return out, nil
}

// set returns the 1-based index of s in the set table (0: nil).
func (e *encoder) set(s *netipx.IPSet) int {
	if s == nil {
		return 0
	}
	if i, ok := e.sets[s]; ok {
		return i
	}
	ranges := s.Ranges()
	out := make([]string, len(ranges))
	for i, r := range ranges {
		out[i] = r.String()
	}
	e.w.Sets = append(e.w.Sets, out)
	e.sets[s] = len(e.w.Sets)
	return len(e.w.Sets)
}

func (e *encoder) rules(rs []exposure.Rule) []wireRule {
	if rs == nil {
		return nil
	}
	out := make([]wireRule, len(rs))
	for i, r := range rs {
		out[i] = wireRule{ID: r.ID, Description: r.Description, Action: r.Action, Tier: r.Tier, Priority: r.Priority,
			Protocol: r.Protocol, Ports: r.Ports, Sources: e.set(r.Sources), SourceNames: r.SourceNames}
	}
	return out
}

// Sets shares equal source sets between the results it decodes: the
// same sets (the internet, 0.0.0.0/0 less a few ranges) recur in every
// unit, and an organization's 17,000 units would otherwise hold a copy
// each. It is safe for concurrent use; the zero value is ready.
type Sets struct {
	mu   sync.Mutex
	sets map[string]*netipx.IPSet
}

func (s *Sets) intern(key string, build func() (*netipx.IPSet, error)) (*netipx.IPSet, error) {
	if s == nil {
		return build()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if set, ok := s.sets[key]; ok {
		return set, nil
	}
	set, err := build()
	if err != nil {
		return nil, err
	}
	if s.sets == nil {
		s.sets = map[string]*netipx.IPSet{}
	}
	s.sets[key] = set
	return set, nil
}

// Decode reads a result written by Encode. Anything malformed (another
// format or version, an index out of its table, an unparsable address)
// is an error naming what is wrong; no partial result is returned.
func Decode(r io.Reader) (*Result, error) { return DecodeShared(r, nil) }

// DecodeShared is Decode with source sets shared through sets (nil: not
// shared).
func DecodeShared(r io.Reader, sets *Sets) (*Result, error) {
	zr, err := gzip.NewReader(bufio.NewReaderSize(r, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("decompress unit result: %w", err)
	}
	var w wire
	if err := json.NewDecoder(zr).Decode(&w); err != nil {
		return nil, fmt.Errorf("decode unit result: %w", err)
	}
	if w.Format != Format || w.Version != Version {
		return nil, fmt.Errorf("unit result is %q version %d, want %q version %d (collect and report of different releases?)", w.Format, w.Version, Format, Version)
	}
	d := decoder{w: &w, shared: sets}
	res, err := d.result()
	if err != nil {
		return nil, fmt.Errorf("unit result of %s: %w", unitName(w.Unit), err)
	}
	return res, nil
}

type decoder struct {
	w      *wire
	shared *Sets
	sites  []*exposure.Site
	sets   []*netipx.IPSet
}

func (d *decoder) result() (*Result, error) {
	w := d.w
	r := &Result{Unit: w.Unit, Present: w.Present, Audited: w.Audited, Units: w.Units, Accounts: w.Accounts, Regions: w.Regions,
		CollectErrors: w.CollectErrors, NormalizeErrors: w.NormalizeErrors, AnalyzeErrors: w.AnalyzeErrors,
		Targets: w.Targets, LayersSeen: w.LayersSeen}
	d.sites = make([]*exposure.Site, len(w.Sites))
	for i, s := range w.Sites {
		site := &exposure.Site{Scope: s.Scope, Target: s.Target, Endpoint: exposure.Endpoint{Host: s.Host, IPv6: s.IPv6}}
		if s.IP != "" {
			ip, err := netip.ParseAddr(s.IP)
			if err != nil {
				return nil, fmt.Errorf("site %d: %w", i, err)
			}
			site.Endpoint.IP = ip
		}
		d.sites[i] = site
	}
	d.sets = make([]*netipx.IPSet, len(w.Sets))
	for i, ranges := range w.Sets {
		set, err := d.shared.intern(strings.Join(ranges, ","), func() (*netipx.IPSet, error) {
			var b netipx.IPSetBuilder
			for _, s := range ranges {
				rg, err := netipx.ParseIPRange(s)
				if err != nil {
					return nil, err
				}
				b.AddRange(rg)
			}
			return b.IPSet()
		})
		if err != nil {
			return nil, fmt.Errorf("set %d: %w", i+1, err)
		}
		d.sets[i] = set
	}
	for i, ev := range w.Evidence {
		if ev == nil {
			return nil, fmt.Errorf("evidence %d: null", i)
		}
	}
	for i, b := range w.Backends {
		if b == nil {
			return nil, fmt.Errorf("backend %d: null", i+1)
		}
	}
	var err error
	if r.Effective, err = d.exposures(exposure.Effective, w.Effective); err != nil {
		return nil, err
	}
	if r.Latent, err = d.exposures(exposure.Latent, w.Latent); err != nil {
		return nil, err
	}
	if w.Listed < 0 || w.Listed > len(w.Layers) {
		return nil, fmt.Errorf("%d listed layers of %d", w.Listed, len(w.Layers))
	}
	for i, l := range w.Layers {
		layer := &exposure.Layer{Scope: l.Scope, ID: l.ID, Kind: l.Kind, Name: l.Name, Mode: l.Mode, Default: l.Default,
			Egress: l.Egress, Latent: l.Latent, LatentByRule: l.LatentByRule, Attached: l.Attached, Tags: l.Tags, Unknown: l.Unknown}
		if layer.Internal, err = d.set(l.Internal); err != nil {
			return nil, fmt.Errorf("layer %d (%s) internal: %w", i, l.ID, err)
		}
		if layer.Rules, err = d.rules(l.Rules); err != nil {
			return nil, fmt.Errorf("layer %d (%s): %w", i, l.ID, err)
		}
		if layer.Outbound, err = d.rules(l.Outbound); err != nil {
			return nil, fmt.Errorf("layer %d (%s) outbound: %w", i, l.ID, err)
		}
		if i >= w.Listed {
			r.PathLayers = append(r.PathLayers, layer)
		} else {
			r.Layers = append(r.Layers, layer)
		}
	}
	return r, nil
}

func (d *decoder) set(i int) (*netipx.IPSet, error) {
	if i == 0 {
		return nil, nil
	}
	if i < 0 || i > len(d.sets) {
		return nil, fmt.Errorf("set %d of %d", i, len(d.sets))
	}
	return d.sets[i-1], nil
}

func (d *decoder) exposures(level exposure.Level, rows [][]int) ([]*exposure.Exposure, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	// One allocation for the unit's exposures, as the analysis hands them
	// out in chunks.
	chunk := make([]exposure.Exposure, len(rows))
	out := make([]*exposure.Exposure, len(rows))
	for i, row := range rows {
		if len(row) < 6 {
			return nil, fmt.Errorf("%s exposure %d: %d fields, want at least 6", level, i, len(row))
		}
		if row[0] < 0 || row[0] >= len(d.sites) {
			return nil, fmt.Errorf("%s exposure %d: site %d of %d", level, i, row[0], len(d.sites))
		}
		if row[1] < -1 || row[1] > 255 || row[2] < 0 || row[2] > 65535 || row[3] < row[2] || row[3] > 65535 {
			return nil, fmt.Errorf("%s exposure %d: protocol %d ports %d-%d out of range", level, i, row[1], row[2], row[3])
		}
		src, err := d.set(row[4])
		if err != nil {
			return nil, fmt.Errorf("%s exposure %d: %w", level, i, err)
		}
		x := &chunk[i]
		*x = exposure.Exposure{Level: level, Site: d.sites[row[0]], Protocol: exposure.Protocol(row[1]), //nolint:gosec // G115: checked to be -1..255 above
			Ports: exposure.PortRange{From: uint16(row[2]), To: uint16(row[3])}, Sources: src} //nolint:gosec // G115: checked to be 0..65535 above
		if b := row[5]; b != 0 {
			if b < 0 || b > len(d.w.Backends) {
				return nil, fmt.Errorf("%s exposure %d: backend %d of %d", level, i, b, len(d.w.Backends))
			}
			x.Backend = d.w.Backends[b-1]
		}
		if n := len(row) - 6; n > 0 {
			x.Evidence = make([]*exposure.Evidence, n)
			for j, ev := range row[6:] {
				if ev < 0 || ev >= len(d.w.Evidence) {
					return nil, fmt.Errorf("%s exposure %d: evidence %d of %d", level, i, ev, len(d.w.Evidence))
				}
				x.Evidence[j] = d.w.Evidence[ev]
			}
		}
		out[i] = x
	}
	return out, nil
}

func (d *decoder) rules(rs []wireRule) ([]exposure.Rule, error) {
	if rs == nil {
		return nil, nil
	}
	out := make([]exposure.Rule, len(rs))
	for i, r := range rs {
		src, err := d.set(r.Sources)
		if err != nil {
			return nil, fmt.Errorf("rule %d (%s): %w", i, r.ID, err)
		}
		out[i] = exposure.Rule{ID: r.ID, Description: r.Description, Action: r.Action, Tier: r.Tier, Priority: r.Priority,
			Protocol: r.Protocol, Ports: r.Ports, Sources: src, SourceNames: r.SourceNames}
	}
	return out, nil
}

func unitName(s exposure.Scope) string {
	n := s.Provider + " " + s.Account
	if s.Region != "" {
		n += " " + s.Region
	}
	return n
}
