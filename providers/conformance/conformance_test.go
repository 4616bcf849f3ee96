// Package conformance_test runs the same path situations against every
// provider: each situation is expressed once, as a provider-neutral
// expectation (testdata/<situation>/expect.yaml), and realised as a native
// snapshot per cloud (testdata/<situation>/<provider>/…, the files that
// provider's Normalize reads). The three clouds must give the same answer
// for the same situation; where a cloud cannot express a situation exactly
// the expectation carries a documented per-provider override, and where a
// provider is believed wrong the expectation records the divergence, so
// that fixing the provider flips the test (docs/conformance.md).
//
// Adding a situation is adding a folder.
package conformance_test

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go4.org/netipx"
	"gopkg.in/yaml.v3"

	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/providers"
)

// The drivers under test are audit's provider table (audit.Drivers): a
// provider added there runs every situation here and fails until it has a
// fixture for each.

// expectation is one situation's expect.yaml.
type expectation struct {
	// Situation restates the case in words, for people.
	Situation string `yaml:"situation"`
	// Protocols, when set, restricts the comparison to these protocols
	// (e.g. tcp, udp, icmp for an all-protocols rule, whose "all" line and
	// ICMPv6 differ in shape per cloud).
	Protocols []string `yaml:"protocols"`
	// Effective and Latent are the neutral answer (lines described in
	// render* below); every provider must give exactly these unless it has
	// an override or a divergence.
	Effective []string `yaml:"effective"`
	Latent    []string `yaml:"latent"`
	// Providers holds per-provider overrides and divergences.
	Providers map[string]providerCase `yaml:"providers"`
}

// providerCase adjusts the expectation for one provider.
type providerCase struct {
	// Override: the cloud cannot express the situation exactly, or its
	// documented semantics give a different, correct answer. Note says why.
	Override *answer `yaml:"override"`
	// Divergence: the provider is believed wrong per its cloud's documented
	// semantics. The test asserts today's (wrong) answer so that a fix
	// fails it, and then the divergence is to be removed.
	Divergence *answer `yaml:"divergence"`
	Note       string  `yaml:"note"`
	// Suspect names the provider file and function believed at fault.
	Suspect string `yaml:"suspect"`
}

type answer struct {
	Effective []string `yaml:"effective"`
	Latent    []string `yaml:"latent"`
}

func TestConformance(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n++
		situation := e.Name()
		dir := filepath.Join("testdata", situation)
		exp := readExpectation(t, dir)
		t.Run(situation, func(t *testing.T) {
			t.Parallel()
			for _, d := range audit.Drivers() {
				t.Run(d.Name, func(t *testing.T) {
					t.Parallel()
					runCase(t, dir, d.Name, d.Normalize, exp)
				})
			}
		})
	}
	if n < 10 {
		t.Errorf("%d situations in testdata, want at least 10", n)
	}
}

// readExpectation decodes dir/expect.yaml strictly (unknown keys are a
// mistake in the file) and checks that every provider named exists.
func readExpectation(t *testing.T, dir string) *expectation {
	t.Helper()
	name := filepath.Join(dir, "expect.yaml")
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("read expectation: %v", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var exp expectation
	if err := dec.Decode(&exp); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	for p, c := range exp.Providers {
		if _, err := audit.Lookup(p); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c.Override != nil && c.Divergence != nil {
			t.Fatalf("%s: %s has both an override and a divergence", name, p)
		}
		if c.Note == "" {
			t.Fatalf("%s: %s: an override or divergence needs a note saying why", name, p)
		}
		if c.Divergence != nil && c.Suspect == "" {
			t.Fatalf("%s: %s: a divergence needs a suspect (provider file and function)", name, p)
		}
		neutral := normalized(answer{Effective: exp.Effective, Latent: exp.Latent})
		for kind, a := range map[string]*answer{"override": c.Override, "divergence": c.Divergence} {
			if a != nil && sameAnswer(normalized(*a), neutral) {
				t.Fatalf("%s: %s: the %s equals the neutral answer; remove it", name, p, kind)
			}
		}
	}
	return &exp
}

func runCase(t *testing.T, dir, provider string, normalize providers.NormalizeFunc, exp *expectation) {
	root := filepath.Join(dir, provider)
	if _, err := os.Stat(root); err != nil {
		t.Fatalf("no %s fixture for this situation: %v", provider, err)
	}
	inv, err := normalize(os.DirFS(root))
	if err != nil {
		t.Fatalf("normalize: %v", err)
	}
	for _, e := range inv.Errors {
		t.Errorf("inventory error: %v", e)
	}
	res := exposure.Analyze(inv)
	for _, e := range res.Errors {
		t.Errorf("analysis error: %v", e)
	}
	keep := func(p exposure.Protocol) bool {
		return len(exp.Protocols) == 0 || slices.Contains(exp.Protocols, p.String())
	}
	got := answer{Effective: renderEffective(res.Effective, keep), Latent: renderLatent(res.Latent, keep)}
	neutral := answer{Effective: exp.Effective, Latent: exp.Latent}
	pc := exp.Providers[provider]
	switch {
	case pc.Divergence != nil:
		want := normalized(*pc.Divergence)
		if sameAnswer(got, want) {
			t.Logf("known divergence (%s): %s", pc.Suspect, pc.Note)
			return
		}
		if sameAnswer(got, normalized(neutral)) {
			t.Errorf("the known divergence is gone: %s now gives the neutral answer; remove the divergence from %s/expect.yaml and docs/conformance.md", provider, dir)
			return
		}
		compare(t, "divergence", got, want)
	case pc.Override != nil:
		compare(t, "override", got, normalized(*pc.Override))
	default:
		compare(t, "neutral", got, normalized(neutral))
	}
}

// compare reports every line missing from or unexpected in got.
func compare(t *testing.T, kind string, got, want answer) {
	t.Helper()
	diff := func(level string, got, want []string) {
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("%s %s exposure missing: %q", level, kind, w)
			}
		}
		for _, g := range got {
			if !slices.Contains(want, g) {
				t.Errorf("%s exposure not in the %s expectation: %q", level, kind, g)
			}
		}
		if !slices.Equal(got, want) && !t.Failed() {
			// Same lines, different multiplicity.
			t.Errorf("%s: got %q, want %q", level, got, want)
		}
	}
	diff("effective", got.Effective, want.Effective)
	diff("latent", got.Latent, want.Latent)
	if t.Failed() {
		t.Logf("got effective:\n  %s\ngot latent:\n  %s", strings.Join(got.Effective, "\n  "), strings.Join(got.Latent, "\n  "))
	}
}

func normalized(a answer) answer {
	norm := func(lines []string) []string {
		out := make([]string, 0, len(lines))
		for _, l := range lines {
			out = append(out, strings.Join(strings.Fields(l), " "))
		}
		slices.Sort(out)
		return out
	}
	return answer{Effective: norm(a.Effective), Latent: norm(a.Latent)}
}

func sameAnswer(a, b answer) bool {
	return slices.Equal(a.Effective, b.Effective) && slices.Equal(a.Latent, b.Latent)
}

// renderEffective writes effective exposures in the neutral form
// "<endpoint> <proto> <ports> <sources> [-> <backend port>]", sorted.
func renderEffective(es []*exposure.Exposure, keep func(exposure.Protocol) bool) []string {
	out := []string{}
	for _, e := range es {
		if !keep(e.Protocol) {
			continue
		}
		l := fmt.Sprintf("%s %s %s %s", e.Endpoint, e.Protocol, e.Ports, sourceText(e.Sources))
		if e.Backend != nil {
			l += " -> " + e.Backend.Ports.String()
		}
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// renderLatent writes latent exposures as "<proto> <ports> <sources>",
// sorted. Layer IDs differ per cloud, so they are left out.
func renderLatent(es []*exposure.Exposure, keep func(exposure.Protocol) bool) []string {
	out := []string{}
	for _, e := range es {
		if !keep(e.Protocol) {
			continue
		}
		// AWS fixtures of situations that do not vary the subnet's NACL
		// carry the allow-all default NACL every VPC has (a missing NACL
		// file is unknown, never open: docs/model.md). What that NACL
		// admits on its own is the severity model's concern
		// (docs/rules.md), and the other clouds have no such layer.
		if e.Target.Kind == exposure.LayerNetworkACL && e.Target.Name == "conformance-default" {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s %s", e.Protocol, e.Ports, sourceText(e.Sources)))
	}
	slices.Sort(out)
	return out
}

// families splits the public internet by address family.
var families = func() [2]struct {
	public    *netipx.IPSet
	tolerance int // host bits: how much a family may miss and still be "anyone-except"
} {
	var v4, v6 netipx.IPSetBuilder
	for _, p := range exposure.PublicInternet().Prefixes() {
		if p.Addr().Is4() {
			v4.AddPrefix(p)
		} else {
			v6.AddPrefix(p)
		}
	}
	s4, _ := v4.IPSet()
	s6, _ := v6.IPSet()
	return [2]struct {
		public    *netipx.IPSet
		tolerance int
	}{{s4, 32 - 16}, {s6, 128 - 32}}
}()

// sourceText renders a source set per address family: "anyone" when it
// holds every public address of the family (exposure.SourceBreadth says
// anyone), "anyone-except <CIDRs>" when it misses at most a /16 of IPv4 or
// a /32 of IPv6 (an AWS VPC's own IPv6 block, which replies never leave
// for the internet), otherwise its public CIDRs (exposure.DisplaySources).
// Families are joined with ",", IPv4 first; "none" when nothing public.
func sourceText(s *netipx.IPSet) string {
	var parts []string
	for _, fam := range families {
		part := exposure.Intersect(s, fam.public)
		if len(part.Prefixes()) == 0 {
			continue
		}
		if exposure.SourceBreadth(part) == exposure.BreadthAnyone {
			parts = append(parts, "anyone")
			continue
		}
		var b netipx.IPSetBuilder
		b.AddSet(fam.public)
		b.RemoveSet(part)
		missing, _ := b.IPSet()
		if hostCount(missing, fam.tolerance) {
			var cidrs []string
			for _, p := range missing.Prefixes() {
				cidrs = append(cidrs, p.String())
			}
			parts = append(parts, "anyone-except "+strings.Join(cidrs, "+"))
			continue
		}
		parts = append(parts, strings.Join(exposure.DisplaySources(part), "+"))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}

// hostCount reports whether s holds at most 2^bits addresses.
func hostCount(s *netipx.IPSet, bits int) bool {
	limit, total := math.Ldexp(1, bits), 0.0
	for _, p := range s.Prefixes() {
		total += math.Ldexp(1, p.Addr().BitLen()-p.Bits())
		if total > limit {
			return false
		}
	}
	return true
}
