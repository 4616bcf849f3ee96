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
	"fmt"
	"log/slog"
	"regexp"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/providers"
	"google.golang.org/api/option"
)

// Provider is the provider name used in scopes and snapshot paths (the
// model's name for it).
const Provider = exposure.ProviderGCP

// Config says what to collect and how to reach the APIs.
type Config struct {
	// Projects are the project IDs to audit. Empty means every ACTIVE
	// project the credentials can see (Resource Manager SearchProjects).
	Projects []string
	// Parents, when Projects is empty, selects every ACTIVE project under
	// these organizations or folders ("organizations/123",
	// "folders/456"), at any depth; see org.go.
	Parents []string
	// Endpoint replaces the compute and Resource Manager endpoints (an
	// emulator, a Private Service Connect endpoint). A loopback http URL
	// is used without credentials.
	Endpoint string
	// Concurrency bounds how many projects are collected at once (default
	// 4); within a project at most 4 list calls run at once.
	Concurrency int
	// ClientOptions are appended to the options of every API client (for
	// example option.WithCredentialsFile); nil uses Application Default
	// Credentials.
	ClientOptions []option.ClientOption
	// Logger receives debug and progress messages; nil uses slog.Default.
	Logger *slog.Logger
}

// Permissions lists every IAM permission the collector needs: the
// roles/compute.viewer predefined role holds all the compute ones, and
// resourcemanager.projects.get is what SearchProjects returns projects for.
// collect_test.go checks this list against the calls a collection makes.
var Permissions = []string{
	"compute.backendServices.list",
	"compute.firewalls.list",
	"compute.forwardingRules.list",
	"compute.globalForwardingRules.list",
	"compute.instanceGroups.list",
	"compute.instances.list",
	"compute.networks.getEffectiveFirewalls",
	"compute.networks.list",
	"compute.networkFirewallPolicies.get",
	"compute.networkEndpointGroups.list",
	"compute.networkFirewallPolicies.list",
	"compute.regionNetworkFirewallPolicies.get",
	"compute.routers.list",
	"compute.subnetworks.list",
	"compute.targetHttpProxies.list",
	"compute.targetHttpsProxies.list",
	"compute.targetInstances.list",
	"compute.targetPools.list",
	"compute.targetSslProxies.list",
	"compute.targetTcpProxies.list",
	"compute.urlMaps.list",
	"resourcemanager.projects.get",
}

// Driver is what the GCP provider promises audit (providers.Driver). A unit
// of collection is one project, every region of it in one pass.
var Driver = providers.Driver{
	Name:        Provider,
	Title:       "Google Cloud",
	Normalize:   Normalize,
	Permissions: Permissions,
	ValidScope:  validScope,
}

// projectPattern is the shape of a project ID: 6-30 lower-case letters,
// digits and hyphens
// (https://cloud.google.com/resource-manager/docs/creating-managing-projects);
// legacy domain-scoped IDs carry "domain:".
var projectPattern = regexp.MustCompile(`^([a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$`)

// validScope checks one project before it becomes a snapshot path, an
// object key or an API call.
func validScope(project, region string) error {
	if !projectPattern.MatchString(project) {
		return fmt.Errorf("gcp project %q is not a project ID", project)
	}
	if region != "" {
		return fmt.Errorf("gcp project %s: region must be empty (a project is collected whole)", project)
	}
	return nil
}

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
