package aws

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path"
	"reflect"
	"sort"
	"strings"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
)

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

	// have holds the files present and well-formed; problem says why one
	// is not (missing, unreadable, undecodable: file and line), for the
	// unknown layers that stand in for what it would have held.
	have    map[string]bool
	problem map[string]string
	unknown map[string]*exposure.Layer

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
	// gaps are the per-resource calls collection lost (fileCollectGaps),
	// by IAM action and resource.
	gaps map[string]map[string]string

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
		have:  map[string]bool{}, problem: map[string]string{}, unknown: map[string]*exposure.Layer{},
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
//
// The file is decoded as a stream (decodeStream); only when that fails is
// it read whole and decoded again, which gives the same outcome and the
// error message with its line.
func (r *region) readJSON(name string, v any) bool {
	p := path.Join(r.dir, name)
	f, err := r.fsys.Open(p)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			r.errorf(p, "read: %v", err)
			r.problem[name] = p + ": read: " + err.Error()
		}
		return false
	}
	err = decodeStream(bufio.NewReaderSize(f, 64<<10), v)
	if cerr := f.Close(); cerr != nil && err == nil {
		// Not trusted then: the whole-file read below reports its own error.
		err = cerr
	}
	if err == nil {
		r.have[name] = true
		return true
	}
	reflect.ValueOf(v).Elem().SetZero()
	b, err := fs.ReadFile(r.fsys, p)
	if err != nil {
		r.errorf(p, "read: %v", err)
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		d := jsonErrorDetail(b, err)
		r.errorf(p, "decode: %s", d)
		r.problem[name] = p + ": decode: " + d
		return false
	}
	r.have[name] = true
	return true
}

// requiredFiles are the region files every collection writes and without
// which part of the region is unknown: the filtering layers (security
// groups, NACLs, route tables), the subnets that pick a subnet's NACL and
// route table, and the targets (interfaces, load balancers and what they
// forward to). A region lacking one is partial: an error names the file,
// and nothing is inferred through what it would have held.
var requiredFiles = []string{
	fileSubnets, fileRouteTables, fileNetworkACLs, fileSecurityGroups, fileNetworkInterfaces,
	fileLoadBalancers, fileListeners, fileTargetGroups, fileClassicLBs,
}

// checkRequired records an error for every required file that is missing
// (a decode error is recorded where it is met).
func (r *region) checkRequired() {
	for _, name := range requiredFiles {
		if r.have[name] || r.problem[name] != "" {
			continue
		}
		p := path.Join(r.dir, name)
		r.errorf(p, "required file not in snapshot: what it holds is unknown and nothing is inferred through it")
		r.problem[name] = p + ": not in snapshot"
	}
}

// unknownLayer returns the one placeholder of a layer the file name should
// have held (see exposure.Layer.Unknown).
func (r *region) unknownLayer(id, kind, name string) *exposure.Layer {
	k := kind + " " + id
	if l := r.unknown[k]; l != nil {
		return l
	}
	why := r.problem[name]
	if why == "" {
		why = path.Join(r.dir, name) + ": not in snapshot"
	}
	l := exposure.UnknownLayer(r.scope, id, kind, why)
	r.unknown[k] = l
	return l
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
	r.loadGaps()
	r.loadNetwork()
	r.loadRoutes()
	r.loadACLs()
	r.loadPrefixLists()
	r.loadSecurityGroups()
	r.loadInterfaces()
	r.loadLoadBalancers()
	r.loadLoadBalancerTags()
	r.checkRequired()
}

// loadGaps reads the per-resource collection failures (optional: a
// snapshot without them lost nothing per resource).
func (r *region) loadGaps() {
	r.gaps = map[string]map[string]string{}
	var doc struct{ Gaps []collectGap }
	r.readJSON(fileCollectGaps, &doc)
	for _, g := range doc.Gaps {
		if r.gaps[g.Action] == nil {
			r.gaps[g.Action] = map[string]string{}
		}
		r.gaps[g.Action][g.Resource] = g.Message
	}
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
