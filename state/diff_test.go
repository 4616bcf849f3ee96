package state

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

var t0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func pr(from, to uint16) exposure.PortRange { return exposure.PortRange{From: from, To: to} }

// segs renders segments as "22-23:198.51.100.0/24,203.0.113.0/24 ..." for
// comparison.
func segs(ss []Segment) string {
	var parts []string
	for _, s := range ss {
		var src []string
		for _, p := range s.Sources {
			src = append(src, p.String())
		}
		parts = append(parts, s.Ports.String()+":"+strings.Join(src, ","))
	}
	return strings.Join(parts, " ")
}

func changeOf(t *testing.T, changes []Change, k exposure.Key) *Change {
	t.Helper()
	var found *Change
	for i := range changes {
		if changes[i].Key == k {
			if found != nil {
				t.Fatalf("two changes for %s", k)
			}
			found = &changes[i]
		}
	}
	return found
}

// TestDiffLifecycle walks one exposure through consecutive runs.
func TestDiffLifecycle(t *testing.T) {
	x := func(ports exposure.PortRange, probe exposure.ProbeState, sources ...string) []Observed {
		o := observed(scopeA, "i-web", exposure.Effective, ports, sources...)
		o.Probe = probe
		return []Observed{o}
	}
	key := x(pr(22, 22), "", "0.0.0.0/0")[0].Key
	steps := []struct {
		name       string
		obs        []Observed
		incomplete bool
		kind       ChangeKind
		segments   string // the entry's segments after the run
		added      string
		removed    string
		active     bool
		confirmed  bool
	}{
		{"open", x(pr(22, 22), "", "203.0.113.0/24"), false, New, "22:203.0.113.0/24", "22:203.0.113.0/24", "", true, false},
		{"unchanged", x(pr(22, 22), "", "203.0.113.0/24"), false, Unchanged, "22:203.0.113.0/24", "", "", true, false},
		{"widened ports", x(pr(22, 23), "", "203.0.113.0/24"), false, Widened, "22-23:203.0.113.0/24", "23:203.0.113.0/24", "", true, false},
		{"widened sources only", x(pr(22, 23), "", "0.0.0.0/0"), false, Widened, "22-23:0.0.0.0/0",
			// The public internet less 203.0.113.0/24, which was admitted
			// already: checked exactly by TestDiffSourcesOnlyWidening.
			"*",
			"", true, false},
		{"narrowed", x(pr(22, 22), "", "0.0.0.0/0"), false, Narrowed, "22:0.0.0.0/0", "", "23:0.0.0.0/0", true, false},
		{"incomplete run misses it", nil, true, Unverified, "22:0.0.0.0/0", "", "", true, false},
		{"incomplete run sees less", x(pr(22, 22), "", "203.0.113.0/24"), true, Unchanged, "22:0.0.0.0/0", "", "", true, false},
		{"incomplete run sees more", x(pr(22, 24), "", "203.0.113.0/24"), true, Widened, "22:0.0.0.0/0 23-24:203.0.113.0/24", "23-24:203.0.113.0/24", "", true, false},
		{"narrowed back", x(pr(22, 22), "", "0.0.0.0/0"), false, Narrowed, "22:0.0.0.0/0", "", "23-24:203.0.113.0/24", true, false},
		{"resolved", nil, false, Resolved, "22:0.0.0.0/0", "", "22:0.0.0.0/0", false, false},
		{"still resolved", nil, false, "", "22:0.0.0.0/0", "", "", false, false},
		{"reopened", x(pr(22, 22), "", "0.0.0.0/0"), false, Reopened, "22:0.0.0.0/0", "22:0.0.0.0/0", "", true, false},
		{"confirmed", x(pr(22, 22), exposure.ProbeOpen, "0.0.0.0/0"), false, Confirmed, "22:0.0.0.0/0", "", "", true, true},
		{"not probed keeps confirmation", x(pr(22, 22), "", "0.0.0.0/0"), false, Unchanged, "22:0.0.0.0/0", "", "", true, true},
		{"probe sees it closed", x(pr(22, 22), exposure.ProbeClosed, "0.0.0.0/0"), false, Unchanged, "22:0.0.0.0/0", "", "", true, false},
		{"confirmed again", x(pr(22, 22), exposure.ProbeOpen, "0.0.0.0/0"), false, Confirmed, "22:0.0.0.0/0", "", "", true, true},
	}
	var b *Baseline
	for i, st := range steps {
		now := t0.Add(time.Duration(i) * time.Hour)
		t.Run(st.name, func(t *testing.T) {
			before, _ := b.encodeOrNil()
			next, changes := Diff(b, &Run{Scope: scopeA, RunID: fmt.Sprint("run-", i), Exposures: st.obs, Incomplete: st.incomplete}, now)
			if after, _ := b.encodeOrNil(); string(before) != string(after) {
				t.Fatal("Diff modified the previous baseline")
			}
			if err := next.Validate(); err != nil {
				t.Fatalf("next baseline invalid: %v", err)
			}
			c := changeOf(t, changes, key)
			if st.kind == "" {
				if c != nil {
					t.Fatalf("change %s for an entry that stays resolved", c.Kind)
				}
			} else {
				if c == nil {
					t.Fatalf("no change, want %s", st.kind)
				}
				if c.Kind != st.kind {
					t.Fatalf("kind %s, want %s", c.Kind, st.kind)
				}
				if got := segs(c.Added); got != st.added && st.added != "*" {
					t.Errorf("added %q, want %q", got, st.added)
				}
				if got := segs(c.Removed); got != st.removed {
					t.Errorf("removed %q, want %q", got, st.removed)
				}
				if c.After != next.Find(key) {
					t.Error("Change.After does not point into the next baseline")
				}
			}
			e := next.Find(key)
			if e == nil {
				t.Fatal("entry gone from the baseline")
			}
			if got := segs(e.Segments); got != st.segments {
				t.Errorf("segments %q, want %q", got, st.segments)
			}
			if e.Active() != st.active || e.Confirmed != st.confirmed {
				t.Errorf("active %v confirmed %v, want %v %v", e.Active(), e.Confirmed, st.active, st.confirmed)
			}
			if !e.FirstSeen.Equal(t0) {
				t.Errorf("first seen %v, want %v (kept through resolve and reopen)", e.FirstSeen, t0)
			}
			if st.active && !st.incomplete && !e.LastSeen.Equal(now) {
				t.Errorf("last seen %v, want %v", e.LastSeen, now)
			}
			if st.kind == Resolved && !e.ResolvedAt.Equal(now) {
				t.Errorf("resolved at %v, want %v", e.ResolvedAt, now)
			}
			b = next
		})
	}
}

func (b *Baseline) encodeOrNil() ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	return b.Encode()
}

// TestDiffSourcesOnlyWidening checks the exact (port, source) arithmetic:
// the pairs added by opening 203.0.113.0/24 to the world hold every
// address but 203.0.113.0/24.
func TestDiffSourcesOnlyWidening(t *testing.T) {
	b, _ := Diff(nil, &Run{Scope: scopeA, Exposures: []Observed{observed(scopeA, "i-1", exposure.Effective, pr(443, 443), "203.0.113.0/24")}}, t0)
	_, ch := Diff(b, &Run{Scope: scopeA, Exposures: []Observed{observed(scopeA, "i-1", exposure.Effective, pr(443, 443), "0.0.0.0/0")}}, t0.Add(time.Hour))
	if len(ch) != 1 || ch[0].Kind != Widened || len(ch[0].Added) != 1 {
		t.Fatalf("changes %+v, want one widened with one added segment", ch)
	}
	added := ch[0].Added[0]
	if added.Ports != pr(443, 443) {
		t.Errorf("added ports %v, want 443", added.Ports)
	}
	contains := func(a string) bool {
		ip := netip.MustParseAddr(a)
		return slices.ContainsFunc(added.Sources, func(p netip.Prefix) bool { return p.Contains(ip) })
	}
	// 10.0.0.1 is in 0.0.0.0/0 but no internet client comes from it: the
	// report's 0.0.0.0/0 means the public internet.
	for a, want := range map[string]bool{"198.51.100.7": true, "8.8.8.8": true, "203.0.113.9": false, "203.0.112.255": true, "203.0.114.0": true, "10.0.0.1": false} {
		if contains(a) != want {
			t.Errorf("added sources hold %s: %v, want %v", a, !want, want)
		}
	}
}

// TestDiffRowsShareKey: rows of one Key (the analysis cuts ports where
// the admitting rules change) are one entry; two descriptions of the same
// pairs are unchanged.
func TestDiffRowsShareKey(t *testing.T) {
	rows := []Observed{
		observed(scopeA, "i-1", exposure.Effective, pr(80, 80), "0.0.0.0/0"),
		observed(scopeA, "i-1", exposure.Effective, pr(81, 90), "0.0.0.0/0"),
		observed(scopeA, "i-1", exposure.Effective, pr(100, 100), "203.0.113.0/24"),
		observed(scopeA, "i-1", exposure.Effective, pr(100, 100), "198.51.100.0/24"),
	}
	rows[3].ID = "i-1:100:other-rule"
	b, ch := Diff(nil, &Run{Scope: scopeA, Exposures: rows}, t0)
	if len(b.Entries) != 1 || len(ch) != 1 {
		t.Fatalf("%d entries, %d changes; want one of each", len(b.Entries), len(ch))
	}
	e := b.Entries[0]
	if got := segs(e.Segments); got != "80-90:0.0.0.0/0 100:198.51.100.0/24,203.0.113.0/24" {
		t.Errorf("segments %q", got)
	}
	if got := fmt.Sprint(PortsOf(e.Segments)); got != "[80-90 100]" {
		t.Errorf("PortsOf %s, want [80-90 100]", got)
	}
	if got := fmt.Sprint(e.Ports); got != "[80-90 100]" {
		t.Errorf("ports %s, want [80-90 100]", got)
	}
	if len(e.ExposureIDs) != 4 {
		t.Errorf("exposure IDs %v, want 4", e.ExposureIDs)
	}
	recut := []Observed{
		observed(scopeA, "i-1", exposure.Effective, pr(80, 85), "0.0.0.0/0"),
		observed(scopeA, "i-1", exposure.Effective, pr(86, 90), "0.0.0.0/0"),
		observed(scopeA, "i-1", exposure.Effective, pr(100, 100), "198.51.100.0/24", "203.0.113.0/24"),
	}
	if _, ch := Diff(b, &Run{Scope: scopeA, Exposures: recut}, t0.Add(time.Hour)); len(ch) != 1 || ch[0].Kind != Unchanged {
		t.Fatalf("re-cut rows: %+v, want unchanged", ch)
	}
}

// TestDiffLevelsApart: an effective and a latent exposure of one target
// are two entries; one resolving leaves the other.
func TestDiffLevelsApart(t *testing.T) {
	eff := observed(scopeA, "sg-1", exposure.Effective, pr(22, 22), "0.0.0.0/0")
	lat := observed(scopeA, "sg-1", exposure.Latent, pr(22, 22), "0.0.0.0/0")
	b, ch := Diff(nil, &Run{Scope: scopeA, Exposures: []Observed{eff, lat}}, t0)
	if len(b.Entries) != 2 || len(ch) != 2 || ch[0].Kind != New || ch[1].Kind != New {
		t.Fatalf("entries %d, changes %+v; want two new", len(b.Entries), ch)
	}
	b, ch = Diff(b, &Run{Scope: scopeA, Exposures: []Observed{lat}}, t0.Add(time.Hour))
	if c := changeOf(t, ch, eff.Key); c == nil || c.Kind != Resolved {
		t.Fatalf("effective: %+v, want resolved", c)
	}
	if c := changeOf(t, ch, lat.Key); c == nil || c.Kind != Unchanged {
		t.Fatalf("latent: %+v, want unchanged", c)
	}
	if !b.Find(lat.Key).Active() || b.Find(eff.Key).Active() {
		t.Fatal("resolving the effective exposure touched the latent one")
	}
}

func TestDiffFindings(t *testing.T) {
	o := observed(scopeA, "i-1", exposure.Effective, pr(22, 23), "0.0.0.0/0")
	o.Findings = []Finding{{"ssh", rules.High, false, "f-ssh"}, {"telnet", rules.Critical, true, "f-telnet"}, {"any", rules.Medium, false, "f-any"}}
	b, _ := Diff(nil, &Run{Scope: scopeA, Exposures: []Observed{o}}, t0)
	e := b.Entries[0]
	if e.Severity != rules.High || !slices.Equal(e.Findings, []string{"any", "ssh"}) || e.Suppressed {
		t.Errorf("severity %s findings %v suppressed %v; want high, [any ssh], false (the critical one is suppressed)", e.Severity, e.Findings, e.Suppressed)
	}
	o.Findings = []Finding{{"ssh", rules.High, true, "f-ssh"}}
	b, _ = Diff(b, &Run{Scope: scopeA, Exposures: []Observed{o}}, t0.Add(time.Hour))
	if e := b.Entries[0]; !e.Suppressed || len(e.Findings) != 0 {
		t.Errorf("all suppressed: suppressed %v findings %v", e.Suppressed, e.Findings)
	}
	o.Findings = nil
	b, _ = Diff(b, &Run{Scope: scopeA, Exposures: []Observed{o}}, t0.Add(2*time.Hour))
	if e := b.Entries[0]; e.Suppressed {
		t.Error("no findings at all counted as suppressed")
	}
}

func TestDiffRetentionAndOutbox(t *testing.T) {
	o := observed(scopeA, "i-1", exposure.Effective, pr(22, 22), "0.0.0.0/0")
	b, _ := Diff(nil, &Run{Scope: scopeA, RunID: "r1", Exposures: []Observed{o}}, t0)
	b.Find(o.Key).Outbox.Add(New, "r1", t0)
	b, ch := Diff(b, &Run{Scope: scopeA, RunID: "r2"}, t0.Add(time.Hour)) // resolved
	if ch[0].Kind != Resolved {
		t.Fatalf("kind %s", ch[0].Kind)
	}
	if p := b.Find(o.Key).Outbox.Pending; len(p) != 1 || p[0].Kind != New {
		t.Fatalf("pending %v not carried over", p)
	}
	late := t0.Add(DefaultRetention + 2*time.Hour)
	b2, _ := Diff(b, &Run{Scope: scopeA, RunID: "r3"}, late)
	if b2.Find(o.Key) == nil {
		t.Fatal("entry with a pending alert pruned")
	}
	b.Find(o.Key).Outbox.Sent(t0.Add(2 * time.Hour))
	if b3, _ := Diff(b, &Run{Scope: scopeA, RunID: "r3"}, t0.Add(DefaultRetention)); b3.Find(o.Key) == nil {
		t.Fatal("pruned before the retention passed")
	}
	b4, _ := Diff(b, &Run{Scope: scopeA, RunID: "r3"}, late)
	if b4.Find(o.Key) != nil {
		t.Fatal("resolved entry kept after the retention")
	}
	if _, ch := Diff(b4, &Run{Scope: scopeA, Exposures: []Observed{o}}, late); ch[0].Kind != New {
		t.Fatalf("after pruning: %s, want new", ch[0].Kind)
	}
	// Custom retention.
	if b5, _ := Diff(b, &Run{Scope: scopeA, Retention: time.Minute}, t0.Add(3*time.Hour)); b5.Find(o.Key) != nil {
		t.Fatal("Run.Retention ignored")
	}
}

func TestOutbox(t *testing.T) {
	var o Outbox
	o.Add(New, "r1", t0)
	o.Add(New, "r1", t0.Add(time.Minute)) // same run: once
	o.Add(Widened, "r2", t0.Add(time.Hour))
	if len(o.Pending) != 2 || !o.FirstPendingAt.Equal(t0) {
		t.Fatalf("pending %v first %v", o.Pending, o.FirstPendingAt)
	}
	o.Failed(`Post "https://hooks.slack.com/services/T000/B000/XXXXSECRET": dial tcp: i/o timeout; smtp://user:hunter2@mail.example.com:587 refused`, t0.Add(2*time.Hour))
	if o.Attempts != 1 || strings.Contains(o.LastError, "XXXXSECRET") || strings.Contains(o.LastError, "hunter2") || strings.Contains(o.LastError, "user:") {
		t.Fatalf("last error keeps a secret: %q", o.LastError)
	}
	if !strings.Contains(o.LastError, "https://hooks.slack.com/") || !strings.Contains(o.LastError, "i/o timeout") || !strings.Contains(o.LastError, "mail.example.com:587") {
		t.Fatalf("last error lost what is useful: %q", o.LastError)
	}
	dropped := o.Expire(t0.Add(30 * time.Minute))
	if len(dropped) != 1 || dropped[0].Kind != New || len(o.Pending) != 1 || !o.FirstPendingAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("expire: dropped %v, left %v first %v", dropped, o.Pending, o.FirstPendingAt)
	}
	o.Sent(t0.Add(3 * time.Hour))
	if len(o.Pending) != 0 || o.Attempts != 0 || o.LastError != "" || !o.SentAt.Equal(t0.Add(3*time.Hour)) {
		t.Fatalf("after sent: %+v", o)
	}
	b := sample(scopeA, "r", 3)
	b.Entries[0].Outbox.Add(New, "r", t0)
	b.Entries[2].Outbox.Add(New, "r", t0.Add(10*24*time.Hour))
	if len(b.Pending()) != 2 {
		t.Fatalf("Pending() = %d entries", len(b.Pending()))
	}
	ex := b.ExpirePending(7*24*time.Hour, t0.Add(12*24*time.Hour))
	if len(ex) != 1 || ex[0].Key != b.Entries[0].Key || len(b.Pending()) != 1 {
		t.Fatalf("ExpirePending: %v, %d left", ex, len(b.Pending()))
	}
}

func TestIncompleteScopes(t *testing.T) {
	errs := []exposure.Error{
		{Scope: exposure.Scope{Provider: "aws", Account: "111", Region: "eu-west-1"}, Stage: "collect"},
		{Scope: exposure.Scope{Provider: "aws", Account: "222"}, Stage: "normalize"},
		{Scope: exposure.Scope{Provider: "azure"}, Stage: "collect"},
		{Scope: exposure.Scope{Provider: "gcp", Account: "proj-a", Region: "us-central1"}, Stage: "collect"},
		{Scope: exposure.Scope{Provider: "aws", Account: "333", Region: "us-east-1"}, Stage: "probe"},
		{Scope: exposure.Scope{Provider: "aws", Account: "333", Region: "us-east-2"}, Stage: "some-future-stage"},
	}
	in := IncompleteScopes(errs)
	for _, tc := range []struct {
		s    exposure.Scope
		want bool
	}{
		{exposure.Scope{Provider: "aws", Account: "111", Region: "eu-west-1"}, true},
		{exposure.Scope{Provider: "aws", Account: "111", Region: "us-east-1"}, false},
		{exposure.Scope{Provider: "aws", Account: "222", Region: "us-east-1"}, true},
		{exposure.Scope{Provider: "aws", Account: "222"}, true},
		{exposure.Scope{Provider: "azure", Account: "sub-1"}, true},
		{exposure.Scope{Provider: "gcp", Account: "proj-a"}, true},
		{exposure.Scope{Provider: "gcp", Account: "proj-a", Region: "europe-west1"}, true}, // one project, one baseline
		{exposure.Scope{Provider: "gcp", Account: "proj-b"}, false},
		{exposure.Scope{Provider: "aws", Account: "333", Region: "us-east-1"}, false}, // a probe error loses no exposure
		{exposure.Scope{Provider: "aws", Account: "333", Region: "us-east-2"}, true},  // unknown stage: unsure, resolve nothing
	} {
		if got := in.Contains(tc.s); got != tc.want {
			t.Errorf("Contains(%v) = %v, want %v", tc.s, got, tc.want)
		}
	}
	if !IncompleteScopes([]exposure.Error{{Stage: "collect", Message: "no credentials"}}).Contains(scopeG) {
		t.Error("an error without a provider leaves scopes complete")
	}
	if IncompleteScopes(nil).Contains(scopeA) {
		t.Error("no errors, yet incomplete")
	}
}

// TestDiffIncompleteResolvesNothing: a region that failed keeps everything
// it held, while the complete region of the same run resolves.
func TestDiffIncompleteResolvesNothing(t *testing.T) {
	a := observed(scopeA, "i-a", exposure.Effective, pr(22, 22), "0.0.0.0/0")
	bb := observed(scopeB, "i-b", exposure.Effective, pr(22, 22), "0.0.0.0/0")
	prev := map[exposure.Scope]*Baseline{}
	for s, r := range Split("r1", []Observed{a, bb}, IncompleteScopes(nil)) {
		prev[s], _ = Diff(nil, r, t0)
	}
	in := IncompleteScopes([]exposure.Error{{Scope: scopeA, Stage: "collect", Message: "throttled"}})
	runs := Split("r2", nil, in) // nothing seen anywhere
	for _, s := range []exposure.Scope{scopeA, scopeB} {
		r := runs[s]
		if r == nil {
			r = &Run{Scope: s, RunID: "r2", Incomplete: in.Contains(s)}
		}
		_, ch := Diff(prev[s], r, t0.Add(time.Hour))
		want := Resolved
		if s == scopeA {
			want = Unverified
		}
		if len(ch) != 1 || ch[0].Kind != want {
			t.Errorf("%v: %+v, want %s", s, ch, want)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	good := sample(scopeA, "r", 2)
	data, err := good.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(data); err != nil {
		t.Fatalf("good baseline refused: %v", err)
	}
	for name, mutate := range map[string]func(b *Baseline){
		"future schema": func(b *Baseline) { b.SchemaVersion = SchemaVersion + 1 },
		"unsorted":      func(b *Baseline) { b.Entries[0], b.Entries[1] = b.Entries[1], b.Entries[0] },
		"foreign entry": func(b *Baseline) { b.Entries[1].Key.Region = "us-east-1" },
		"bad scope":     func(b *Baseline) { b.Scope.Account = "../x" },
	} {
		t.Run(name, func(t *testing.T) {
			b, _ := Decode(data)
			mutate(b)
			raw := mustJSON(t, b)
			if _, err := Decode(raw); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := Decode([]byte(`{"schemaVersion":1,"scope":{"provider":"aws","account":"1"},"entries":[{"segments":[{"ports":{"from":1,"to":2},"sources":["not-a-prefix"]}]}]}`)); err == nil {
		t.Fatal("accepted an invalid source prefix")
	}
	if _, err := good.Encode(); errors.Is(err, ErrTooLarge) {
		t.Fatal("impossible")
	}
}

func TestClone(t *testing.T) {
	b := sample(scopeA, "r", 2)
	b.Entries[0].Outbox.Add(New, "r", t0)
	c := b.Clone()
	c.Entries[0].Outbox.Sent(t0)
	c.Entries[1].Segments[0].Ports.To = 99
	c.Entries[1].Findings = append(c.Entries[1].Findings, "x")
	if len(b.Entries[0].Outbox.Pending) != 1 || b.Entries[1].Segments[0].Ports.To != 22 || len(b.Entries[1].Findings) != 0 {
		t.Fatal("changing the clone changed the original")
	}
}

// TestDiffPublicInternet: a rule admitting the public internet less one
// range (the report lists the public prefixes) opened to 0.0.0.0/0 adds
// exactly that range, and back.
func TestDiffPublicInternet(t *testing.T) {
	var b netipx.IPSetBuilder
	b.AddSet(exposure.PublicInternet())
	b.RemovePrefix(netip.MustParsePrefix("203.0.113.0/24"))
	b.RemovePrefix(netip.MustParsePrefix("::/0"))
	most, _ := b.IPSet()
	listed := exposure.DisplaySources(most)
	if len(listed) < 10 {
		t.Fatalf("expected a long list of public prefixes, got %v", listed)
	}
	prev, _ := Diff(nil, &Run{Scope: scopeA, Exposures: []Observed{observed(scopeA, "i-1", exposure.Effective, pr(22, 22), listed...)}}, t0)
	next, ch := Diff(prev, &Run{Scope: scopeA, Exposures: []Observed{observed(scopeA, "i-1", exposure.Effective, pr(22, 22), "0.0.0.0/0")}}, t0.Add(time.Hour))
	if ch[0].Kind != Widened || segs(ch[0].Added) != "22:203.0.113.0/24" || len(ch[0].Removed) != 0 {
		t.Fatalf("%s added %q removed %q; want widened by 22:203.0.113.0/24 only", ch[0].Kind, segs(ch[0].Added), segs(ch[0].Removed))
	}
	if got := segs(next.Entries[0].Segments); got != "22:0.0.0.0/0" {
		t.Errorf("stored %q, want 22:0.0.0.0/0 as the report writes it", got)
	}
	_, ch = Diff(next, &Run{Scope: scopeA, Exposures: []Observed{observed(scopeA, "i-1", exposure.Effective, pr(22, 22), listed...)}}, t0.Add(2*time.Hour))
	if ch[0].Kind != Narrowed || segs(ch[0].Removed) != "22:203.0.113.0/24" {
		t.Fatalf("%s removed %q; want narrowed by 22:203.0.113.0/24", ch[0].Kind, segs(ch[0].Removed))
	}
}
