package gcp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis-sec/portcullis/providers"
)

// fakeHierarchy answers Resource Manager v3 projects.list and folders.list
// as the REST API does: only a parent's direct children, paged with
// nextPageToken, DELETE_REQUESTED resources only with showDeleted=true,
// enums as numbers when the client asks $alt=json;enum-encoding=int (the
// Go client always does), and PERMISSION_DENIED for a parent the caller
// cannot see. Everything else goes to the compute fake.
type fakeHierarchy struct {
	next     http.Handler
	projects map[string][]hierarchyItem // parent → projects
	folders  map[string][]hierarchyItem // parent → folders
	denied   map[string]bool

	mu    sync.Mutex
	perms map[string]int
}

type hierarchyItem struct {
	id    string // project ID or folder number
	state int    // 1 ACTIVE, 2 DELETE_REQUESTED
}

var stateNames = map[int]string{1: "ACTIVE", 2: "DELETE_REQUESTED"}

func (h *fakeHierarchy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var items []hierarchyItem
	perm := ""
	switch r.URL.Path {
	case "/v3/projects":
		perm = "resourcemanager.projects.list"
		items = h.projects[r.URL.Query().Get("parent")]
	case "/v3/folders":
		perm = "resourcemanager.folders.list"
		items = h.folders[r.URL.Query().Get("parent")]
	default:
		h.next.ServeHTTP(w, r)
		return
	}
	h.mu.Lock()
	h.perms[perm]++
	h.mu.Unlock()
	q := r.URL.Query()
	parent := q.Get("parent")
	if parent == "" {
		writeError(w, 400, "INVALID_ARGUMENT", "Request contains an invalid argument.")
		return
	}
	if h.denied[parent] {
		writeError(w, 403, "PERMISSION_DENIED", "The caller does not have permission")
		return
	}
	ints := strings.Contains(q.Get("$alt"), "enum-encoding=int")
	var out []map[string]any
	for i, it := range items {
		if it.state != 1 && q.Get("showDeleted") != "true" {
			continue
		}
		var state any = stateNames[it.state]
		if ints {
			state = it.state
		}
		m := map[string]any{"parent": parent, "state": state, "displayName": it.id, "etag": `W/"` + strconv.Itoa(i) + `"`}
		if r.URL.Path == "/v3/projects" {
			m["name"], m["projectId"] = "projects/4151040412"+strconv.Itoa(i), it.id
		} else {
			m["name"] = "folders/" + it.id
		}
		out = append(out, m)
	}
	// One item a page, so every list is paged.
	start := 0
	if tok := q.Get("pageToken"); tok != "" {
		start, _ = strconv.Atoi(tok)
	}
	key := map[string]string{"/v3/projects": "projects", "/v3/folders": "folders"}[r.URL.Path]
	resp := map[string]any{key: []map[string]any{}}
	if start < len(out) {
		resp[key] = out[start : start+1]
		if start+1 < len(out) {
			resp["nextPageToken"] = strconv.Itoa(start + 1)
		}
	}
	writeJSON(w, resp)
}

func writeError(w http.ResponseWriter, code int, status, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg, "status": status}})
}

// TestCollectUnderOrganization collects every ACTIVE project under an
// organization or folder through projects.list and folders.list:
//
//	organizations/1: acme-prod, folder 10, folder 12 (being deleted)
//	folders/10: acme-dev, acme-old (being deleted), folder 11
//	folders/11: acme-blocked
//	folders/12: acme-ghost
//	folders/99: not visible to the caller
func TestCollectUnderOrganization(t *testing.T) {
	f, _ := newFakeCompute(t, estateDir)
	f.failures["acme-blocked"] = map[string]apiFailure{"*": serviceDisabled("acme-blocked")}
	h := &fakeHierarchy{next: f, perms: map[string]int{}, denied: map[string]bool{"folders/99": true},
		projects: map[string][]hierarchyItem{
			"organizations/1": {{"acme-prod", 1}}, "folders/10": {{"acme-dev", 1}, {"acme-old", 2}},
			"folders/11": {{"acme-blocked", 1}}, "folders/12": {{"acme-ghost", 1}},
		},
		folders: map[string][]hierarchyItem{"organizations/1": {{"10", 1}, {"12", 2}}, "folders/10": {{"11", 1}}},
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	tests := []struct {
		name    string
		parents []string
		want    []string // projects collected
		wantErr string
	}{
		{"organization", []string{"organizations/1"}, []string{"acme-blocked", "acme-dev", "acme-prod"}, ""},
		{"folder at any depth", []string{"folders/10"}, []string{"acme-blocked", "acme-dev"}, ""},
		{"nested folder and its parent", []string{"folders/11", "folders/10"}, []string{"acme-blocked", "acme-dev"}, ""},
		{"folder the caller cannot see", []string{"folders/99"}, nil, "list projects of folders/99"},
		{"leaf folder", []string{"folders/11"}, []string{"acme-blocked"}, ""},
		{"not a parent", []string{"acme-prod"}, nil, "not organizations/<number> or folders/<number>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := NewCollector(ctx, Config{Endpoint: srv.URL, Parents: tc.parents})
			if err != nil {
				t.Fatal(err)
			}
			defer c.(*Collector).Close()
			prog := &recordProgress{}
			err = c.Collect(ctx, providers.NewSnapshot(), prog)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Collect: %v, want an error saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range prog.done {
				got = append(got, strings.TrimPrefix(d, Provider+" "))
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("collected %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("permissions", func(t *testing.T) {
		h.mu.Lock()
		defer h.mu.Unlock()
		var got []string
		for p := range h.perms {
			got = append(got, p)
		}
		slices.Sort(got)
		if !slices.Equal(got, OrgPermissions) {
			t.Errorf("resource manager calls need %v, OrgPermissions lists %v", got, OrgPermissions)
		}
	})
}
