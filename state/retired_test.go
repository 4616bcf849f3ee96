package state

import (
	"slices"
	"testing"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

// TestDiffRetiresFindings: the report finding IDs a key no longer has are
// the change's Retired (every one of a resolved key), except in an
// incomplete scope, where nothing is retired and the IDs kept are the
// union of both runs.
func TestDiffRetiresFindings(t *testing.T) {
	row := func(target string, ids ...string) Observed {
		o := observed(scopeA, target, exposure.Effective, pr(22, 22), "0.0.0.0/0")
		for _, id := range ids {
			o.Findings = append(o.Findings, Finding{RuleID: "rule-" + id, Severity: rules.High, ID: id})
		}
		return o
	}
	first := &Run{Scope: scopeA, Exposures: []Observed{row("i-stays", "f-b", "f-a"), row("i-goes", "f-c")}}
	b1, _ := Diff(nil, first, t0)
	if e := b1.Find(row("i-stays").Key); e == nil || !slices.Equal(e.FindingIDs, []string{"f-a", "f-b"}) {
		t.Fatalf("entry = %+v, want finding IDs [f-a f-b]", e)
	}
	retired := func(changes []Change) map[string][]string {
		out := map[string][]string{}
		for _, c := range changes {
			if len(c.Retired) > 0 {
				out[c.Key.Target] = c.Retired
			}
		}
		return out
	}

	// Partial: i-goes is unverified, f-a missing from i-stays is kept.
	partial := &Run{Scope: scopeA, Incomplete: true, Exposures: []Observed{row("i-stays", "f-b", "f-d")}}
	b2, ch := Diff(b1, partial, t0.Add(time.Hour))
	if r := retired(ch); len(r) != 0 {
		t.Errorf("an incomplete run retired %v", r)
	}
	if e := b2.Find(row("i-stays").Key); !slices.Equal(e.FindingIDs, []string{"f-a", "f-b", "f-d"}) {
		t.Errorf("after a partial run the entry keeps %v, want the union [f-a f-b f-d]", e.FindingIDs)
	}

	// Complete: f-a and f-d stopped, i-goes resolved with its f-c.
	b3, ch := Diff(b2, &Run{Scope: scopeA, Exposures: []Observed{row("i-stays", "f-b")}}, t0.Add(2*time.Hour))
	r := retired(ch)
	if !slices.Equal(r["i-stays"], []string{"f-a", "f-d"}) || !slices.Equal(r["i-goes"], []string{"f-c"}) || len(r) != 2 {
		t.Errorf("retired = %v, want i-stays [f-a f-d], i-goes [f-c]", r)
	}
	// A resolved entry keeps its IDs; the next complete run retires
	// nothing again.
	if e := b3.Find(row("i-goes").Key); e.Active() || !slices.Equal(e.FindingIDs, []string{"f-c"}) {
		t.Errorf("resolved entry = %+v", e)
	}
	if _, ch := Diff(b3, &Run{Scope: scopeA, Exposures: []Observed{row("i-stays", "f-b")}}, t0.Add(3*time.Hour)); len(retired(ch)) != 0 {
		t.Errorf("a run with nothing changed retired %v", retired(ch))
	}

	// A baseline written before finding IDs were kept decodes, and its
	// entries retire nothing (unknown) until a run records them.
	old := []byte(`{"schemaVersion":1,"scope":{"provider":"aws","account":"111122223333","region":"eu-west-1"},"entries":[` +
		`{"key":{"provider":"aws","account":"111122223333","region":"eu-west-1","level":"effective","target":"i-goes","endpoint":"192.0.2.10","protocol":"tcp"},` +
		`"ports":[{"from":22,"to":22}],"segments":[],"severity":"high","findings":["rule-f-c"],"firstSeen":"2026-11-01T00:00:00Z","lastSeen":"2026-11-30T00:00:00Z"}]}`)
	ob, err := Decode(old)
	if err != nil {
		t.Fatal(err)
	}
	_, ch = Diff(ob, &Run{Scope: scopeA}, t0)
	if len(ch) != 1 || ch[0].Kind != Resolved || len(ch[0].Retired) != 0 {
		t.Errorf("old entry resolved: %+v", ch)
	}
}
