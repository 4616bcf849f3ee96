package gcp

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"

	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/api/iterator"
)

// OrgPermissions are what collecting every project under an organization
// or folder (Config.Parents) needs beyond Permissions, granted on that
// organization or folder (roles/browser holds both).
var OrgPermissions = []string{
	"resourcemanager.folders.list",
	"resourcemanager.projects.list",
}

// parentPattern is a Resource Manager parent: organizations/<number> or
// folders/<number>.
// https://cloud.google.com/resource-manager/reference/rest/v3/projects/list
var parentPattern = regexp.MustCompile(`^(organizations|folders)/[0-9]{1,20}$`)

// ValidParent checks a Config.Parents entry.
func ValidParent(p string) error {
	if !parentPattern.MatchString(p) {
		return fmt.Errorf("%q is not organizations/<number> or folders/<number>", p)
	}
	return nil
}

// projectsUnder returns the IDs of every ACTIVE project under parents, at
// any depth. projects.list returns only a parent's direct children (and
// projects.search has no ancestor filter), so the folders below are walked
// with folders.list, which by default leaves out folders being deleted.
// https://cloud.google.com/resource-manager/reference/rest/v3/folders/list
func (c *Collector) projectsUnder(ctx context.Context, parents []string) ([]string, error) {
	for _, p := range parents {
		if err := ValidParent(p); err != nil {
			return nil, err
		}
	}
	projects, err := resourcemanager.NewProjectsRESTClient(ctx, c.opts...)
	if err != nil {
		return nil, fmt.Errorf("create resource manager client: %w", err)
	}
	defer projects.Close()
	folders, err := resourcemanager.NewFoldersRESTClient(ctx, c.opts...)
	if err != nil {
		return nil, fmt.Errorf("create resource manager folders client: %w", err)
	}
	defer folders.Close()

	var ids []string
	queue, seen := slices.Clone(parents), map[string]bool{}
	for len(queue) > 0 {
		parent := queue[0]
		queue = queue[1:]
		if seen[parent] {
			continue
		}
		seen[parent] = true
		pit := projects.ListProjects(ctx, &resourcemanagerpb.ListProjectsRequest{Parent: parent})
		for {
			p, err := pit.Next()
			if errors.Is(err, iterator.Done) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("list projects of %s: %w", parent, err)
			}
			if p.GetState() == resourcemanagerpb.Project_ACTIVE {
				ids = append(ids, p.GetProjectId())
			}
		}
		fit := folders.ListFolders(ctx, &resourcemanagerpb.ListFoldersRequest{Parent: parent})
		for {
			f, err := fit.Next()
			if errors.Is(err, iterator.Done) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("list folders of %s: %w", parent, err)
			}
			if f.GetState() == resourcemanagerpb.Folder_ACTIVE {
				queue = append(queue, f.GetName())
			}
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}
