package gcp

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeCompute is an httptest server that speaks the compute REST API (and
// Resource Manager's projects:search) from a directory in the snapshot
// layout: the same JSON documents gcloud prints serve as list items. It
// pages every list with nextPageToken, groups aggregatedList items by
// "zones/…", "regions/…" or "global" as the API does, answers errors with
// the API's error bodies, and records which IAM permission each call
// needs.
type fakeCompute struct {
	t        *testing.T
	fsys     fs.FS
	pageSize int
	projects []fakeProject
	// failures: project → permission ("*" for every compute call) → error
	failures map[string]map[string]apiFailure

	mu    sync.Mutex
	perms map[string]int
	pages map[string]int // path → pages served
}

type fakeProject struct{ id, state string }

type apiFailure struct {
	code    int
	status  string
	reason  string // errors[].reason
	info    string // ErrorInfo reason in details, if any
	message string
}

// serviceDisabled is what compute answers for a project where the API is
// not enabled.
func serviceDisabled(project string) apiFailure {
	return apiFailure{code: 403, status: "PERMISSION_DENIED", reason: "accessNotConfigured", info: "SERVICE_DISABLED",
		message: "Compute Engine API has not been used in project " + project + " before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/compute.googleapis.com/overview?project=" + project + " then retry."}
}

// permissionDenied is what compute answers when the caller lacks a
// permission.
func permissionDenied(project, perm string) apiFailure {
	return apiFailure{code: 403, reason: "forbidden",
		message: "Required '" + perm + "' permission for 'projects/" + project + "'"}
}

func newFakeCompute(t *testing.T, dir string) (*fakeCompute, *httptest.Server) {
	f := &fakeCompute{t: t, fsys: os.DirFS(dir), pageSize: 2, failures: map[string]map[string]apiFailure{},
		perms: map[string]int{}, pages: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeCompute) permissions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for p := range f.perms {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// route is one REST method of the fake.
type route struct {
	perm string
	// serve answers the call from the project's files.
	serve func(w http.ResponseWriter, r *http.Request, project string, seg []string)
}

func (f *fakeCompute) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v3/projects:search" {
		f.record("resourcemanager.projects.get", r.URL.Path)
		f.searchProjects(w, r)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/compute/v1/projects/")
	if !ok {
		f.fail(w, apiFailure{code: 404, reason: "notFound", message: "The requested URL " + r.URL.Path + " was not found."})
		return
	}
	seg := strings.Split(rest, "/")
	project, seg := seg[0], seg[1:]
	rt, ok := f.route(r.Method, seg)
	if !ok {
		f.t.Errorf("fake compute: unexpected %s %s", r.Method, r.URL.Path)
		f.fail(w, apiFailure{code: 404, reason: "notFound", message: "unknown method " + r.URL.Path})
		return
	}
	f.record(rt.perm, r.URL.Path)
	if fl, ok := f.failures[project][rt.perm]; ok {
		f.fail(w, fl)
		return
	}
	if fl, ok := f.failures[project]["*"]; ok {
		f.fail(w, fl)
		return
	}
	rt.serve(w, r, project, seg)
}

func (f *fakeCompute) record(perm, p string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.perms[perm]++
	f.pages[p]++
}

func (f *fakeCompute) route(method string, seg []string) (route, bool) {
	key := method + " " + strings.Join(shape(seg), "/")
	list := func(perm, file string, keep func(map[string]any) bool) route {
		return route{perm, func(w http.ResponseWriter, r *http.Request, p string, _ []string) {
			f.list(w, r, p, file, keep, false)
		}}
	}
	agg := func(perm, file string, keep func(map[string]any) bool) route {
		return route{perm, func(w http.ResponseWriter, r *http.Request, p string, _ []string) {
			f.list(w, r, p, file, keep, true)
		}}
	}
	regional := func(m map[string]any) bool { return m["region"] != nil }
	global := func(m map[string]any) bool { return m["region"] == nil }
	routes := map[string]route{
		"GET global/networks": list("compute.networks.list", FileNetworks, nil),
		"GET global/networks/*/getEffectiveFirewalls": {"compute.networks.getEffectiveFirewalls", func(w http.ResponseWriter, r *http.Request, p string, s []string) {
			f.object(w, path.Join(p, DirEffectiveFirewalls, s[2]+".json"))
		}},
		"GET aggregated/subnetworks": agg("compute.subnetworks.list", FileSubnetworks, nil),
		"GET global/firewalls":       list("compute.firewalls.list", FileFirewallRules, nil),
		"GET aggregated/firewallPolicies": {"compute.networkFirewallPolicies.list", func(w http.ResponseWriter, r *http.Request, p string, _ []string) {
			// The list leaves rules out, so the collector must get them.
			f.listWith(w, r, p, FileNetworkFirewallPolicies, nil, true, func(m map[string]any) { delete(m, "rules") })
		}},
		"GET global/firewallPolicies/*": {"compute.networkFirewallPolicies.get", func(w http.ResponseWriter, r *http.Request, p string, s []string) {
			f.item(w, p, FileNetworkFirewallPolicies, s[2])
		}},
		"GET regions/*/firewallPolicies/*": {"compute.regionNetworkFirewallPolicies.get", func(w http.ResponseWriter, r *http.Request, p string, s []string) {
			f.item(w, p, FileNetworkFirewallPolicies, s[3])
		}},
		"GET aggregated/instances":       agg("compute.instances.list", FileInstances, nil),
		"GET aggregated/forwardingRules": agg("compute.forwardingRules.list", FileForwardingRules, regional),
		"GET global/forwardingRules":     list("compute.globalForwardingRules.list", FileForwardingRules, global),
		"GET aggregated/targetPools":     agg("compute.targetPools.list", FileTargetPools, nil),
		"GET aggregated/targetInstances": agg("compute.targetInstances.list", FileTargetInstances, nil),
		"GET aggregated/backendServices": agg("compute.backendServices.list", FileBackendServices, nil),
		"GET aggregated/instanceGroups":  agg("compute.instanceGroups.list", FileInstanceGroups, nil),
		"POST zones/*/instanceGroups/*/listInstances": {"compute.instanceGroups.list", func(w http.ResponseWriter, r *http.Request, p string, s []string) {
			f.members(w, r, p, s[3])
		}},
		"POST regions/*/instanceGroups/*/listInstances": {"compute.instanceGroups.list", func(w http.ResponseWriter, r *http.Request, p string, s []string) {
			f.members(w, r, p, s[3])
		}},
		"GET aggregated/networkEndpointGroups": agg("compute.networkEndpointGroups.list", FileNetworkEndpointGroups, nil),
		"POST zones/*/networkEndpointGroups/*/listNetworkEndpoints": {"compute.networkEndpointGroups.list", func(w http.ResponseWriter, r *http.Request, p string, s []string) {
			f.endpoints(w, r, p, s[3])
		}},
		"GET aggregated/targetHttpProxies":  agg("compute.targetHttpProxies.list", FileTargetHTTPProxies, nil),
		"GET aggregated/targetHttpsProxies": agg("compute.targetHttpsProxies.list", FileTargetHTTPSProxies, nil),
		"GET global/targetSslProxies":       list("compute.targetSslProxies.list", FileTargetSSLProxies, nil),
		"GET aggregated/targetTcpProxies":   agg("compute.targetTcpProxies.list", FileTargetTCPProxies, nil),
		"GET aggregated/urlMaps":            agg("compute.urlMaps.list", FileURLMaps, nil),
		"GET aggregated/routers":            agg("compute.routers.list", FileRouters, nil),
	}
	rt, ok := routes[key]
	return rt, ok
}

// shape replaces the variable segments of a compute path with "*".
func shape(seg []string) []string {
	out := append([]string(nil), seg...)
	for i := range out {
		if i > 0 && (out[i-1] == "zones" || out[i-1] == "regions" || out[i-1] == "networks" ||
			out[i-1] == "instanceGroups" || out[i-1] == "firewallPolicies" || out[i-1] == "networkEndpointGroups") {
			out[i] = "*"
		}
	}
	return out
}

func (f *fakeCompute) readArray(p, file string) []map[string]any {
	b, err := fs.ReadFile(f.fsys, path.Join(p, file))
	if err != nil {
		return nil
	}
	var items []map[string]any
	if err := json.Unmarshal(b, &items); err != nil {
		f.t.Fatalf("fake compute: %s/%s: %v", p, file, err)
	}
	return items
}

func (f *fakeCompute) list(w http.ResponseWriter, r *http.Request, p, file string, keep func(map[string]any) bool, aggregated bool) {
	f.listWith(w, r, p, file, keep, aggregated, nil)
}

// listWith serves one page of a list: `items` (an array, or for
// aggregatedList an object keyed by scope) and `nextPageToken` while more
// remain.
func (f *fakeCompute) listWith(w http.ResponseWriter, r *http.Request, p, file string, keep func(map[string]any) bool, aggregated bool, edit func(map[string]any)) {
	var items []map[string]any
	for _, it := range f.readArray(p, file) {
		if keep == nil || keep(it) {
			if edit != nil {
				edit(it)
			}
			items = append(items, it)
		}
	}
	start := 0
	if tok := r.URL.Query().Get("pageToken"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n > len(items) {
			f.fail(w, apiFailure{code: 400, reason: "invalid", message: "Invalid value for field 'pageToken': '" + tok + "'."})
			return
		}
		start = n
	}
	end := min(start+f.pageSize, len(items))
	page := items[start:end]
	resp := map[string]any{"kind": "compute#list", "id": "projects/" + p, "selfLink": "https://www.googleapis.com/compute/v1" + r.URL.Path}
	if aggregated {
		scoped := map[string]any{}
		for _, it := range page {
			k := scopeKey(it)
			field := scopedField(file)
			m, _ := scoped[k].(map[string]any)
			if m == nil {
				m = map[string]any{}
				scoped[k] = m
			}
			l, _ := m[field].([]map[string]any)
			m[field] = append(l, it)
		}
		resp["items"] = scoped
	} else {
		resp["items"] = page
	}
	if end < len(items) {
		resp["nextPageToken"] = strconv.Itoa(end)
	}
	writeJSON(w, resp)
}

// scopedField is the field of a scoped list that holds the items
// ("instances" in InstancesScopedList…).
func scopedField(file string) string {
	switch file {
	case FileSubnetworks:
		return "subnetworks"
	case FileNetworkFirewallPolicies:
		return "firewallPolicies"
	case FileInstances:
		return "instances"
	case FileForwardingRules:
		return "forwardingRules"
	case FileTargetPools:
		return "targetPools"
	case FileTargetInstances:
		return "targetInstances"
	case FileBackendServices:
		return "backendServices"
	case FileInstanceGroups:
		return "instanceGroups"
	case FileNetworkEndpointGroups:
		return "networkEndpointGroups"
	case FileTargetHTTPProxies:
		return "targetHttpProxies"
	case FileTargetHTTPSProxies:
		return "targetHttpsProxies"
	case FileTargetTCPProxies:
		return "targetTcpProxies"
	case FileURLMaps:
		return "urlMaps"
	case FileRouters:
		return "routers"
	}
	panic("no scoped field for " + file)
}

func scopeKey(it map[string]any) string {
	if z, ok := it["zone"].(string); ok {
		return "zones/" + lastSegment(z)
	}
	if r, ok := it["region"].(string); ok {
		return "regions/" + lastSegment(r)
	}
	return "global"
}

func (f *fakeCompute) object(w http.ResponseWriter, file string) {
	b, err := fs.ReadFile(f.fsys, file)
	if err != nil {
		f.fail(w, apiFailure{code: 404, reason: "notFound", message: "The resource '" + file + "' was not found"})
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Write(b)
}

func (f *fakeCompute) item(w http.ResponseWriter, p, file, name string) {
	for _, it := range f.readArray(p, file) {
		if it["name"] == name {
			writeJSON(w, it)
			return
		}
	}
	f.fail(w, apiFailure{code: 404, reason: "notFound", message: "The resource 'projects/" + p + "/" + name + "' was not found"})
}

// members serves instanceGroups.listInstances, paged.
func (f *fakeCompute) members(w http.ResponseWriter, r *http.Request, p, group string) {
	var body struct {
		InstanceState string `json:"instanceState"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		f.fail(w, apiFailure{code: 400, reason: "parseError", message: "body: " + err.Error()})
		return
	}
	var docs []struct {
		InstanceGroup string           `json:"instanceGroup"`
		Instances     []map[string]any `json:"instances"`
	}
	b, _ := fs.ReadFile(f.fsys, path.Join(p, FileInstanceGroupMembers))
	_ = json.Unmarshal(b, &docs)
	for _, d := range docs {
		if lastSegment(d.InstanceGroup) != group {
			continue
		}
		start := 0
		if tok := r.URL.Query().Get("pageToken"); tok != "" {
			start, _ = strconv.Atoi(tok)
		}
		end := min(start+f.pageSize, len(d.Instances))
		resp := map[string]any{"kind": "compute#instanceGroupsListInstances", "items": d.Instances[start:end]}
		if end < len(d.Instances) {
			resp["nextPageToken"] = strconv.Itoa(end)
		}
		writeJSON(w, resp)
		return
	}
	f.fail(w, apiFailure{code: 404, reason: "notFound", message: "The resource 'projects/" + p + "/instanceGroups/" + group + "' was not found"})
}

// endpoints serves networkEndpointGroups.listNetworkEndpoints, paged.
func (f *fakeCompute) endpoints(w http.ResponseWriter, r *http.Request, p, neg string) {
	var body struct {
		HealthStatus string `json:"healthStatus"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		f.fail(w, apiFailure{code: 400, reason: "parseError", message: "body: " + err.Error()})
		return
	}
	var docs []struct {
		NetworkEndpointGroup string           `json:"networkEndpointGroup"`
		Endpoints            []map[string]any `json:"endpoints"`
	}
	b, _ := fs.ReadFile(f.fsys, path.Join(p, FileNetworkEndpoints))
	_ = json.Unmarshal(b, &docs)
	for _, d := range docs {
		if lastSegment(d.NetworkEndpointGroup) != neg {
			continue
		}
		start := 0
		if tok := r.URL.Query().Get("pageToken"); tok != "" {
			start, _ = strconv.Atoi(tok)
		}
		end := min(start+f.pageSize, len(d.Endpoints))
		resp := map[string]any{"kind": "compute#networkEndpointGroupsListNetworkEndpoints", "items": d.Endpoints[start:end]}
		if end < len(d.Endpoints) {
			resp["nextPageToken"] = strconv.Itoa(end)
		}
		writeJSON(w, resp)
		return
	}
	f.fail(w, apiFailure{code: 404, reason: "notFound", message: "The resource 'projects/" + p + "/networkEndpointGroups/" + neg + "' was not found"})
}

func (f *fakeCompute) searchProjects(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("query")
	var out []map[string]any
	for _, p := range f.projects {
		if q == "state:ACTIVE" && p.state != "ACTIVE" {
			continue
		}
		out = append(out, map[string]any{"name": "projects/1000" + strconv.Itoa(len(out)), "projectId": p.id, "state": p.state, "displayName": p.id})
	}
	writeJSON(w, map[string]any{"projects": out})
}

// fail writes the error body the Google APIs use.
func (f *fakeCompute) fail(w http.ResponseWriter, fl apiFailure) {
	e := map[string]any{"code": fl.code, "message": fl.message,
		"errors": []map[string]any{{"message": fl.message, "domain": "global", "reason": fl.reason}}}
	if fl.status != "" {
		e["status"] = fl.status
	}
	if fl.info != "" {
		e["details"] = []map[string]any{{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": fl.info,
			"domain": "googleapis.com", "metadata": map[string]string{"service": "compute.googleapis.com"}}}
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(fl.code)
	json.NewEncoder(w).Encode(map[string]any{"error": e})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		panic(fmt.Sprintf("encode: %v", err))
	}
}
