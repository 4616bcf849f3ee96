package azure

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// OrgPermissions are what collecting the subscriptions of management
// groups (Config.ManagementGroups) needs beyond Permissions, granted on
// those groups (the built-in Reader role holds it).
var OrgPermissions = []string{
	"Microsoft.Management/managementGroups/descendants/read",
}

// descendantsAPIVersion is the stable Management Groups API whose
// descendants operation lists every management group and subscription
// below a group, at any depth.
// https://learn.microsoft.com/rest/api/managementgroups/management-groups/get-descendants
const descendantsAPIVersion = "2023-04-01"

// Management group IDs: up to 90 letters, digits, hyphens, underscores,
// periods and parentheses.
// https://learn.microsoft.com/azure/governance/management-groups/create-management-group-rest
var managementGroupPattern = regexp.MustCompile(`^[\w.()-]{1,90}$`)

// ValidManagementGroup checks a Config.ManagementGroups entry.
func ValidManagementGroup(id string) error {
	if !managementGroupPattern.MatchString(id) {
		return fmt.Errorf("%q is not a management group ID", id)
	}
	return nil
}

// managementGroupSubscriptions lists the subscription IDs below groups, at
// any depth, sorted. The descendants API says nothing of a subscription's
// state; the caller keeps the enabled ones.
func (c *collector) managementGroupSubscriptions(ctx context.Context, groups []string) ([]string, error) {
	client, err := arm.NewClient("portcullis/providers/azure", "v1.0.0", c.cred, c.opts)
	if err != nil {
		return nil, fmt.Errorf("create management groups client: %w", err)
	}
	base, err := url.Parse(client.Endpoint())
	if err != nil {
		return nil, fmt.Errorf("resource manager endpoint: %w", err)
	}
	var subs []string
	for _, g := range groups {
		if err := ValidManagementGroup(g); err != nil {
			return nil, err
		}
		next := runtime.JoinPaths(client.Endpoint(), "/providers/Microsoft.Management/managementGroups/"+url.PathEscape(g)+"/descendants") +
			"?api-version=" + descendantsAPIVersion
		for next != "" {
			page, err := armPage[descendants](ctx, client, next, "descendants")
			if err != nil {
				return nil, fmt.Errorf("list descendants of management group %s: %w", g, err)
			}
			for _, d := range page.Value {
				// Subscriptions are typed
				// Microsoft.Management/managementGroups/subscriptions
				// with id /subscriptions/<id>; groups are descended
				// into by the API itself.
				if strings.EqualFold(d.Type, "Microsoft.Management/managementGroups/subscriptions") || strings.EqualFold(d.Type, "/subscriptions") {
					if id, ok := strings.CutPrefix(strings.ToLower(d.ID), "/subscriptions/"); ok && id != "" {
						subs = append(subs, id)
					}
				}
			}
			next = ""
			if page.NextLink != nil && *page.NextLink != "" {
				// The bearer token goes only to the Resource Manager
				// endpoint: a nextLink elsewhere is refused.
				u, err := url.Parse(*page.NextLink)
				if err != nil || u.Scheme != base.Scheme || u.Host != base.Host {
					return nil, fmt.Errorf("list descendants of management group %s: nextLink %q is not on %s", g, *page.NextLink, base.Host)
				}
				next = *page.NextLink
			}
		}
	}
	slices.Sort(subs)
	return slices.Compact(subs), nil
}

type descendants struct {
	Value []struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"value"`
	NextLink *string `json:"nextLink"`
}

// subscriptionsOfGroups is the enabled subscriptions below the configured
// management groups: the descendants that the subscriptions list shows as
// Enabled. A descendant it does not show (disabled, or out of the
// credentials' reach) is skipped and logged.
func (c *collector) subscriptionsOfGroups(ctx context.Context) ([]string, error) {
	below, err := c.managementGroupSubscriptions(ctx, c.cfg.ManagementGroups)
	if err != nil {
		return nil, err
	}
	enabled, err := c.listSubscriptions(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range below {
		if slices.ContainsFunc(enabled, func(e string) bool { return strings.EqualFold(e, s) }) {
			out = append(out, s)
			continue
		}
		c.log.Debug("skip subscription of management group: not enabled or not visible", "provider", Provider, "subscription", s)
	}
	return out, nil
}
