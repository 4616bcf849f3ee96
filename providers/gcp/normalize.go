package gcp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/portcullis-sec/portcullis/exposure"
)

// project is one project's snapshot files, decoded.
type project struct {
	id              string
	networks        []*network
	subnetworks     []*subnetwork
	firewalls       []*firewall
	netPolicies     []*firewallPolicy
	hasNetPolicies  bool // network-firewall-policies.json was collected
	effective       map[string]*effectiveFirewalls
	instances       []*instance
	forwardingRules []*forwardingRule
	targetPools     []*targetPool
	targetInstances []*targetInstance
	backendServices []*backendService
	instanceGroups  []*instanceGroup
	groupMembers    []*instanceGroupMembers
	negs            []*networkEndpointGroup
	negEndpoints    []*negEndpoints
	httpProxies     []*targetProxy
	httpsProxies    []*targetProxy
	sslProxies      []*targetProxy
	tcpProxies      []*targetProxy
	urlMaps         []*urlMap
	routers         []*router
	// bad says why a file is not usable (not in snapshot, unreadable,
	// undecodable: file and line), for the unknown layers standing in for
	// what it would have held.
	bad map[string]string
}

// requiredFiles are the project files every collection writes and without
// which part of the project is unknown: the networks, the firewall rules
// and network firewall policies (and, per network, its effective
// firewalls: the hierarchical policies), the instances and forwarding
// rules that make targets. A project lacking one is partial: an error
// names the file, and nothing is inferred through what it would have held.
var requiredFiles = []string{FileNetworks, FileFirewallRules, FileNetworkFirewallPolicies, FileInstances, FileForwardingRules}

// normalizer carries one Normalize call's state.
type normalizer struct {
	fsys fs.FS
	inv  *exposure.Inventory
}

// Normalize reads a GCP snapshot (fsys rooted at the snapshot's gcp/
// directory: one directory per project) into an inventory. A file or a
// resource that cannot be read is reported in Inventory.Errors with the
// file, resource and field, and the rest is kept; Normalize fails only
// when the directory itself cannot be listed.
func Normalize(fsys fs.FS) (*exposure.Inventory, error) {
	n := &normalizer{fsys: fsys, inv: &exposure.Inventory{}}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read gcp snapshot: %w", err)
	}
	var projects []*project
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		projects = append(projects, n.loadProject(e.Name()))
	}
	sort.Slice(projects, func(i, j int) bool { return projects[i].id < projects[j].id })
	newEstate(n, projects).build()
	return n.inv, nil
}

// errorf records a normalization error for one resource.
func (n *normalizer) errorf(proj, region, resource, format string, args ...any) {
	n.inv.Errors = append(n.inv.Errors, exposure.Error{
		Scope:    exposure.Scope{Provider: Provider, Account: proj, Region: region},
		Resource: resource,
		Stage:    "normalize",
		Message:  fmt.Sprintf(format, args...),
	})
}

func (n *normalizer) loadProject(id string) *project {
	p := &project{id: id, effective: map[string]*effectiveFirewalls{}, bad: map[string]string{}}
	readList(n, p, FileNetworks, &p.networks)
	readList(n, p, FileSubnetworks, &p.subnetworks)
	readList(n, p, FileFirewallRules, &p.firewalls)
	p.hasNetPolicies = readList(n, p, FileNetworkFirewallPolicies, &p.netPolicies)
	readList(n, p, FileInstances, &p.instances)
	readList(n, p, FileForwardingRules, &p.forwardingRules)
	readList(n, p, FileTargetPools, &p.targetPools)
	readList(n, p, FileTargetInstances, &p.targetInstances)
	readList(n, p, FileBackendServices, &p.backendServices)
	readList(n, p, FileInstanceGroups, &p.instanceGroups)
	readList(n, p, FileInstanceGroupMembers, &p.groupMembers)
	readList(n, p, FileNetworkEndpointGroups, &p.negs)
	readList(n, p, FileNetworkEndpoints, &p.negEndpoints)
	readList(n, p, FileTargetHTTPProxies, &p.httpProxies)
	readList(n, p, FileTargetHTTPSProxies, &p.httpsProxies)
	readList(n, p, FileTargetSSLProxies, &p.sslProxies)
	readList(n, p, FileTargetTCPProxies, &p.tcpProxies)
	readList(n, p, FileURLMaps, &p.urlMaps)
	readList(n, p, FileRouters, &p.routers)
	for _, f := range requiredFiles {
		if _, err := fs.Stat(n.fsys, path.Join(id, f)); errors.Is(err, fs.ErrNotExist) {
			name := path.Join(id, f)
			n.errorf(id, "", name, "required file not in snapshot: what it holds is unknown and nothing is inferred through it")
			p.bad[f] = name + ": not in snapshot"
		}
	}
	dir := path.Join(id, DirEffectiveFirewalls)
	files, err := fs.ReadDir(n.fsys, dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		n.errorf(id, "", dir, "read effective firewalls: %v", err)
	}
	for _, f := range files {
		if f.IsDir() || !strings.HasSuffix(f.Name(), ".json") {
			continue
		}
		name := path.Join(dir, f.Name())
		key := path.Join(DirEffectiveFirewalls, f.Name())
		b, err := fs.ReadFile(n.fsys, name)
		if err != nil {
			n.errorf(id, "", name, "read: %v", err)
			p.bad[key] = name + ": read: " + err.Error()
			continue
		}
		var ef effectiveFirewalls
		if err := json.Unmarshal(b, &ef); err != nil {
			n.errorf(id, "", name, "decode effective firewalls: %s", jsonErr(b, err))
			p.bad[key] = name + ": decode: " + jsonErr(b, err)
			continue
		}
		p.effective[strings.TrimSuffix(f.Name(), ".json")] = &ef
	}
	return p
}

// readList decodes gcp/<project>/<file> (a JSON array) into *dst, one
// resource at a time so that one bad resource does not lose the others.
// It reports whether the file exists.
func readList[T any](n *normalizer, p *project, file string, dst *[]*T) bool {
	name := path.Join(p.id, file)
	b, err := fs.ReadFile(n.fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		n.errorf(p.id, "", name, "read: %v", err)
		p.bad[file] = name + ": read: " + err.Error()
		return true
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		n.errorf(p.id, "", name, "decode: %s (want a JSON array, as gcloud --format=json prints)", jsonErr(b, err))
		p.bad[file] = name + ": decode: " + jsonErr(b, err)
		return true
	}
	for i, r := range raw {
		v := new(T)
		if err := json.Unmarshal(r, v); err != nil {
			n.errorf(p.id, "", fmt.Sprintf("%s[%d]%s", name, i, nameOf(r)), "decode: %v", err)
			// One resource lost: for a filtering file, what it held
			// (a rule, a policy) is unknown, and so is the file.
			if p.bad[file] == "" {
				p.bad[file] = fmt.Sprintf("%s[%d]: decode: %v", name, i, err)
			}
			continue
		}
		*dst = append(*dst, v)
	}
	return true
}

// nameOf returns " <name>" when a raw resource has a readable name, for
// error messages about resources that do not decode.
func nameOf(r json.RawMessage) string {
	var v struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(r, &v) == nil && v.Name != "" {
		return " " + v.Name
	}
	return ""
}

// jsonErr adds the line and column to a JSON syntax error.
func jsonErr(b []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := 1, 1
		for _, c := range b[:min(int(se.Offset), len(b))] {
			if c == '\n' {
				line++
				col = 1
			} else {
				col++
			}
		}
		return fmt.Sprintf("line %d column %d: %v", line, col, err)
	}
	return err.Error()
}

// resourceKey reduces a compute resource URL to its path from "projects/",
// so that a full selfLink
// (https://www.googleapis.com/compute/v1/projects/p/global/networks/n), a
// partial URL (projects/p/global/networks/n) and the form with a
// different API version or host all compare equal.
func resourceKey(s string) string {
	s = strings.TrimSpace(s)
	if u, err := url.Parse(s); err == nil && u.Scheme != "" {
		s = u.Path
	}
	if i := strings.Index(s, "projects/"); i >= 0 {
		s = s[i:]
	}
	return strings.TrimSuffix(s, "/")
}

// lastSegment returns what follows the last slash of a resource URL (the
// resource name, or a zone or region name).
func lastSegment(s string) string {
	s = strings.TrimSuffix(s, "/")
	if i := strings.LastIndex(s, "/"); i >= 0 {
		return s[i+1:]
	}
	return s
}

// regionOfZone turns a zone name (europe-west1-b) into its region
// (europe-west1).
func regionOfZone(zone string) string {
	zone = lastSegment(zone)
	if i := strings.LastIndex(zone, "-"); i > 0 {
		return zone[:i]
	}
	return zone
}

// segmentAfter returns the path segment following key in a resource URL
// ("zones" in projects/p/zones/z/instances/i gives z).
func segmentAfter(s, key string) string {
	parts := strings.Split(resourceKey(s), "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == key {
			return parts[i+1]
		}
	}
	return ""
}

func itoa(i int) string { return strconv.Itoa(i) }
