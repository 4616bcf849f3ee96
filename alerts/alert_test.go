package alerts

import (
	"testing"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

func TestHeadline(t *testing.T) {
	crit := Item{Kind: KindNew, Severity: rules.Critical}
	high := Item{Kind: KindNew, Severity: rules.High}
	eu := exposure.Scope{Provider: "aws", Account: "111122223333", Region: "eu-west-1"}
	for _, tc := range []struct {
		m    Message
		want string
	}{
		{Message{Scope: account, Items: []Item{crit, crit, high}}, "3 new exposures in aws 111122223333 (2 critical, 1 high)"},
		{Message{Scope: eu, Items: []Item{high}}, "1 new exposure in aws 111122223333 eu-west-1 (1 high)"},
		{Message{Scope: account, Items: []Item{{Kind: KindConfirmed, Severity: rules.High}}}, "1 exposure confirmed by a probe in aws 111122223333 (1 high)"},
		{Message{Scope: account, Items: []Item{crit, {Kind: KindWidened, Severity: rules.Medium}}, Resolved: []Item{{}}}, "2 exposure changes in aws 111122223333: 1 new, 1 widened (1 critical, 1 medium), 1 resolved"},
		{Message{Scope: account, Resolved: []Item{{}, {}}}, "2 exposures resolved in aws 111122223333"},
		{Message{Scope: account}, "No exposure changes in aws 111122223333"},
		{Message{Scope: account, Initial: &InitialSummary{}}, "Baseline established for aws 111122223333: 0 exposures"},
		{Message{Scope: account, Items: []Item{high}, Digest: &Period{Label: "daily"}}, "Daily digest: 1 new exposure in aws 111122223333 (1 high)"},
	} {
		if got := Headline(tc.m); got != tc.want {
			t.Errorf("Headline = %q, want %q", got, tc.want)
		}
	}
}

func TestOrderAndClean(t *testing.T) {
	items := ordered([]Item{
		{Kind: KindWidened, Severity: rules.High, Address: "203.0.113.9"},
		{Kind: KindNew, Severity: rules.High, Address: "203.0.113.10"},
		{Kind: KindNew, Severity: rules.High, Address: "203.0.113.9"},
		{Kind: KindNew, Severity: rules.High, Address: "api.example.com"},
		{Kind: KindNew, Severity: rules.High, Address: "2001:db8::1"},
		{Kind: KindNew, Severity: rules.Critical, Address: "203.0.113.200"},
	})
	var got []string
	for _, it := range items {
		got = append(got, string(it.Kind)+" "+it.Address)
	}
	want := []string{"new 203.0.113.200", "new 203.0.113.9", "new 203.0.113.10", "new 2001:db8::1", "new api.example.com", "widened 203.0.113.9"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order %q, want %q", got, want)
		}
	}
	for in, want := range map[string]string{
		"a\nb\tc":            "a b c",
		"\x1b[2Jx\x00":       "\uFFFD[2Jx\uFFFD",
		"ok\u202Eevil\u200B": "ok\uFFFDevil\uFFFD",
		"bad\xffutf8":        "bad\uFFFDutf8",
	} {
		if got := clean(in, 100); got != want {
			t.Errorf("clean(%q) = %q, want %q", in, got, want)
		}
	}
	// Cut to 8 bytes on a rune boundary, the ellipsis included.
	if got := clean("ééééé", 8); got != "éé…" {
		t.Errorf("clean cut to %q, want %q", got, "éé…")
	}
}
