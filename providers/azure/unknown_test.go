package azure

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

// TestMissingOrBrokenRequiredFile is issue 11 item 6 for Azure: a missing
// or undecodable NSG or network file of the demo subscription never
// invents an exposure. Every exposure of the broken run that does not say
// it rests on missing data is one the intact run has, and an error names
// the file. Today's code took an NSG it could not read as admitting
// everything.
func TestMissingOrBrokenRequiredFile(t *testing.T) {
	const sub = "6f1c2e3a-5b7d-4c8e-9a0b-1d2e3f4a5b6c"
	load := func() fstest.MapFS {
		src := os.DirFS("../../demo/estate/azure")
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
	clean := render(exposure.Analyze(intact).Effective)
	for _, file := range []string{fileNSGs, fileVNets, fileNICs, filePublicIPs, fileLoadBalancers, fileFirewalls} {
		for _, how := range []string{"missing", "truncated", "null"} {
			t.Run(how+" "+file, func(t *testing.T) {
				m := load()
				name := path.Join(sub, file)
				switch how {
				case "missing":
					delete(m, name)
				case "truncated":
					b := m[name].Data
					m[name] = &fstest.MapFile{Data: b[:len(b)/2]}
				default:
					m[name] = &fstest.MapFile{Data: []byte("null")}
				}
				inv, err := Normalize(m)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.ContainsFunc(inv.Errors, func(e exposure.Error) bool { return e.Resource == "azure/"+name && e.Account == sub }) {
					t.Errorf("no error names azure/%s: %v", name, inv.Errors)
				}
				res := exposure.Analyze(inv)
				for _, e := range res.Effective {
					if len(e.Unknown()) > 0 {
						continue
					}
					l := render([]*exposure.Exposure{e})[0]
					proxyFront := slices.ContainsFunc(clean, func(c string) bool { return strings.HasPrefix(c, l+" -> ") })
					if !slices.Contains(clean, l) && !proxyFront {
						t.Errorf("invented exposure: %s", l)
					}
				}
			})
		}
	}
}
