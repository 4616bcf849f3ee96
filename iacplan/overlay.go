package iacplan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path"
	"sort"
	"testing/fstest"

	"github.com/portcullis-sec/portcullis/exposure"
)

// The describe-*.json files the overlay may change, and the list each
// holds (docs/providers/aws.md, "Snapshot layout").
var awsFiles = map[string]string{
	"ec2-describe-vpcs.json":                          "Vpcs",
	"ec2-describe-subnets.json":                       "Subnets",
	"ec2-describe-route-tables.json":                  "RouteTables",
	"ec2-describe-internet-gateways.json":             "InternetGateways",
	"ec2-describe-egress-only-internet-gateways.json": "EgressOnlyInternetGateways",
	"ec2-describe-nat-gateways.json":                  "NatGateways",
	"ec2-describe-network-acls.json":                  "NetworkAcls",
	"ec2-describe-security-groups.json":               "SecurityGroups",
	"ec2-describe-managed-prefix-lists.json":          "PrefixLists",
	"ec2-describe-network-interfaces.json":            "NetworkInterfaces",
	"ec2-describe-instances.json":                     "Reservations",
	"ec2-describe-addresses.json":                     "Addresses",
	"elbv2-describe-load-balancers.json":              "LoadBalancers",
	"elbv2-describe-listeners.json":                   "Listeners",
	"elbv2-describe-target-groups.json":               "TargetGroups",
	"elb-describe-load-balancers.json":                "LoadBalancerDescriptions",
}

// Options say where a plan applies when neither the plan nor the snapshot
// does.
type Options struct {
	// Account and Region place planned resources that reference nothing
	// in the snapshot (a new stack). Empty: the snapshot's only account
	// and region, else the plan's own (the Terraform provider's region, a
	// stack ARN), else PlaceholderAccount / an error for the region.
	Account, Region string
}

// PlaceholderAccount is the account of a new stack when nothing names it.
const PlaceholderAccount = "000000000000"

// Overlay is a snapshot with a plan applied: Base is the snapshot as it
// is (for a new stack, an empty one for the plan's account and region),
// Planned the snapshot as the plan would leave it.
type Overlay struct {
	Base, Planned fs.FS
	// Applied lists what was applied, NotModelled what was not (with why).
	Applied     []Applied
	NotModelled []NotModelled
	// Unknown maps IDs and addresses that stand for values unknown until
	// apply (placeholders, and the resources read widest) to a note.
	Unknown map[string]string
	// Empty is set when there was no snapshot: the plan is audited alone.
	Empty bool
}

// Applied is one planned change the overlay applied.
type Applied struct {
	Address string `json:"address"`
	Type    string `json:"type"`
	Action  Action `json:"action"`
	// Resource is the cloud ID it applied to (a placeholder for a new one).
	Resource string `json:"resource,omitempty"`
	Account  string `json:"account"`
	Region   string `json:"region"`
	// Notes say what was read widest, and anything else worth knowing.
	Notes []string `json:"notes,omitempty"`
}

// NotModelled is a planned change the overlay could not apply.
type NotModelled struct {
	Address string `json:"address"`
	Type    string `json:"type"`
	Action  Action `json:"action"`
	Reason  string `json:"reason"`
	// Network says the resource can change internet exposure: the diff
	// may then be incomplete (the CLI exits 3 when nothing fails).
	Network bool `json:"network"`
}

// region is one account-region of the snapshot, decoded where the
// overlay changes it.
type region struct {
	account, name string
	docs          map[string]map[string]any
	dirty         map[string]bool
	// base is the snapshot the per-resource files are read from (nil for
	// a new stack); tried records the ones already looked for.
	base  fs.FS
	tried map[string]bool
}

// listKey is the member holding a file's list: the top-level files' and
// the per-resource files' (target health, rules, attributes).
func listKey(file string) string {
	if k, ok := awsFiles[file]; ok {
		return k
	}
	switch path.Dir(file) {
	case "elbv2-describe-target-health":
		return "TargetHealthDescriptions"
	case "elbv2-describe-rules":
		return "Rules"
	case "elbv2-describe-target-group-attributes":
		return "Attributes"
	}
	return ""
}

func (r *region) list(file string) []any {
	d := r.docs[file]
	if d == nil && r.base != nil && !r.tried[file] {
		// Per-resource files are read when a change needs them.
		r.tried[file] = true
		if b, err := fs.ReadFile(r.base, path.Join(exposure.ProviderAWS, r.account, r.name, file)); err == nil {
			if json.Unmarshal(b, &d) == nil {
				r.docs[file] = d
			}
		}
	}
	if d == nil {
		return nil
	}
	l, _ := d[listKey(file)].([]any)
	return l
}

func (r *region) setList(file string, l []any) {
	if r.docs[file] == nil {
		r.docs[file] = map[string]any{}
	}
	if l == nil {
		l = []any{}
	}
	r.docs[file][listKey(file)] = l
	r.dirty[file] = true
}

// items returns the objects of a file's list.
func (r *region) items(file string) []map[string]any {
	var out []map[string]any
	for _, e := range r.list(file) {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// find returns the object of file whose field equals id.
func (r *region) find(file, field, id string) map[string]any {
	for _, m := range r.items(file) {
		if s, _ := m[field].(string); s == id && id != "" {
			return m
		}
	}
	return nil
}

// upsert returns id's record in file, adding a new {field: id} record
// when there is none.
func (r *region) upsert(file, field, id string) map[string]any {
	if m := r.find(file, field, id); m != nil {
		return m
	}
	m := map[string]any{field: id}
	r.add(file, m)
	return m
}

func (r *region) add(file string, m map[string]any) {
	r.setList(file, append(r.list(file), m))
}

// remove drops the objects of file whose field equals id; it reports
// whether any was.
func (r *region) remove(file, field, id string) bool {
	var keep []any
	found := false
	for _, e := range r.list(file) {
		if m, ok := e.(map[string]any); ok {
			if s, _ := m[field].(string); s == id {
				found = true
				continue
			}
		}
		keep = append(keep, e)
	}
	if found {
		r.setList(file, keep)
	}
	return found
}

// touch marks a file changed after an object in it was edited in place.
func (r *region) touch(file string) { r.dirty[file] = true; r.setList(file, r.list(file)) }

// snapshot is the decoded aws/ part of a snapshot, and the files of the
// other providers a change touched (by path, decoded as JSON).
type snapshot struct {
	base    fs.FS
	regions []*region
	other   map[string]any
}

// file returns a decoded file of another provider (read once from the
// base), and whether it exists.
func (s *snapshot) file(p string) (any, bool) {
	if v, ok := s.other[p]; ok {
		return v, true
	}
	if s.base == nil {
		return nil, false
	}
	b, err := fs.ReadFile(s.base, p)
	if err != nil {
		return nil, false
	}
	var v any
	if json.Unmarshal(b, &v) != nil {
		return nil, false
	}
	s.other[p] = v
	return v, true
}

// setFile replaces a file of another provider.
func (s *snapshot) setFile(p string, v any) { s.other[p] = v }

// hasDir says whether the base snapshot has a directory.
func (s *snapshot) hasDir(p string) bool {
	if s.base == nil {
		return false
	}
	st, err := fs.Stat(s.base, p)
	return err == nil && st.IsDir()
}

// loadSnapshot decodes the files the overlay may change, in every
// account-region of the snapshot's aws/ directory.
func loadSnapshot(base fs.FS) (*snapshot, error) {
	s := &snapshot{base: base, other: map[string]any{}}
	if base == nil {
		return s, nil
	}
	accounts, err := fs.ReadDir(base, exposure.ProviderAWS)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read snapshot aws/: %w", err)
	}
	for _, a := range accounts {
		if !a.IsDir() {
			continue
		}
		regs, err := fs.ReadDir(base, path.Join(exposure.ProviderAWS, a.Name()))
		if err != nil {
			return nil, fmt.Errorf("read snapshot aws/%s: %w", a.Name(), err)
		}
		for _, rg := range regs {
			if !rg.IsDir() {
				continue
			}
			r := &region{account: a.Name(), name: rg.Name(), docs: map[string]map[string]any{}, dirty: map[string]bool{}, base: base, tried: map[string]bool{}}
			for file := range awsFiles {
				p := path.Join(exposure.ProviderAWS, a.Name(), rg.Name(), file)
				b, err := fs.ReadFile(base, p)
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				if err != nil {
					return nil, fmt.Errorf("read snapshot %s: %w", p, err)
				}
				var doc map[string]any
				if err := json.Unmarshal(b, &doc); err != nil {
					// The audit reports a malformed file; the overlay
					// leaves it as it is and changes nothing in it.
					continue
				}
				r.docs[file] = doc
			}
			s.regions = append(s.regions, r)
		}
	}
	return s, nil
}

// region returns (creating, for a new stack) an account-region.
func (s *snapshot) region(account, name string) *region {
	for _, r := range s.regions {
		if r.account == account && r.name == name {
			return r
		}
	}
	r := &region{account: account, name: name, docs: map[string]map[string]any{}, dirty: map[string]bool{}, base: s.base, tried: map[string]bool{}}
	// Every file present and empty: a missing file means "not collected"
	// to the normalizer, which reads it widest.
	for file := range awsFiles {
		r.setList(file, nil)
	}
	s.regions = append(s.regions, r)
	return r
}

// fsys returns the snapshot with the overlay's changes: every file of the
// base, the changed ones re-encoded (and, for a new account, its
// sts-get-caller-identity.json).
func (s *snapshot) fsys() (fs.FS, error) {
	out := fstest.MapFS{}
	if s.base != nil {
		err := fs.WalkDir(s.base, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || p == "." {
				return nil
			}
			b, err := fs.ReadFile(s.base, p)
			if err != nil {
				return err
			}
			out[p] = &fstest.MapFile{Data: b, Mode: 0o644}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("copy snapshot: %w", err)
		}
	}
	for p, v := range s.other {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", p, err)
		}
		out[p] = &fstest.MapFile{Data: b, Mode: 0o644}
	}
	for _, r := range s.regions {
		id := path.Join(exposure.ProviderAWS, r.account, "sts-get-caller-identity.json")
		if _, ok := out[id]; !ok {
			b, _ := json.Marshal(map[string]string{"Account": r.account})
			out[id] = &fstest.MapFile{Data: b, Mode: 0o644}
		}
		files := make([]string, 0, len(r.dirty))
		for f := range r.dirty {
			files = append(files, f)
		}
		sort.Strings(files)
		for _, f := range files {
			b, err := json.MarshalIndent(r.docs[f], "", "  ")
			if err != nil {
				return nil, fmt.Errorf("encode %s/%s/%s: %w", r.account, r.name, f, err)
			}
			out[path.Join(exposure.ProviderAWS, r.account, r.name, f)] = &fstest.MapFile{Data: b, Mode: 0o644}
		}
	}
	return out, nil
}

// usedAddrs lists every IP address string of the snapshot's changed
// files, so that placeholders never collide with a real address.
func (s *snapshot) usedAddrs() map[string]bool {
	used := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case string:
			if a, err := netip.ParseAddr(x); err == nil {
				used[a.String()] = true
			}
		}
	}
	for _, r := range s.regions {
		for _, d := range r.docs {
			walk(d)
		}
	}
	return used
}

// placeholderIPs hands out public addresses for values unknown until
// apply: from the end of 192.0.2.0/24 (TEST-NET-1, RFC 5737), never one
// the snapshot uses.
type placeholderIPs struct {
	used map[string]bool
	next int
}

func (p *placeholderIPs) take() string {
	for p.next < 250 {
		a := fmt.Sprintf("192.0.2.%d", 254-p.next)
		p.next++
		if !p.used[a] {
			p.used[a] = true
			return a
		}
	}
	// 250 unknown addresses in one plan: reuse the last one; the rows are
	// marked either way.
	return "192.0.2.4"
}

// privateIP picks an address inside a subnet for a new interface whose
// private address is unknown: only group references use it.
func privateIP(cidr string, n int) string {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() {
		return ""
	}
	a := p.Masked().Addr()
	for i := 0; i < 4+n%200; i++ {
		a = a.Next()
	}
	if !p.Contains(a) {
		return ""
	}
	return a.String()
}
