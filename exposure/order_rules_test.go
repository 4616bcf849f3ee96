package exposure

import (
	"slices"
	"testing"
)

// EvaluationOrder is the order the analysis and fix both evaluate an
// ordered layer in: tier, then priority, then deny before goto_next before
// allow, the layer's order breaking ties; malformed rules left out.
func TestEvaluationOrder(t *testing.T) {
	l := &Layer{Rules: []Rule{
		{ID: "allow-10", Action: Allow, Priority: 10},
		{ID: "deny-10", Action: Deny, Priority: 10},
		{ID: "bad-ports", Action: Deny, Priority: 1, Ports: []PortRange{{From: 30, To: 20}}},
		{ID: "tier1-allow-1", Action: Allow, Tier: 1, Priority: 1},
		{ID: "next-10", Action: Next, Priority: 10},
		{ID: "allow-5", Action: Allow, Priority: 5},
		{ID: "allow-10-second", Action: Allow, Priority: 10},
	}}
	var got []string
	for _, i := range l.EvaluationOrder() {
		got = append(got, l.Rules[i].ID)
	}
	want := []string{"allow-5", "deny-10", "next-10", "allow-10", "allow-10-second", "tier1-allow-1"}
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	if l.Rules[2].Valid() || !l.Rules[0].Valid() {
		t.Error("Valid: a reversed port range is valid, or a rule without ports is not")
	}
}
