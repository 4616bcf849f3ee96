package azure

import (
	"strings"
)

// The types below are the parts of the ARM REST JSON (Microsoft.Network,
// api-version 2025-01-01) that decide inbound exposure. They are read from
// snapshots, which hold the API's own JSON, so unknown fields are ignored and
// exports of other API versions work. SDK types are not used here on purpose:
// the snapshot is the contract, and an auditor may hand over `az rest`
// output instead of running the collector.

// ref is an ARM sub-resource reference.
type ref struct {
	ID string `json:"id"`
}

func (r *ref) id() string {
	if r == nil {
		return ""
	}
	return normID(r.ID)
}

// normID lower-cases an ARM resource ID: ARM IDs are case-insensitive and
// the API is not consistent about case between a resource and the
// references to it (e.g. resourceGroups/RG-WEB vs rg-web).
func normID(id string) string { return strings.ToLower(strings.TrimSpace(id)) }

type sku struct {
	Name string `json:"name"`
	Tier string `json:"tier"`
}

type nsgDoc struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties struct {
		SecurityRules        []ruleDoc `json:"securityRules"`
		DefaultSecurityRules []ruleDoc `json:"defaultSecurityRules"`
		NetworkInterfaces    []ref     `json:"networkInterfaces"`
		Subnets              []ref     `json:"subnets"`
	} `json:"properties"`
}

type ruleDoc struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Properties struct {
		Description                          string   `json:"description"`
		Protocol                             string   `json:"protocol"`
		SourcePortRange                      string   `json:"sourcePortRange"`
		SourcePortRanges                     []string `json:"sourcePortRanges"`
		DestinationPortRange                 string   `json:"destinationPortRange"`
		DestinationPortRanges                []string `json:"destinationPortRanges"`
		SourceAddressPrefix                  string   `json:"sourceAddressPrefix"`
		SourceAddressPrefixes                []string `json:"sourceAddressPrefixes"`
		SourceApplicationSecurityGroups      []ref    `json:"sourceApplicationSecurityGroups"`
		DestinationAddressPrefix             string   `json:"destinationAddressPrefix"`
		DestinationAddressPrefixes           []string `json:"destinationAddressPrefixes"`
		DestinationApplicationSecurityGroups []ref    `json:"destinationApplicationSecurityGroups"`
		Access                               string   `json:"access"`
		Priority                             *int64   `json:"priority"`
		Direction                            string   `json:"direction"`
	} `json:"properties"`
}

type vnetDoc struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties struct {
		AddressSpace struct {
			AddressPrefixes []string `json:"addressPrefixes"`
		} `json:"addressSpace"`
		Subnets                []subnetDoc `json:"subnets"`
		VirtualNetworkPeerings []struct {
			Name       string `json:"name"`
			Properties struct {
				PeeringState       string `json:"peeringState"`
				RemoteAddressSpace *struct {
					AddressPrefixes []string `json:"addressPrefixes"`
				} `json:"remoteAddressSpace"`
				RemoteVirtualNetwork *ref `json:"remoteVirtualNetwork"`
			} `json:"properties"`
		} `json:"virtualNetworkPeerings"`
	} `json:"properties"`
}

type subnetDoc struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Properties struct {
		AddressPrefix        string   `json:"addressPrefix"`
		AddressPrefixes      []string `json:"addressPrefixes"`
		NetworkSecurityGroup *ref     `json:"networkSecurityGroup"`
		RouteTable           *ref     `json:"routeTable"`
		NatGateway           *ref     `json:"natGateway"`
	} `json:"properties"`
}

type nicDoc struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties struct {
		NetworkSecurityGroup *ref          `json:"networkSecurityGroup"`
		VirtualMachine       *ref          `json:"virtualMachine"`
		IPConfigurations     []ipConfigDoc `json:"ipConfigurations"`
	} `json:"properties"`
}

type ipConfigDoc struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Properties struct {
		PrivateIPAddress                string `json:"privateIPAddress"`
		PrivateIPAddressVersion         string `json:"privateIPAddressVersion"`
		Primary                         bool   `json:"primary"`
		Subnet                          *ref   `json:"subnet"`
		PublicIPAddress                 *ref   `json:"publicIPAddress"`
		ApplicationSecurityGroups       []ref  `json:"applicationSecurityGroups"`
		LoadBalancerBackendAddressPools []ref  `json:"loadBalancerBackendAddressPools"`
		LoadBalancerInboundNatRules     []ref  `json:"loadBalancerInboundNatRules"`
	} `json:"properties"`
}

type publicIPDoc struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	SKU        *sku              `json:"sku"`
	Properties struct {
		IPAddress                string `json:"ipAddress"`
		PublicIPAddressVersion   string `json:"publicIPAddressVersion"`
		PublicIPAllocationMethod string `json:"publicIPAllocationMethod"`
		IPConfiguration          *ref   `json:"ipConfiguration"`
		DNSSettings              *struct {
			FQDN string `json:"fqdn"`
		} `json:"dnsSettings"`
	} `json:"properties"`
}

type lbDoc struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	SKU        *sku              `json:"sku"`
	Properties struct {
		FrontendIPConfigurations []struct {
			ID         string `json:"id"`
			Name       string `json:"name"`
			Properties struct {
				PublicIPAddress  *ref   `json:"publicIPAddress"`
				PublicIPPrefix   *ref   `json:"publicIPPrefix"`
				Subnet           *ref   `json:"subnet"`
				PrivateIPAddress string `json:"privateIPAddress"`
			} `json:"properties"`
		} `json:"frontendIPConfigurations"`
		BackendAddressPools []struct {
			ID         string `json:"id"`
			Name       string `json:"name"`
			Properties struct {
				BackendIPConfigurations      []ref `json:"backendIPConfigurations"`
				LoadBalancerBackendAddresses []struct {
					Name       string `json:"name"`
					Properties struct {
						IPAddress                       string `json:"ipAddress"`
						VirtualNetwork                  *ref   `json:"virtualNetwork"`
						Subnet                          *ref   `json:"subnet"`
						NetworkInterfaceIPConfiguration *ref   `json:"networkInterfaceIPConfiguration"`
					} `json:"properties"`
				} `json:"loadBalancerBackendAddresses"`
			} `json:"properties"`
		} `json:"backendAddressPools"`
		LoadBalancingRules []struct {
			ID         string `json:"id"`
			Name       string `json:"name"`
			Properties struct {
				FrontendIPConfiguration *ref   `json:"frontendIPConfiguration"`
				BackendAddressPool      *ref   `json:"backendAddressPool"`
				BackendAddressPools     []ref  `json:"backendAddressPools"`
				Protocol                string `json:"protocol"`
				FrontendPort            *int64 `json:"frontendPort"`
				BackendPort             *int64 `json:"backendPort"`
				EnableFloatingIP        bool   `json:"enableFloatingIP"`
			} `json:"properties"`
		} `json:"loadBalancingRules"`
		InboundNatRules []natRuleDoc `json:"inboundNatRules"`
		InboundNatPools []struct {
			ID         string `json:"id"`
			Name       string `json:"name"`
			Properties struct {
				FrontendIPConfiguration *ref   `json:"frontendIPConfiguration"`
				Protocol                string `json:"protocol"`
				FrontendPortRangeStart  *int64 `json:"frontendPortRangeStart"`
				FrontendPortRangeEnd    *int64 `json:"frontendPortRangeEnd"`
				BackendPort             *int64 `json:"backendPort"`
				EnableFloatingIP        bool   `json:"enableFloatingIP"`
			} `json:"properties"`
		} `json:"inboundNatPools"`
	} `json:"properties"`
}

type natRuleDoc struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Properties struct {
		FrontendIPConfiguration *ref   `json:"frontendIPConfiguration"`
		BackendIPConfiguration  *ref   `json:"backendIPConfiguration"`
		BackendAddressPool      *ref   `json:"backendAddressPool"`
		Protocol                string `json:"protocol"`
		FrontendPort            *int64 `json:"frontendPort"`
		BackendPort             *int64 `json:"backendPort"`
		FrontendPortRangeStart  *int64 `json:"frontendPortRangeStart"`
		FrontendPortRangeEnd    *int64 `json:"frontendPortRangeEnd"`
		EnableFloatingIP        bool   `json:"enableFloatingIP"`
	} `json:"properties"`
}

type asgDoc struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Location string            `json:"location"`
	Tags     map[string]string `json:"tags"`
}

type routeTableDoc struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Properties struct {
		Routes []struct {
			Name       string `json:"name"`
			Properties struct {
				AddressPrefix string `json:"addressPrefix"`
				NextHopType   string `json:"nextHopType"`
			} `json:"properties"`
		} `json:"routes"`
	} `json:"properties"`
}

type natGatewayDoc struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type firewallDoc struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties struct {
		IPConfigurations []struct {
			ID         string `json:"id"`
			Name       string `json:"name"`
			Properties struct {
				PrivateIPAddress string `json:"privateIPAddress"`
				PublicIPAddress  *ref   `json:"publicIPAddress"`
				Subnet           *ref   `json:"subnet"`
			} `json:"properties"`
		} `json:"ipConfigurations"`
		HubIPAddresses *struct {
			PublicIPs *struct {
				Addresses []struct {
					Address string `json:"address"`
				} `json:"addresses"`
			} `json:"publicIPs"`
		} `json:"hubIPAddresses"`
		NatRuleCollections []struct {
			ID         string `json:"id"`
			Name       string `json:"name"`
			Properties struct {
				Priority *int64 `json:"priority"`
				Action   *struct {
					Type string `json:"type"`
				} `json:"action"`
				Rules []fwNatRuleDoc `json:"rules"`
			} `json:"properties"`
		} `json:"natRuleCollections"`
		FirewallPolicy *ref `json:"firewallPolicy"`
	} `json:"properties"`
}

// fwNatRuleDoc is one DNAT rule: classic (AzureFirewallNatRule, protocols)
// and policy (NatRule, ipProtocols) rules share every other field name.
type fwNatRuleDoc struct {
	Name                 string   `json:"name"`
	Description          string   `json:"description"`
	RuleType             string   `json:"ruleType"`
	Protocols            []string `json:"protocols"`
	IPProtocols          []string `json:"ipProtocols"`
	SourceAddresses      []string `json:"sourceAddresses"`
	SourceIPGroups       []string `json:"sourceIpGroups"`
	DestinationAddresses []string `json:"destinationAddresses"`
	DestinationPorts     []string `json:"destinationPorts"`
	TranslatedAddress    string   `json:"translatedAddress"`
	TranslatedFQDN       string   `json:"translatedFqdn"`
	TranslatedPort       string   `json:"translatedPort"`
}

type firewallPolicyDoc struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Properties struct {
		BasePolicy *ref `json:"basePolicy"`
	} `json:"properties"`
}

type ruleCollectionGroupDoc struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Properties struct {
		Priority        *int64 `json:"priority"`
		RuleCollections []struct {
			Name               string `json:"name"`
			RuleCollectionType string `json:"ruleCollectionType"`
			Priority           *int64 `json:"priority"`
			Action             *struct {
				Type string `json:"type"`
			} `json:"action"`
			Rules []fwNatRuleDoc `json:"rules"`
		} `json:"ruleCollections"`
	} `json:"properties"`
}

type serviceTagsDoc struct {
	Values []struct {
		Name       string `json:"name"`
		ID         string `json:"id"`
		Properties struct {
			AddressPrefixes []string `json:"addressPrefixes"`
		} `json:"properties"`
	} `json:"values"`
}
