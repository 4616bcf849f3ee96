// Package gcp is Portcullis's Google Cloud driver: it collects the compute
// resources that decide what the internet reaches (VPC firewall rules,
// hierarchical and network firewall policies, instances and their external
// addresses, forwarding rules and the load-balancer backends behind them,
// Cloud NAT) into a snapshot of REST JSON, and normalizes such a snapshot
// into an exposure.Inventory.
//
// The snapshot holds, per project, one JSON array per resource list in the
// shape `gcloud compute <group> list --format=json` prints (REST field
// names), so a customer can produce it without Portcullis; the layout is
// documented in docs/providers/gcp.md.
package gcp

import (
	"net/url"
	"strconv"
	"strings"
)

// Provider is the provider name used in scopes and snapshot paths.
const Provider = "gcp"

// Snapshot file names, one per resource list, under gcp/<project-id>/.
const (
	FileNetworks                = "networks.json"
	FileSubnetworks             = "subnetworks.json"
	FileFirewallRules           = "firewall-rules.json"
	FileNetworkFirewallPolicies = "network-firewall-policies.json"
	DirEffectiveFirewalls       = "effective-firewalls" // <network-name>.json each
	FileInstances               = "instances.json"
	FileForwardingRules         = "forwarding-rules.json"
	FileTargetPools             = "target-pools.json"
	FileTargetInstances         = "target-instances.json"
	FileBackendServices         = "backend-services.json"
	FileInstanceGroups          = "instance-groups.json"
	FileInstanceGroupMembers    = "instance-group-members.json"
	FileNetworkEndpointGroups   = "network-endpoint-groups.json"
	FileNetworkEndpoints        = "network-endpoint-group-members.json"
	FileTargetHTTPProxies       = "target-http-proxies.json"
	FileTargetHTTPSProxies      = "target-https-proxies.json"
	FileTargetSSLProxies        = "target-ssl-proxies.json"
	FileTargetTCPProxies        = "target-tcp-proxies.json"
	FileURLMaps                 = "url-maps.json"
	FileRouters                 = "routers.json"
)

// resourceKey reduces a compute resource URL to its path from "projects/",
// so that a full selfLink
// (https://www.googleapis.com/compute/v1/projects/p/global/networks/n), a
// partial URL (projects/p/global/networks/n) and the form with a
// different API version or host all compare equal.
func resourceKey(s string) string {
	s = strings.TrimSpace(s)
	if u, err := url.Parse(s); err == nil && u.Scheme != "" {
		s = u.Path
	}
	if i := strings.Index(s, "projects/"); i >= 0 {
		s = s[i:]
	}
	return strings.TrimSuffix(s, "/")
}

// lastSegment returns what follows the last slash of a resource URL (the
// resource name, or a zone or region name).
func lastSegment(s string) string {
	s = strings.TrimSuffix(s, "/")
	if i := strings.LastIndex(s, "/"); i >= 0 {
		return s[i+1:]
	}
	return s
}

// regionOfZone turns a zone name (europe-west1-b) into its region
// (europe-west1).
func regionOfZone(zone string) string {
	zone = lastSegment(zone)
	if i := strings.LastIndex(zone, "-"); i > 0 {
		return zone[:i]
	}
	return zone
}

// segmentAfter returns the path segment following key in a resource URL
// ("zones" in projects/p/zones/z/instances/i gives z).
func segmentAfter(s, key string) string {
	parts := strings.Split(resourceKey(s), "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == key {
			return parts[i+1]
		}
	}
	return ""
}

func itoa(i int) string { return strconv.Itoa(i) }
