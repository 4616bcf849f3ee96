package audit

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/portcullis-sec/portcullis/exposure"
)

// validScopes holds one unit of collection each driver must accept: a new
// provider adds its row here, or TestDriversContract fails for it.
var validScopes = map[string][2]string{
	exposure.ProviderAWS:   {"123456789012", "eu-west-1"},
	exposure.ProviderAzure: {"0b1f6471-1bf0-4dda-aec3-cb9272f09590", ""},
	exposure.ProviderGCP:   {"acme-prod", ""},
}

// TestDriversContract checks every row of the provider table against what
// providers.Driver promises.
func TestDriversContract(t *testing.T) {
	ds := Drivers()
	if len(ds) == 0 {
		t.Fatal("the provider table is empty")
	}
	var names []string
	for _, d := range ds {
		names = append(names, d.Name)
	}
	if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Errorf("driver names %v: want unique and sorted", names)
	}
	if !slices.Equal(names, Providers()) {
		t.Errorf("Providers() = %v, want the table's names %v", Providers(), names)
	}
	if !slices.Equal(names, exposure.Providers()) {
		t.Errorf("the table's names %v differ from the model's exposure.Providers() %v", names, exposure.Providers())
	}
	lower := regexp.MustCompile(`^[a-z][a-z0-9]*$`)
	for _, d := range ds {
		t.Run(d.Name, func(t *testing.T) {
			if !lower.MatchString(d.Name) {
				t.Errorf("name %q: want lower-case letters and digits (a directory and a flag value)", d.Name)
			}
			if d.Title == "" {
				t.Error("no title")
			}
			if len(d.Permissions) == 0 {
				t.Error("no permissions")
			}
			if p := slices.Sorted(slices.Values(d.Permissions)); len(slices.Compact(p)) != len(d.Permissions) {
				t.Errorf("permissions %v: listed twice", d.Permissions)
			}
			for _, p := range d.Permissions {
				if strings.TrimSpace(p) != p || p == "" {
					t.Errorf("permission %q: empty or padded", p)
				}
			}
			if d.Normalize == nil || d.ValidScope == nil {
				t.Fatal("Normalize or ValidScope is nil")
			}
			if got, err := Lookup(d.Name); err != nil || got.Name != d.Name {
				t.Errorf("Lookup(%q) = %q, %v", d.Name, got.Name, err)
			}

			inv, err := d.Normalize(fstest.MapFS{})
			if err != nil {
				t.Fatalf("normalize an empty snapshot directory: %v", err)
			}
			if inv == nil || len(inv.Targets)+len(inv.Layers)+len(inv.Errors) != 0 {
				t.Errorf("normalize an empty snapshot directory: %+v, want an empty inventory", inv)
			}

			good, ok := validScopes[d.Name]
			if !ok {
				t.Fatalf("no valid scope for %s in validScopes", d.Name)
			}
			account, region := good[0], good[1]
			if err := d.ValidScope(account, region); err != nil {
				t.Errorf("ValidScope(%q, %q): %v", account, region, err)
			}
			// Each bad scope and what a clear error must quote of it.
			type badScope struct{ account, region, says string }
			bad := []badScope{
				{"", region, `""`},
				{"../" + account, region, strconv.Quote("../" + account)},
				{account + "/x", region, strconv.Quote(account + "/x")},
				{account + "\n", region, strconv.Quote(account + "\n")},
			}
			if d.Regional {
				bad = append(bad,
					badScope{account, "", `""`},
					badScope{account, region + "/../x", strconv.Quote(region + "/../x")},
					badScope{account, "EU West 1", `"EU West 1"`})
			} else {
				bad = append(bad, badScope{account, "eu-west-1", "region must be empty"})
			}
			for _, b := range bad {
				err := d.ValidScope(b.account, b.region)
				if err == nil {
					t.Errorf("ValidScope(%q, %q) accepted a bad scope", b.account, b.region)
					continue
				}
				if msg := err.Error(); !strings.HasPrefix(msg, d.Name+" ") || !strings.Contains(msg, b.says) {
					t.Errorf("ValidScope(%q, %q): %q, want it to start with %q and say %s", b.account, b.region, msg, d.Name, b.says)
				}
			}
		})
	}
}

func TestLookupUnknown(t *testing.T) {
	for _, name := range []string{"bogus", "", "AWS", " aws"} {
		_, err := Lookup(name)
		if err == nil {
			t.Errorf("Lookup(%q) found a driver", name)
			continue
		}
		want := "(want one of " + strings.Join(Providers(), ", ") + ")"
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "unknown provider") {
			t.Errorf("Lookup(%q): %q, want it to say unknown provider and list %s", name, err, want)
		}
	}
	if err := checkProviders([]string{exposure.ProviderAWS, "bogus"}); err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf("checkProviders: %v, want an error naming bogus", err)
	}
}

// TestUnitsFollowRegional: a regional driver's units are account × region
// directories, the others' account directories, as Driver.Regional says.
func TestUnitsFollowRegional(t *testing.T) {
	fsys := fstest.MapFS{}
	for _, d := range Drivers() {
		fsys[d.Name+"/acct/sub/x.json"] = &fstest.MapFile{Data: []byte("[]")}
	}
	units := Units(fsys, append(Providers(), "bogus"))
	if len(units) != len(Drivers()) {
		t.Fatalf("units %v, want one per driver", units)
	}
	for _, u := range units {
		d, err := Lookup(u.Provider)
		if err != nil {
			t.Fatalf("unit %+v: %v", u, err)
		}
		want := exposure.Scope{Provider: d.Name, Account: "acct"}
		if d.Regional {
			want.Region = "sub"
		}
		if u != want {
			t.Errorf("unit %+v, want %+v", u, want)
		}
	}
}
