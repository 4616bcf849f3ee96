package gcp

import (
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/portcullis-sec/portcullis/exposure"
)

// TestMissingOrBrokenFilteringFile is issue 11 item 6 for GCP: a missing
// or undecodable firewall file of the demo's shop-prod never invents an
// exposure nor reads as closed without saying so. Every exposure of the
// broken run is one the intact run has, an error names the file, and the
// analysis names the targets it could not analyse.
func TestMissingOrBrokenFilteringFile(t *testing.T) {
	load := func() fstest.MapFS {
		src := os.DirFS("../../demo/estate/gcp")
		m := fstest.MapFS{}
		if err := fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(src, p)
			m[p] = &fstest.MapFile{Data: b}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return m
	}
	intact, err := Normalize(load())
	if err != nil {
		t.Fatal(err)
	}
	clean := lines(exposure.Analyze(intact).Effective)
	for _, file := range []string{FileFirewallRules, FileNetworkFirewallPolicies, DirEffectiveFirewalls + "/shop-vpc.json"} {
		for _, how := range []string{"missing", "truncated"} {
			t.Run(how+" "+file, func(t *testing.T) {
				m := load()
				name := path.Join("shop-prod", file)
				if how == "missing" {
					delete(m, name)
				} else {
					b := m[name].Data
					m[name] = &fstest.MapFile{Data: b[:len(b)/2]}
				}
				inv, err := Normalize(m)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.ContainsFunc(inv.Errors, func(e exposure.Error) bool { return e.Resource == name && e.Account == "shop-prod" }) {
					t.Errorf("no error names %s: %v", name, inv.Errors)
				}
				res := exposure.Analyze(inv)
				for _, l := range lines(res.Effective) {
					// A proxy's frontend stays open whatever its unknown
					// backends do: the intact run has it with a backend.
					proxyFront := slices.ContainsFunc(clean, func(c string) bool { return strings.HasPrefix(c, l+" -> ") })
					if !slices.Contains(clean, l) && !proxyFront {
						t.Errorf("invented exposure: %s", l)
					}
				}
				if !slices.ContainsFunc(res.Errors, func(e exposure.Error) bool {
					return e.Account == "shop-prod" && strings.Contains(e.Message, "not analysed") && strings.Contains(e.Message, name)
				}) {
					t.Errorf("no analysis error says what was not analysed because of %s: %v", name, res.Errors)
				}
			})
		}
	}
}
