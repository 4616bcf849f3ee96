package azure

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

	"github.com/portcullis-sec/portcullis/providers"
)

// descendant is one item of the Management Groups get-descendants answer.
type descendant struct{ id, kind, parent string } // kind: "group" or "subscription"

// TestCollectManagementGroups collects the enabled subscriptions below a
// management group through the descendants API, answered as ARM does
// (example GetDescendants.json of the 2023-04-01 API: groups typed
// Microsoft.Management/managementGroups, subscriptions typed
// Microsoft.Management/managementGroups/subscriptions with id
// /subscriptions/<id>, one item a page here, with nextLink):
//
//	root-mg: subscription 1111…, group platform
//	platform: subscription 2222…, 4444… (Disabled in the subscriptions list)
//	empty-mg: nothing; secret-mg: 403; elsewhere-mg: a nextLink on another host
func TestCollectManagementGroups(t *testing.T) {
	arm := newARMServer(t, "testdata/estate")
	arm.disabled = []string{"44444444-4444-4444-4444-444444444444"}
	const prefix = "/providers/Microsoft.Management/managementGroups/"
	tree := map[string][]descendant{
		"root-mg": {{"11111111-1111-1111-1111-111111111111", "subscription", "root-mg"}, {"platform", "group", "root-mg"},
			{"22222222-2222-2222-2222-222222222222", "subscription", "platform"}, {"44444444-4444-4444-4444-444444444444", "subscription", "platform"}},
		"platform": {{"22222222-2222-2222-2222-222222222222", "subscription", "platform"}, {"44444444-4444-4444-4444-444444444444", "subscription", "platform"}},
		"empty-mg": {},
	}
	var mu sync.Mutex
	var paths []string
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		rest, ok := strings.CutPrefix(r.URL.Path, prefix)
		if !ok {
			arm.serve(w, r)
			return
		}
		group, ok := strings.CutSuffix(rest, "/descendants")
		switch {
		case !ok:
			armError(w, http.StatusNotFound, "NotFound", r.URL.Path)
			return
		case r.URL.Query().Get("api-version") == "":
			armError(w, http.StatusBadRequest, "MissingApiVersionParameter", "api-version is required")
			return
		case !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer "):
			armError(w, http.StatusUnauthorized, "AuthenticationFailed", "no bearer token")
			return
		case group == "secret-mg":
			armError(w, http.StatusForbidden, "AuthorizationFailed", "The client does not have authorization to perform action 'Microsoft.Management/managementGroups/descendants/read' over scope '/providers/Microsoft.Management/managementGroups/secret-mg'")
			return
		case group == "elsewhere-mg":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"value": []any{}, "nextLink": "https://203.0.113.7" + r.URL.Path + "?api-version=2023-04-01&$skiptoken=1"})
			return
		}
		items, known := tree[group]
		if !known {
			armError(w, http.StatusNotFound, "NotFound", "management group "+group)
			return
		}
		start, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
		page := map[string]any{"value": []any{}, "nextLink": nil}
		if start < len(items) {
			d := items[start]
			v := map[string]any{"name": d.id, "type": "Microsoft.Management/managementGroups", "id": prefix + d.id,
				"properties": map[string]any{"displayName": d.id, "parent": map[string]any{"id": prefix + d.parent}}}
			if d.kind == "subscription" {
				v["type"], v["id"] = "Microsoft.Management/managementGroups/subscriptions", "/subscriptions/"+d.id
			}
			page["value"] = []any{v}
			if start+1 < len(items) {
				page["nextLink"] = srv.URL + r.URL.Path + "?api-version=" + r.URL.Query().Get("api-version") + "&$skiptoken=" + strconv.Itoa(start+1)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(page)
	}))
	t.Cleanup(srv.Close)

	tests := []struct {
		name    string
		groups  []string
		want    []string
		wantErr string
	}{
		{"group at any depth, disabled subscription left out", []string{"root-mg"},
			[]string{"11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"}, ""},
		{"child group", []string{"platform"}, []string{"22222222-2222-2222-2222-222222222222"}, ""},
		{"group and its child", []string{"platform", "root-mg"},
			[]string{"11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"}, ""},
		{"empty group", []string{"empty-mg"}, nil, "no enabled subscription below management groups empty-mg"},
		{"denied group", []string{"secret-mg"}, nil, "AuthorizationFailed"},
		{"nextLink on another host", []string{"elsewhere-mg"}, nil, "is not on 127.0.0.1"},
		{"not a group ID", []string{"a/b"}, nil, "not a management group ID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewCollector(context.Background(), Config{Endpoint: srv.URL, ManagementGroups: tc.groups, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			prog := &recordingProgress{}
			err = c.Collect(context.Background(), providers.NewSnapshot(), prog)
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
				got = append(got, strings.TrimPrefix(d, "azure "))
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("collected %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("permissions", func(t *testing.T) {
		mu.Lock()
		defer mu.Unlock()
		used := map[string]bool{}
		for _, p := range paths {
			a := rbacAction(p)
			if strings.HasPrefix(p, prefix) && strings.HasSuffix(p, "/descendants") {
				a = "Microsoft.Management/managementGroups/descendants/read"
			}
			// RBAC actions are case-insensitive, as TestPermissions treats them.
			listed := func(l []string) bool {
				return slices.ContainsFunc(l, func(x string) bool { return strings.EqualFold(x, a) })
			}
			if !listed(Permissions) && !listed(OrgPermissions) {
				t.Errorf("request %s needs %q, in neither Permissions nor OrgPermissions", p, a)
			}
			used[a] = true
		}
		for _, a := range OrgPermissions {
			if !used[a] {
				t.Errorf("OrgPermissions lists %s, never used", a)
			}
		}
	})
}
