package aws

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path"
	"sort"
	"strings"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
)

// providerName is the Scope.Provider of everything this package produces.
const providerName = "aws"

// Normalize turns the aws/ part of a snapshot into an inventory. fsys is
// rooted at the snapshot's aws/ directory and holds one directory per
// account, each with one directory per region (see docs/providers/aws.md).
//
// Bad input never stops normalization: a malformed file, an invalid CIDR or
// an out-of-range port becomes an inventory error naming the file, resource
// and field, and the rest is still normalized. The returned error is set
// only when fsys itself cannot be read.
func Normalize(fsys fs.FS) (*exposure.Inventory, error) {
	inv := &exposure.Inventory{}
	accounts, err := fs.ReadDir(fsys, ".")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return inv, nil
		}
		return nil, fmt.Errorf("read aws snapshot: %w", err)
	}
	for _, acct := range accounts {
		if !acct.IsDir() {
			continue
		}
		regions, err := fs.ReadDir(fsys, acct.Name())
		if err != nil {
			inv.Errors = append(inv.Errors, exposure.Error{
				Scope: exposure.Scope{Provider: providerName, Account: acct.Name()},
				Stage: "normalize", Resource: acct.Name(),
				Message: fmt.Sprintf("read account directory: %v", err),
			})
			continue
		}
		for _, reg := range regions {
			if !reg.IsDir() {
				continue
			}
			r := newRegion(fsys, acct.Name(), reg.Name())
			r.load()
			inv.Merge(r.build())
		}
	}
	return inv, nil
}

// region holds one account-region of a snapshot while it is normalized:
// the decoded API documents, indexes over them, and the layers built so far
// (shared between targets: the analysis caches per layer pointer).
type region struct {
	fsys    fs.FS
	dir     string
	scope   exposure.Scope
	errs    []exposure.Error
	errSeen map[exposure.Error]bool

	// files present (a missing file means "not collected", which widens
	// paths rather than closing them).
	have map[string]bool

	vpcs          []vpc
	subnets       map[string]*subnet
	routeTables   []*routeTable
	igws          map[string]*internetGateway
	natGateways   []natGateway
	acls          []*networkACL
	groups        map[string]*securityGroup
	groupOrder    []string
	prefixLists   map[string]*prefixList
	interfaces    []*networkInterface
	instances     map[string]*instance
	addresses     []address
	loadBalancers []*loadBalancer
	listeners     []*listener
	targetGroups  map[string]*targetGroup
	classicLBs    []*classicLB
	lbTags        map[string]map[string]string // target ID (ARN or classic name) -> tags

	// derived
	eniByID       map[string]*networkInterface
	eniByIP       map[string]*networkInterface
	groupMembers  map[string]*netipx.IPSet
	lbPrivateIPs  map[string][]string // LB ID (ARN suffix or classic name) -> private IPs of its ENIs
	routeLayers   map[string]*exposure.Layer
	aclIn, aclOut map[string]*exposure.Layer
	sgLayers      map[string]*exposure.Layer
	sgVariants    map[string]*exposure.Layer
	sgRefs        map[string][]sgRuleRef
	attached      map[string]bool
}

func newRegion(fsys fs.FS, account, name string) *region {
	return &region{
		fsys:  fsys,
		dir:   path.Join(account, name),
		scope: exposure.Scope{Provider: providerName, Account: account, Region: name},
		have:  map[string]bool{},
	}
}

// errorf records a normalization error about resource (a file, or a
// resource ID with the field at fault).
func (r *region) errorf(resource, format string, args ...any) {
	e := exposure.Error{
		Scope: r.scope, Stage: "normalize", Resource: resource,
		Message: fmt.Sprintf(format, args...),
	}
	// The same missing table or group is met once per interface using it;
	// report it once.
	if r.errSeen[e] {
		return
	}
	if r.errSeen == nil {
		r.errSeen = map[exposure.Error]bool{}
	}
	r.errSeen[e] = true
	r.errs = append(r.errs, e)
}

// readJSON decodes the region file name into v. It reports whether the file
// was present and well-formed; a malformed file is recorded as an error
// naming it.
func (r *region) readJSON(name string, v any) bool {
	p := path.Join(r.dir, name)
	b, err := fs.ReadFile(r.fsys, p)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			r.errorf(p, "read: %v", err)
		}
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		r.errorf(p, "decode: %s", jsonErrorDetail(b, err))
		return false
	}
	r.have[name] = true
	return true
}

// jsonErrorDetail adds the line of a syntax or type error.
func jsonErrorDetail(b []byte, err error) string {
	var off int64
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	default:
		return err.Error()
	}
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	line := 1 + bytes.Count(b[:off], []byte("\n"))
	return fmt.Sprintf("line %d: %v", line, err)
}

// load decodes every file of the region.
func (r *region) load() {
	r.loadNetwork()
	r.loadRoutes()
	r.loadACLs()
	r.loadPrefixLists()
	r.loadSecurityGroups()
	r.loadInterfaces()
	r.loadLoadBalancers()
	r.loadLoadBalancerTags()
}

// build indexes what was loaded and produces the region's inventory.
func (r *region) build() *exposure.Inventory {
	r.indexInterfaces()
	r.buildRouteLayers()
	r.buildACLLayers()
	r.buildSecurityGroupLayers()
	inv := &exposure.Inventory{}
	inv.Targets = append(inv.Targets, r.interfaceTargets()...)
	inv.Targets = append(inv.Targets, r.loadBalancerTargets()...)
	for _, id := range r.groupOrder {
		l := r.sgLayers[id]
		l.Attached = r.attached[id]
		inv.Layers = append(inv.Layers, l)
	}
	for _, a := range r.acls {
		if l := r.aclIn[a.NetworkAclId]; l != nil {
			inv.Layers = append(inv.Layers, l)
		}
	}
	inv.Errors = r.errs
	return inv
}

// tag is an EC2 tag as the API prints it.
type tag struct {
	Key   string
	Value string
}

func tagMap(tags []tag) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

func tagValue(tags []tag, key string) string {
	for _, t := range tags {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

// fileSafe turns an ARN into the per-resource file name the snapshot uses:
// its resource part (after the fifth colon) with every "/" replaced by "_".
func fileSafe(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	s := arn
	if len(parts) == 6 {
		s = parts[5]
	}
	return strings.NewReplacer("/", "_", ":", "_").Replace(s)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// fsReadDir lists the file names of a directory; a missing one is empty.
func fsReadDir(fsys fs.FS, dir string) ([]string, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// trimJSON returns a file name without its .json suffix, or "" for other
// files.
func trimJSON(name string) string {
	s, ok := strings.CutSuffix(name, ".json")
	if !ok {
		return ""
	}
	return s
}

// parseEndpoint parses a public address.
func parseEndpoint(s string) (exposure.Endpoint, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return exposure.Endpoint{}, fmt.Errorf("invalid address %q", s)
	}
	a = a.Unmap()
	return exposure.Endpoint{IP: a, IPv6: a.Is6()}, nil
}

// parseCIDR parses a CIDR as the EC2 API prints it: always with a prefix
// length (a bare address is not a valid CidrIp).
func parseCIDR(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", s)
	}
	return exposure.ParsePrefix(s)
}

// cidrSources returns the set of one CIDR.
func cidrSources(s string) (*netipx.IPSet, error) {
	p, err := parseCIDR(s)
	if err != nil {
		return nil, err
	}
	return exposure.Sources(p), nil
}
