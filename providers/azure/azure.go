// Package azure is Portcullis's Azure driver: it collects, per subscription,
// the Microsoft.Network resources that decide whether internet traffic
// reaches something (NSGs, VNets and subnets, NICs, public IPs, load
// balancers, application security groups, route tables, Azure Firewall DNAT
// rules, service tags) into a snapshot of raw ARM REST JSON, and normalizes a
// snapshot into an exposure.Inventory.
//
// Path semantics follow Microsoft's documentation of NSG processing:
// https://learn.microsoft.com/azure/virtual-network/network-security-group-how-it-works
// The full list of choices (service tags, source ports, unknown references)
// is in docs/providers/azure.md.
package azure

import (
	"fmt"
	"log/slog"
	"regexp"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/providers"
)

// Provider is the provider name used in scopes and snapshot paths (the
// model's name for it).
const Provider = exposure.ProviderAzure

// Config selects what the collector audits and how it reaches Azure.
type Config struct {
	// Subscriptions are the subscription IDs to audit; empty means every
	// enabled subscription the credentials can list.
	Subscriptions []string
	// ManagementGroups, when Subscriptions is empty, selects the enabled
	// subscriptions below these management groups, at any depth; see
	// org.go.
	ManagementGroups []string
	// Cloud is public (default), china or usgovernment.
	Cloud string
	// Endpoint overrides the Resource Manager endpoint (an emulator, Azure
	// Stack Hub). A loopback http:// URL is used with a static token and no
	// credentials.
	Endpoint string
	// Concurrency is the number of subscriptions collected at once; 0 = 4.
	Concurrency int
	// Credential, when set, is used instead of DefaultAzureCredential (a
	// federated or client-secret credential the caller built, e.g. in the
	// serverless collect function). Ignored for loopback emulators.
	Credential azcore.TokenCredential
	// Logger receives debug and warning messages; nil = slog.Default().
	Logger *slog.Logger
}

// Snapshot file names, one per list API, under azure/<subscription-id>/.
const (
	fileNSGs                = "network-security-groups.json"
	fileVNets               = "virtual-networks.json"
	fileNICs                = "network-interfaces.json"
	filePublicIPs           = "public-ip-addresses.json"
	fileLoadBalancers       = "load-balancers.json"
	fileNATGateways         = "nat-gateways.json"
	fileASGs                = "application-security-groups.json"
	fileRouteTables         = "route-tables.json"
	fileFirewalls           = "azure-firewalls.json"
	fileFirewallPolicies    = "firewall-policies.json"
	dirRuleCollectionGroups = "firewall-policy-rule-collection-groups"
	fileServiceTags         = "service-tags.json"
)

// Permissions are the Azure RBAC actions the collector needs; the built-in
// Reader role grants all of them. A test checks them against the requests
// the collector sends.
var Permissions = []string{
	"Microsoft.Resources/subscriptions/read",
	"Microsoft.Network/networkSecurityGroups/read",
	"Microsoft.Network/virtualNetworks/read",
	"Microsoft.Network/networkInterfaces/read",
	"Microsoft.Network/publicIPAddresses/read",
	"Microsoft.Network/loadBalancers/read",
	"Microsoft.Network/natGateways/read",
	"Microsoft.Network/applicationSecurityGroups/read",
	"Microsoft.Network/routeTables/read",
	"Microsoft.Network/azurefirewalls/read",
	"Microsoft.Network/firewallPolicies/read",
	"Microsoft.Network/firewallPolicies/ruleCollectionGroups/read",
	"Microsoft.Network/locations/serviceTags/read",
	"Microsoft.Network/ipGroups/read",
	"Microsoft.Network/applicationGateways/read",
	"Microsoft.Compute/virtualMachineScaleSets/read",
	"Microsoft.Compute/virtualMachineScaleSets/networkInterfaces/read",
	"Microsoft.Compute/virtualMachineScaleSets/publicIPAddresses/read",
}

// Driver is what the Azure provider promises audit (providers.Driver). A
// unit of collection is one subscription, every region of it in one pass.
var Driver = providers.Driver{
	Name:        Provider,
	Title:       "Azure",
	Normalize:   Normalize,
	Permissions: Permissions,
	ValidScope:  validScope,
}

// subscriptionPattern is the shape of a subscription ID, a GUID
// (https://learn.microsoft.com/azure/azure-portal/get-subscription-tenant-id).
var subscriptionPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// validScope checks one subscription before it becomes a snapshot path,
// an object key or an API call.
func validScope(subscription, region string) error {
	if !subscriptionPattern.MatchString(subscription) {
		return fmt.Errorf("azure subscription %q is not a subscription ID", subscription)
	}
	if region != "" {
		return fmt.Errorf("azure subscription %s: region must be empty (a subscription is collected whole)", subscription)
	}
	return nil
}
