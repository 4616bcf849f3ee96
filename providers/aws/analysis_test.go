package aws

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
)

// internet4 and internet6 are the public internet of each family.
var internet4, internet6 = func() (*netipx.IPSet, *netipx.IPSet) {
	return exposure.Intersect(exposure.PublicInternet(), exposure.Sources(netip.MustParsePrefix("0.0.0.0/0"))),
		exposure.Intersect(exposure.PublicInternet(), exposure.Sources(netip.MustParsePrefix("::/0")))
}()

// describeSources prints a source set compactly: "internet4" for the whole
// public IPv4 internet, "internet4-203.0.113.0/24" for it minus a range,
// else the prefixes.
func describeSources(s *netipx.IPSet) string {
	for _, fam := range []struct {
		name string
		set  *netipx.IPSet
	}{{"internet4", internet4}, {"internet6", internet6}} {
		in := exposure.Intersect(s, fam.set)
		if len(in.Prefixes()) == 0 {
			continue
		}
		var b netipx.IPSetBuilder
		b.AddSet(fam.set)
		b.RemoveSet(in)
		missing, _ := b.IPSet()
		// Most of the family present: print what is missing.
		if len(missing.Prefixes()) <= 4 && len(in.Prefixes()) > 8 {
			out := fam.name
			for _, p := range missing.Prefixes() {
				out += "-" + p.String()
			}
			return out
		}
	}
	return strings.Join(exposure.Addrs(s), ",")
}

// describe prints an exposure on one line.
func describe(e *exposure.Exposure) string {
	var ep string
	if e.Level == exposure.Effective {
		ep = e.Endpoint.String() + " "
	}
	s := fmt.Sprintf("%s%s %s/%s from %s", ep, e.Target.ID, e.Protocol, e.Ports, describeSources(e.Sources))
	if e.Backend != nil {
		s += fmt.Sprintf(" → %s:%s", e.Backend.ID, e.Backend.Ports)
	}
	return s
}

// exposuresOf analyzes inv and returns the effective and latent exposures
// whose target (or layer) ID is one of ids, described.
func exposuresOf(inv *exposure.Inventory, ids ...string) (effective, latent []string) {
	res := exposure.Analyze(inv)
	for _, e := range res.Effective {
		if slices.Contains(ids, e.Target.ID) {
			effective = append(effective, describe(e))
		}
	}
	for _, e := range res.Latent {
		if slices.Contains(ids, e.Target.ID) {
			latent = append(latent, describe(e))
		}
	}
	return effective, latent
}

func assertLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

// findTarget returns the target with the ID, failing the test without one.
func findTarget(t *testing.T, inv *exposure.Inventory, id string) *exposure.Target {
	t.Helper()
	for _, tg := range inv.Targets {
		if tg.ID == id {
			return tg
		}
	}
	t.Fatalf("no target %s among %d targets", id, len(inv.Targets))
	return nil
}

func hasTarget(inv *exposure.Inventory, id string) bool {
	for _, tg := range inv.Targets {
		if tg.ID == id {
			return true
		}
	}
	return false
}

func findLayer(t *testing.T, inv *exposure.Inventory, id string) *exposure.Layer {
	t.Helper()
	for _, l := range inv.Layers {
		if l.ID == id {
			return l
		}
	}
	t.Fatalf("no layer %s", id)
	return nil
}

// pathShape prints a path as "rtb-1 | acl-1 | acl-1(out) | sg-1+sg-2".
func pathShape(p exposure.Path) string {
	var hops []string
	for _, h := range p {
		var ls []string
		for _, l := range h.Layers {
			id := l.ID
			if l.Egress {
				id += "(out)"
			}
			ls = append(ls, id)
		}
		hops = append(hops, strings.Join(ls, "+"))
	}
	return strings.Join(hops, " | ")
}
