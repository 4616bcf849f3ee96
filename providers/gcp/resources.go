package gcp

// The REST JSON shapes Normalize reads: only the fields that decide
// exposure. encoding/json matches field names case-insensitively, so
// "IPProtocol" (VPC firewall rules) and "ipProtocol" (firewall policy
// rules) both land in l4Config.IPProtocol, as the two APIs spell them.

type network struct {
	Name     string `json:"name"`
	SelfLink string `json:"selfLink"`
	// NetworkFirewallPolicyEnforcementOrder is AFTER_CLASSIC_FIREWALL
	// (the default when empty) or BEFORE_CLASSIC_FIREWALL.
	NetworkFirewallPolicyEnforcementOrder string `json:"networkFirewallPolicyEnforcementOrder"`
}

type subnetwork struct {
	Name        string `json:"name"`
	SelfLink    string `json:"selfLink"`
	Network     string `json:"network"`
	Region      string `json:"region"`
	IPCidrRange string `json:"ipCidrRange"`
	Purpose     string `json:"purpose"`
	Role        string `json:"role"`
}

type l4Config struct {
	IPProtocol string   `json:"IPProtocol"`
	Ports      []string `json:"ports"`
}

type firewall struct {
	Name                  string     `json:"name"`
	SelfLink              string     `json:"selfLink"`
	Description           string     `json:"description"`
	Network               string     `json:"network"`
	Direction             string     `json:"direction"`
	Priority              *int64     `json:"priority"`
	Disabled              bool       `json:"disabled"`
	SourceRanges          []string   `json:"sourceRanges"`
	SourceTags            []string   `json:"sourceTags"`
	SourceServiceAccounts []string   `json:"sourceServiceAccounts"`
	DestinationRanges     []string   `json:"destinationRanges"`
	TargetTags            []string   `json:"targetTags"`
	TargetServiceAccounts []string   `json:"targetServiceAccounts"`
	Allowed               []l4Config `json:"allowed"`
	Denied                []l4Config `json:"denied"`
}

type secureTag struct {
	Name  string `json:"name"`
	State string `json:"state"`
}

type policyRule struct {
	Priority              int64       `json:"priority"`
	Action                string      `json:"action"`
	Direction             string      `json:"direction"`
	Description           string      `json:"description"`
	RuleName              string      `json:"ruleName"`
	Disabled              bool        `json:"disabled"`
	TargetType            string      `json:"targetType"`
	TargetResources       []string    `json:"targetResources"`
	TargetServiceAccounts []string    `json:"targetServiceAccounts"`
	TargetSecureTags      []secureTag `json:"targetSecureTags"`
	Match                 struct {
		SrcIPRanges            []string    `json:"srcIpRanges"`
		DestIPRanges           []string    `json:"destIpRanges"`
		SrcAddressGroups       []string    `json:"srcAddressGroups"`
		SrcFqdns               []string    `json:"srcFqdns"`
		SrcRegionCodes         []string    `json:"srcRegionCodes"`
		SrcThreatIntelligences []string    `json:"srcThreatIntelligences"`
		SrcNetworks            []string    `json:"srcNetworks"`
		SrcNetworkType         string      `json:"srcNetworkType"`
		SrcSecureTags          []secureTag `json:"srcSecureTags"`
		Layer4Configs          []l4Config  `json:"layer4Configs"`
	} `json:"match"`
}

type firewallPolicy struct {
	Name         string `json:"name"`
	ShortName    string `json:"shortName"`
	DisplayName  string `json:"displayName"`
	SelfLink     string `json:"selfLink"`
	Region       string `json:"region"`
	Associations []struct {
		Name             string `json:"name"`
		AttachmentTarget string `json:"attachmentTarget"`
	} `json:"associations"`
	Rules []policyRule `json:"rules"`
}

// effectiveFirewalls is networks.getEffectiveFirewalls: the VPC rules of
// the network and, in evaluation order, the firewall policies that apply
// to it (type HIERARCHY for organization and folder policies, NETWORK for
// the global network policy).
type effectiveFirewalls struct {
	FirewallPolicys []struct {
		Name        string       `json:"name"`
		ShortName   string       `json:"shortName"`
		DisplayName string       `json:"displayName"`
		Type        string       `json:"type"`
		Priority    *int64       `json:"priority"`
		Rules       []policyRule `json:"rules"`
	} `json:"firewallPolicys"`
	Firewalls []firewall `json:"firewalls"`
}

type instance struct {
	Name            string                   `json:"name"`
	SelfLink        string                   `json:"selfLink"`
	Zone            string                   `json:"zone"`
	Status          string                   `json:"status"`
	Labels          map[string]string        `json:"labels"`
	Tags            struct{ Items []string } `json:"tags"`
	ServiceAccounts []struct {
		Email string `json:"email"`
	} `json:"serviceAccounts"`
	NetworkInterfaces []networkInterface `json:"networkInterfaces"`
}

type networkInterface struct {
	Name          string `json:"name"`
	Network       string `json:"network"`
	Subnetwork    string `json:"subnetwork"`
	NetworkIP     string `json:"networkIP"`
	Ipv6Address   string `json:"ipv6Address"`
	AccessConfigs []struct {
		Type  string `json:"type"`
		Name  string `json:"name"`
		NatIP string `json:"natIP"`
	} `json:"accessConfigs"`
	Ipv6AccessConfigs []struct {
		Type                     string `json:"type"`
		Name                     string `json:"name"`
		ExternalIpv6             string `json:"externalIpv6"`
		ExternalIpv6PrefixLength int    `json:"externalIpv6PrefixLength"`
	} `json:"ipv6AccessConfigs"`
	AliasIPRanges []struct {
		IPCidrRange string `json:"ipCidrRange"`
	} `json:"aliasIpRanges"`
}

type forwardingRule struct {
	Name                string            `json:"name"`
	SelfLink            string            `json:"selfLink"`
	Region              string            `json:"region"`
	IPAddress           string            `json:"IPAddress"`
	IPProtocol          string            `json:"IPProtocol"`
	PortRange           string            `json:"portRange"`
	Ports               []string          `json:"ports"`
	AllPorts            bool              `json:"allPorts"`
	Target              string            `json:"target"`
	BackendService      string            `json:"backendService"`
	LoadBalancingScheme string            `json:"loadBalancingScheme"`
	Network             string            `json:"network"`
	IPVersion           string            `json:"ipVersion"`
	Labels              map[string]string `json:"labels"`
}

type targetPool struct {
	Name      string   `json:"name"`
	SelfLink  string   `json:"selfLink"`
	Region    string   `json:"region"`
	Instances []string `json:"instances"`
}

type targetInstance struct {
	Name     string `json:"name"`
	SelfLink string `json:"selfLink"`
	Zone     string `json:"zone"`
	Instance string `json:"instance"`
	Network  string `json:"network"`
}

type backendService struct {
	Name                string `json:"name"`
	SelfLink            string `json:"selfLink"`
	Region              string `json:"region"`
	LoadBalancingScheme string `json:"loadBalancingScheme"`
	Protocol            string `json:"protocol"`
	PortName            string `json:"portName"`
	Port                int    `json:"port"`
	Network             string `json:"network"`
	Backends            []struct {
		Group string `json:"group"`
	} `json:"backends"`
}

type namedPort struct {
	Name string `json:"name"`
	Port int    `json:"port"`
}

type instanceGroup struct {
	Name       string      `json:"name"`
	SelfLink   string      `json:"selfLink"`
	Zone       string      `json:"zone"`
	Region     string      `json:"region"`
	Network    string      `json:"network"`
	NamedPorts []namedPort `json:"namedPorts"`
}

type instanceGroupMembers struct {
	InstanceGroup string `json:"instanceGroup"`
	Instances     []struct {
		Instance string `json:"instance"`
		Status   string `json:"status"`
	} `json:"instances"`
}

type targetProxy struct {
	Name     string `json:"name"`
	SelfLink string `json:"selfLink"`
	URLMap   string `json:"urlMap"`  // HTTP(S) proxies
	Service  string `json:"service"` // SSL and TCP proxies
}

type weighted struct {
	WeightedBackendServices []struct {
		BackendService string `json:"backendService"`
	} `json:"weightedBackendServices"`
}

type urlMap struct {
	Name               string   `json:"name"`
	SelfLink           string   `json:"selfLink"`
	DefaultService     string   `json:"defaultService"`
	DefaultRouteAction weighted `json:"defaultRouteAction"`
	PathMatchers       []struct {
		DefaultService     string   `json:"defaultService"`
		DefaultRouteAction weighted `json:"defaultRouteAction"`
		PathRules          []struct {
			Service     string   `json:"service"`
			RouteAction weighted `json:"routeAction"`
		} `json:"pathRules"`
		RouteRules []struct {
			Service     string   `json:"service"`
			RouteAction weighted `json:"routeAction"`
		} `json:"routeRules"`
	} `json:"pathMatchers"`
}

// services returns every backend service the URL map can route to.
func (u *urlMap) services() []string {
	var out []string
	add := func(s string, w weighted) {
		if s != "" {
			out = append(out, s)
		}
		for _, b := range w.WeightedBackendServices {
			if b.BackendService != "" {
				out = append(out, b.BackendService)
			}
		}
	}
	add(u.DefaultService, u.DefaultRouteAction)
	for _, pm := range u.PathMatchers {
		add(pm.DefaultService, pm.DefaultRouteAction)
		for _, r := range pm.PathRules {
			add(r.Service, r.RouteAction)
		}
		for _, r := range pm.RouteRules {
			add(r.Service, r.RouteAction)
		}
	}
	return out
}

type router struct {
	Name     string `json:"name"`
	SelfLink string `json:"selfLink"`
	Region   string `json:"region"`
	Network  string `json:"network"`
	Nats     []struct {
		Name                string   `json:"name"`
		NatIPs              []string `json:"natIps"`
		NatIPAllocateOption string   `json:"natIpAllocateOption"`
	} `json:"nats"`
}

type networkEndpointGroup struct {
	Name                string `json:"name"`
	SelfLink            string `json:"selfLink"`
	Zone                string `json:"zone"`
	Network             string `json:"network"`
	NetworkEndpointType string `json:"networkEndpointType"`
	DefaultPort         int    `json:"defaultPort"`
}

type negEndpoints struct {
	NetworkEndpointGroup string `json:"networkEndpointGroup"`
	Endpoints            []struct {
		NetworkEndpoint struct {
			Instance  string `json:"instance"`
			IPAddress string `json:"ipAddress"`
			Port      int    `json:"port"`
		} `json:"networkEndpoint"`
	} `json:"endpoints"`
}
