package audit

import (
	"io/fs"
	"path"
	"slices"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Units lists the collection units a snapshot holds for the given
// providers: AWS account × region (aws/<account>/<region>/), GCP projects
// (gcp/<project>/) and Azure subscriptions (azure/<subscription>/). The
// report publishes them (scope.units) so that the state knows which scopes
// a run covered, including those where it found nothing: a port opened
// later in a clean region is then "new", not part of a first baseline.
func Units(fsys fs.FS, providers []string) []exposure.Scope {
	var out []exposure.Scope
	dirs := func(p string) []string {
		entries, err := fs.ReadDir(fsys, p)
		if err != nil {
			return nil
		}
		var names []string
		for _, e := range entries {
			if e.IsDir() {
				names = append(names, e.Name())
			}
		}
		return names
	}
	for _, p := range providers {
		d, err := lookup(p)
		if err != nil {
			continue // not a provider: no units
		}
		for _, acct := range dirs(p) {
			if !d.Regional {
				out = append(out, exposure.Scope{Provider: p, Account: acct})
				continue
			}
			for _, region := range dirs(path.Join(p, acct)) {
				out = append(out, exposure.Scope{Provider: p, Account: acct, Region: region})
			}
		}
	}
	slices.SortFunc(out, compareScopes)
	return out
}
