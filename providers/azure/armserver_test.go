package azure

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// armServer serves a snapshot directory (testdata/estate) as the ARM REST
// API does: subscription-wide list calls answered page by page with
// nextLink, rule collection groups per firewall policy, service tags per
// location, and the subscriptions list. Selected (subscription, API) pairs
// answer 403 AuthorizationFailed.
type armServer struct {
	*httptest.Server
	fsys     fs.FS
	pageSize int
	deny     map[string]bool // "<sub>/<collection>" (lower case) → 403
	disabled []string        // extra subscriptions listed as Disabled

	mu       sync.Mutex
	requests []string // request paths, in order
}

// armFiles maps a Microsoft.Network collection (lower case) to its file.
var armFiles = map[string]string{
	"networksecuritygroups":     fileNSGs,
	"virtualnetworks":           fileVNets,
	"networkinterfaces":         fileNICs,
	"publicipaddresses":         filePublicIPs,
	"loadbalancers":             fileLoadBalancers,
	"natgateways":               fileNATGateways,
	"applicationsecuritygroups": fileASGs,
	"routetables":               fileRouteTables,
	"azurefirewalls":            fileFirewalls,
	"firewallpolicies":          fileFirewallPolicies,
	"ipgroups":                  fileIPGroups,
	"applicationgateways":       fileAppGateways,
}

func newARMServer(t *testing.T, dir string) *armServer {
	t.Helper()
	s := &armServer{fsys: os.DirFS(dir), pageSize: 2, deny: map[string]bool{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *armServer) paths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

func armError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-ms-error-code", code)
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"code":%q,"message":%q}}`, code, msg)
}

func (s *armServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.URL.Path)
	s.mu.Unlock()
	if r.Method != http.MethodGet {
		armError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		armError(w, http.StatusUnauthorized, "AuthenticationFailed", "no bearer token")
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		armError(w, http.StatusBadRequest, "MissingApiVersionParameter", "api-version is required")
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 1 && parts[0] == "subscriptions":
		s.subscriptions(w)
	case len(parts) == 5 && strings.EqualFold(parts[3], "Microsoft.Network"):
		sub, coll := parts[1], strings.ToLower(parts[4])
		file, ok := armFiles[coll]
		if !ok {
			armError(w, http.StatusNotFound, "InvalidResourceType", coll)
			return
		}
		if s.deny[sub+"/"+coll] {
			armError(w, http.StatusForbidden, "AuthorizationFailed", "The client does not have authorization to perform action 'Microsoft.Network/"+parts[4]+"/read'")
			return
		}
		s.list(w, r, path.Join(sub, file))
	case len(parts) == 7 && strings.EqualFold(parts[4], "locations") && strings.EqualFold(parts[6], "serviceTags"):
		b, err := fs.ReadFile(s.fsys, path.Join(parts[1], fileServiceTags))
		if err != nil {
			b = []byte(`{"name":"Public","type":"Microsoft.Network/serviceTags","changeNumber":"1","cloud":"Public","values":[]}`)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	case len(parts) == 5 && strings.EqualFold(parts[3], "Microsoft.Compute") && strings.EqualFold(parts[4], "virtualMachineScaleSets"):
		if s.deny[parts[1]+"/virtualmachinescalesets"] {
			armError(w, http.StatusForbidden, "AuthorizationFailed", "The client does not have authorization to perform action 'Microsoft.Compute/virtualMachineScaleSets/read'")
			return
		}
		s.list(w, r, path.Join(parts[1], fileScaleSets))
	case len(parts) == 9 && strings.EqualFold(parts[6], "virtualMachineScaleSets"):
		dir := map[string]string{"networkinterfaces": dirScaleSetNICs, "publicipaddresses": dirScaleSetPublics}[strings.ToLower(parts[8])]
		if dir == "" {
			armError(w, http.StatusNotFound, "NotFound", r.URL.Path)
			return
		}
		s.list(w, r, path.Join(parts[1], dir, scaleSetFile(scaleSetRef{parts[3], parts[7]})))
	case len(parts) == 9 && strings.EqualFold(parts[6], "firewallPolicies") && strings.EqualFold(parts[8], "ruleCollectionGroups"):
		s.list(w, r, path.Join(parts[1], dirRuleCollectionGroups, rcgFileName(parts[3], parts[7])))
	default:
		armError(w, http.StatusNotFound, "NotFound", r.URL.Path)
	}
}

func (s *armServer) subscriptions(w http.ResponseWriter) {
	type sub struct {
		ID             string `json:"id"`
		SubscriptionID string `json:"subscriptionId"`
		DisplayName    string `json:"displayName"`
		State          string `json:"state"`
	}
	var subs []sub
	entries, _ := fs.ReadDir(s.fsys, ".")
	for _, e := range entries {
		if e.IsDir() {
			subs = append(subs, sub{"/subscriptions/" + e.Name(), e.Name(), "test " + e.Name()[:4], "Enabled"})
		}
	}
	for _, d := range s.disabled {
		subs = append(subs, sub{"/subscriptions/" + d, d, "disabled", "Disabled"})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"value": subs})
}

// list answers one page of a {"value":[…]} file; $skiptoken is the offset.
func (s *armServer) list(w http.ResponseWriter, r *http.Request, name string) {
	var doc listDocument
	if b, err := fs.ReadFile(s.fsys, name); err == nil {
		if err := json.Unmarshal(b, &doc); err != nil {
			armError(w, http.StatusInternalServerError, "InternalServerError", err.Error())
			return
		}
	}
	off, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
	end := min(off+s.pageSize, len(doc.Value))
	page := map[string]any{"value": doc.Value[min(off, end):end]}
	if end < len(doc.Value) {
		q := r.URL.Query()
		q.Set("$skiptoken", strconv.Itoa(end))
		page["nextLink"] = s.URL + r.URL.Path + "?" + q.Encode()
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(page)
}
