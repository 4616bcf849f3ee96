package audit

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/providers"
)

// snapshotScope filters an offline audit's snapshot by the scope flags,
// as a live audit collects only what they name: AWS regions
// (aws/<account>/<region>), GCP projects (gcp/<project>) and Azure
// subscriptions (azure/<subscription>). A named scope the snapshot lacks
// is an error in the report; the partial failures the snapshot recorded
// for scopes left out are left out with them.
type snapshotScope struct {
	regions, projects, subscriptions []string
}

func (o *Options) snapshotScope() snapshotScope {
	lower := func(ss []string) []string {
		out := make([]string, len(ss))
		for i, s := range ss {
			out[i] = strings.ToLower(s)
		}
		return out
	}
	return snapshotScope{regions: o.AWS.Regions, projects: o.GCP.Projects, subscriptions: lower(o.Azure.Subscriptions)}
}

func (s snapshotScope) empty() bool {
	return len(s.regions)+len(s.projects)+len(s.subscriptions) == 0
}

// allows reports whether a slash-separated snapshot path is in scope.
func (s snapshotScope) allows(name string) bool {
	parts := strings.Split(name, "/")
	switch {
	case parts[0] == exposure.ProviderAWS && len(parts) >= 3 && len(s.regions) > 0:
		// aws/<account>/<file> (the caller identity) is not a region.
		return strings.HasSuffix(parts[2], ".json") || slices.Contains(s.regions, parts[2])
	case parts[0] == exposure.ProviderGCP && len(parts) >= 2 && len(s.projects) > 0:
		return slices.Contains(s.projects, parts[1])
	case parts[0] == exposure.ProviderAzure && len(parts) >= 2 && len(s.subscriptions) > 0:
		return slices.Contains(s.subscriptions, strings.ToLower(parts[1]))
	}
	return true
}

// allowsError reports whether a recorded failure is about a scope in scope.
func (s snapshotScope) allowsError(e exposure.Error) bool {
	switch {
	case e.Provider == exposure.ProviderAWS && e.Region != "" && len(s.regions) > 0:
		return slices.Contains(s.regions, e.Region)
	case e.Provider == exposure.ProviderGCP && e.Account != "" && len(s.projects) > 0:
		return slices.Contains(s.projects, e.Account)
	case e.Provider == exposure.ProviderAzure && e.Account != "" && len(s.subscriptions) > 0:
		return slices.Contains(s.subscriptions, strings.ToLower(e.Account))
	}
	return true
}

// missing returns an error for every named scope the snapshot lacks.
func (s snapshotScope) missing(fsys fs.FS) []exposure.Error {
	var out []exposure.Error
	has := func(dir string, match func(string) bool) bool {
		entries, err := fs.ReadDir(fsys, dir)
		if err != nil {
			return false
		}
		for _, e := range entries {
			if e.IsDir() && match(e.Name()) {
				return true
			}
		}
		return false
	}
	accounts, _ := fs.ReadDir(fsys, exposure.ProviderAWS)
	for _, r := range s.regions {
		found := false
		for _, a := range accounts {
			if a.IsDir() && has(path.Join(exposure.ProviderAWS, a.Name()), func(n string) bool { return n == r }) {
				found = true
			}
		}
		if !found {
			out = append(out, exposure.Error{Scope: exposure.Scope{Provider: exposure.ProviderAWS, Region: r}, Stage: "snapshot",
				Message: "region " + r + " (--regions) is not in the snapshot: nothing of it was audited"})
		}
	}
	for _, p := range s.projects {
		if !has(exposure.ProviderGCP, func(n string) bool { return n == p }) {
			out = append(out, exposure.Error{Scope: exposure.Scope{Provider: exposure.ProviderGCP, Account: p}, Stage: "snapshot",
				Message: "project " + p + " (--gcp-projects) is not in the snapshot: nothing of it was audited"})
		}
	}
	for _, sub := range s.subscriptions {
		if !has(exposure.ProviderAzure, func(n string) bool { return strings.ToLower(n) == sub }) {
			out = append(out, exposure.Error{Scope: exposure.Scope{Provider: exposure.ProviderAzure, Account: sub}, Stage: "snapshot",
				Message: "subscription " + sub + " (--azure-subscriptions) is not in the snapshot: nothing of it was audited"})
		}
	}
	return out
}

// filter returns the snapshot as the scope sees it.
func (s snapshotScope) filter(fsys fs.FS) fs.FS {
	if s.empty() {
		return fsys
	}
	return scopedFS{fsys: fsys, scope: s}
}

// scopedFS hides the paths a snapshotScope leaves out.
type scopedFS struct {
	fsys  fs.FS
	scope snapshotScope
}

func (f scopedFS) Open(name string) (fs.File, error) {
	if !f.scope.allows(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return f.fsys.Open(name)
}

func (f scopedFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !f.scope.allows(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	entries, err := fs.ReadDir(f.fsys, name)
	if err != nil {
		return nil, err
	}
	out := entries[:0:0]
	for _, e := range entries {
		if f.scope.allows(path.Join(name, e.Name())) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f scopedFS) ReadFile(name string) ([]byte, error) {
	if !f.scope.allows(name) {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
	}
	return fs.ReadFile(f.fsys, name)
}

// readScopedSnapshot is the offline source: the snapshot filtered by the
// scope flags, with its recorded failures in scope and an error for each
// named scope it lacks.
func (o *Options) readScopedSnapshot() (fs.FS, []exposure.Error, error) {
	errs, err := providers.ReadErrors(o.Snapshot)
	if err != nil {
		return nil, nil, fmt.Errorf("read snapshot: %w", err)
	}
	s := o.snapshotScope()
	if s.empty() {
		return o.Snapshot, errs, nil
	}
	kept := errs[:0:0]
	for _, e := range errs {
		if s.allowsError(e) {
			kept = append(kept, e)
		}
	}
	return s.filter(o.Snapshot), append(kept, s.missing(o.Snapshot)...), nil
}

// auditedProviders returns the providers of which at least one unit
// (account-region, project, subscription) was read: a filtering layer
// whose rules are known, or a target. A provider directory that holds
// nothing readable (empty, every region denied, every file broken) audited
// nothing, and its controls are not applicable rather than passed.
func auditedProviders(inv *exposure.Inventory, names []string) []string {
	seen := map[string]bool{}
	for _, l := range Layers(inv) {
		if l.Unknown == "" && l.Account != "" {
			seen[l.Provider] = true
		}
	}
	for _, t := range inv.Targets {
		if t != nil && t.Account != "" {
			seen[t.Provider] = true
		}
	}
	var out []string
	for _, n := range names {
		if seen[n] {
			out = append(out, n)
		}
	}
	return out
}
