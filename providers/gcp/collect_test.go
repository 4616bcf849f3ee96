package gcp

import (
	"context"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/providers"
)

const estateDir = "testdata/estate"

type recordProgress struct {
	mu    sync.Mutex
	added int
	done  []string
}

func (p *recordProgress) Add(n int) { p.mu.Lock(); p.added += n; p.mu.Unlock() }
func (p *recordProgress) Done(w string) {
	p.mu.Lock()
	p.done = append(p.done, w)
	p.mu.Unlock()
}

// collectEstate runs the real compute REST clients against the fake
// server serving testdata/estate, with project discovery through
// Resource Manager, one project whose compute API is disabled and one
// where the routers list is forbidden.
func collectEstate(t *testing.T) (*providers.Snapshot, *fakeCompute, *recordProgress) {
	t.Helper()
	f, srv := newFakeCompute(t, estateDir)
	f.projects = []fakeProject{{"acme-prod", "ACTIVE"}, {"acme-dev", "ACTIVE"}, {"acme-blocked", "ACTIVE"}, {"acme-old", "DELETE_REQUESTED"}}
	f.failures["acme-blocked"] = map[string]apiFailure{"*": serviceDisabled("acme-blocked")}
	f.failures["acme-dev"] = map[string]apiFailure{"compute.routers.list": permissionDenied("acme-dev", "compute.routers.list")}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := NewCollector(ctx, Config{Endpoint: srv.URL, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer c.(*Collector).Close()
	snap := providers.NewSnapshot()
	prog := &recordProgress{}
	if err := c.Collect(ctx, snap, prog); err != nil {
		t.Fatalf("collect: %v", err)
	}
	return snap, f, prog
}

func normalizeSnapshot(t *testing.T, snap *providers.Snapshot) *exposure.Inventory {
	t.Helper()
	sub, err := fs.Sub(snap.FS(), Provider)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := Normalize(sub)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range inv.Errors {
		t.Errorf("normalize error: %v", e)
	}
	return inv
}

// line renders an exposure compactly: target, endpoint, protocol/ports,
// sources ("any" for the whole public internet of the family) and the
// backend a forward delivers to.
func line(e *exposure.Exposure) string {
	s := e.Target.Name
	if e.Level == exposure.Latent {
		s = e.Target.ID
	} else {
		s += " " + e.Endpoint.String()
	}
	s += " " + e.Protocol.String() + "/" + e.Ports.String() + " " + sourcesString(e.Sources)
	if e.Backend != nil {
		s += " -> " + e.Backend.Name + ":" + e.Backend.Ports.String()
	}
	return s
}

func sourcesString(s *netipx.IPSet) string {
	if exposure.SourceBreadth(s) == exposure.BreadthAnyone {
		return "any"
	}
	return strings.Join(exposure.Addrs(s), ",")
}

func lines(es []*exposure.Exposure) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, line(e))
	}
	sort.Strings(out)
	return out
}

func TestCollectAgainstFakeCompute(t *testing.T) {
	snap, f, prog := collectEstate(t)

	t.Run("per-project errors", func(t *testing.T) {
		errs := snap.Errors()
		var got []string
		for _, e := range errs {
			got = append(got, e.Provider+" "+e.Account+" "+e.Resource)
		}
		sort.Strings(got)
		want := []string{"gcp acme-blocked compute.networks.list", "gcp acme-dev compute.routers.list"}
		if !slices.Equal(got, want) {
			t.Fatalf("errors = %q, want %q", got, want)
		}
		for _, e := range errs {
			switch e.Account {
			case "acme-blocked":
				if !strings.Contains(e.Message, "http 403") || !strings.Contains(e.Message, "SERVICE_DISABLED") || !strings.Contains(e.Message, "has not been used") {
					t.Errorf("blocked project message = %q", e.Message)
				}
			case "acme-dev":
				if !strings.Contains(e.Message, "http 403") || !strings.Contains(e.Message, "Required 'compute.routers.list' permission") {
					t.Errorf("forbidden message = %q", e.Message)
				}
			}
			if e.Stage != "collect" {
				t.Errorf("stage = %q", e.Stage)
			}
		}
	})

	t.Run("files", func(t *testing.T) {
		names := snap.Names()
		for _, want := range []string{"gcp/acme-prod/firewall-rules.json", "gcp/acme-prod/effective-firewalls/prod-vpc.json",
			"gcp/acme-prod/instance-group-members.json", "gcp/acme-dev/instances.json"} {
			if !slices.Contains(names, want) {
				t.Errorf("snapshot lacks %s (has %v)", want, names)
			}
		}
		for _, n := range names {
			if strings.HasPrefix(n, "gcp/acme-blocked/") || strings.HasPrefix(n, "gcp/acme-old/") {
				t.Errorf("snapshot has %s", n)
			}
			if n == "gcp/acme-dev/routers.json" {
				t.Errorf("snapshot has %s although the call failed", n)
			}
		}
	})

	t.Run("paging", func(t *testing.T) {
		f.mu.Lock()
		defer f.mu.Unlock()
		// 12 instances and 20 firewall rules at 2 a page.
		if n := f.pages["/compute/v1/projects/acme-prod/aggregated/instances"]; n != 6 {
			t.Errorf("instances pages = %d, want 6", n)
		}
		if n := f.pages["/compute/v1/projects/acme-prod/global/firewalls"]; n != 10 {
			t.Errorf("firewalls pages = %d, want 10", n)
		}
		if n := f.pages["/compute/v1/projects/acme-prod/regions/europe-west1/firewallPolicies/prod-regional-policy"]; n != 1 {
			t.Errorf("regional policy get = %d, want 1", n)
		}
	})

	t.Run("permissions", func(t *testing.T) {
		got := f.permissions()
		want := append([]string(nil), Permissions...)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("calls needed %q\nPermissions lists %q", got, want)
		}
	})

	t.Run("progress", func(t *testing.T) {
		if prog.added != 3 || len(prog.done) != 3 {
			t.Errorf("progress added %d, done %v", prog.added, prog.done)
		}
	})

	t.Run("same inventory as the fixture", func(t *testing.T) {
		direct, err := Normalize(os.DirFS(estateDir))
		if err != nil {
			t.Fatal(err)
		}
		a, b := exposure.Analyze(direct), exposure.Analyze(normalizeSnapshot(t, snap))
		if !slices.Equal(lines(a.Effective), lines(b.Effective)) || !slices.Equal(lines(a.Latent), lines(b.Latent)) {
			t.Errorf("collected snapshot differs from the fixture:\n%s", diffLines(append(lines(a.Effective), lines(a.Latent)...), append(lines(b.Effective), lines(b.Latent)...)))
		}
	})
}

// diffLines lists what only one side has.
func diffLines(want, got []string) string {
	var out []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			out = append(out, "- "+w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			out = append(out, "+ "+g)
		}
	}
	return strings.Join(out, "\n")
}

func TestCollectCancelled(t *testing.T) {
	_, srv := newFakeCompute(t, estateDir)
	ctx, cancel := context.WithCancel(context.Background())
	c, err := NewCollector(ctx, Config{Endpoint: srv.URL, Projects: []string{"acme-prod"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.(*Collector).Close()
	cancel()
	if err := c.Collect(ctx, providers.NewSnapshot(), nil); err == nil {
		t.Fatal("Collect with a cancelled context succeeded")
	}
}

func TestNewCollectorWithoutCredentials(t *testing.T) {
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", t.TempDir()+"/missing.json")
	_, err := NewCollector(context.Background(), Config{Projects: []string{"p"}})
	if err == nil || !strings.Contains(err.Error(), "create gcp") {
		t.Fatalf("err = %v, want a client creation error", err)
	}
}
