package reports

import (
	"net/netip"
	"time"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

func mustSources(cidrs ...string) *netipx.IPSet {
	s, err := exposure.ParseSources(cidrs...)
	if err != nil {
		panic(err)
	}
	return exposure.Intersect(s, exposure.PublicInternet())
}

const (
	acct     = "111122223333"
	nlbARN   = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/net/web-nlb/50dc6c495c0c9188"
	lstARN   = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/net/web-nlb/50dc6c495c0c9188/f2f7dc8efc522ab2"
	lst2ARN  = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/net/web-nlb/50dc6c495c0c9188/0467ef3c8400ae65"
	nlbHost  = "web-nlb-50dc6c495c0c9188.elb.eu-west-1.amazonaws.com"
	bastion  = "eni-0a1b2c3d4e5f60718"
	instance = "i-0123456789abcdef0"
)

// fixtureReport is a small estate with everything the writers must show:
// IPv4 and IPv6 endpoints, a load balancer reached by DNS name that
// translates ports, latent exposures, a suppressed finding, probe
// observations, compliance, exceptions, a misconfiguration and an error.
func fixtureReport() *Report {
	aws := exposure.Scope{Provider: "aws", Account: acct, Region: "eu-west-1"}
	gcp := exposure.Scope{Provider: "gcp", Account: "shop-prod", Region: "europe-west1"}
	eniRef := exposure.TargetRef{ID: bastion, Kind: exposure.KindInterface, Name: "bastion", Owner: instance,
		Tags: map[string]string{"Name": "bastion", "team": "platform"}}
	pathEvidence := func(sg, sgRule string, srcs ...string) []*exposure.Evidence {
		return []*exposure.Evidence{
			{Layer: "rtb-0f1e2d3c4b5a69788", LayerKind: exposure.LayerRoute, Rule: "0.0.0.0/0", Action: "allow", Note: "igw-0a9b8c7d"},
			{Layer: "acl-0b1c2d3e4f5a6b7c8", LayerKind: exposure.LayerNetworkACL, Rule: "100", Action: "allow", Sources: []string{"0.0.0.0/0", "::/0"}},
			{Layer: sg, LayerKind: exposure.LayerSecurityGroup, LayerName: "bastion-sg", Rule: sgRule, Action: "allow", Sources: srcs},
		}
	}

	ssh := &exposure.Exposure{
		Level: exposure.Effective, Site: &exposure.Site{Scope: aws, Target: eniRef,
			Endpoint: exposure.Endpoint{IP: netip.MustParseAddr("203.0.113.10")}},
		Protocol: exposure.ProtocolTCP, Ports: exposure.Port(22),
		Sources:  mustSources("0.0.0.0/0"),
		Evidence: pathEvidence("sg-0c1d2e3f4a5b6c7d8", "sgr-0123abcd4567ef890", "0.0.0.0/0"),
	}
	rdp6 := &exposure.Exposure{
		Level: exposure.Effective, Site: &exposure.Site{Scope: aws, Target: eniRef,
			Endpoint: exposure.Endpoint{IP: netip.MustParseAddr("2001:db8:1::10")}},
		Protocol: exposure.ProtocolTCP, Ports: exposure.Port(3389),
		Sources:  mustSources("::/0"),
		Evidence: pathEvidence("sg-0c1d2e3f4a5b6c7d8", "sgr-0fedcba987654321f", "::/0"),
	}
	nlbRef := exposure.TargetRef{ID: nlbARN, Kind: exposure.KindLoadBalancer, Name: "web-nlb", Owner: nlbARN}
	postgres := &exposure.Exposure{
		Level: exposure.Effective, Site: &exposure.Site{Scope: aws, Target: nlbRef,
			Endpoint: exposure.Endpoint{Host: nlbHost}},
		Protocol: exposure.ProtocolTCP, Ports: exposure.Port(15432),
		Sources: mustSources("198.51.100.0/24"),
		Backend: &exposure.Backend{ID: "i-0fedcba9876543210", Name: "db-primary", Forward: lstARN,
			Protocol: exposure.ProtocolTCP, Ports: exposure.Port(5432)},
		Evidence: []*exposure.Evidence{
			{Layer: lstARN, LayerKind: exposure.LayerListener, LayerName: "web-nlb:15432", Action: "allow", Note: "forwards to port 5432"},
			{Layer: "sg-0a0b0c0d0e0f01234", LayerKind: exposure.LayerSecurityGroup, LayerName: "db-sg", Rule: "sgr-0aa0bb0cc0dd0ee0f", Action: "allow", Sources: []string{"198.51.100.0/24"}},
		},
	}
	https := &exposure.Exposure{
		Level: exposure.Effective, Site: &exposure.Site{Scope: aws, Target: nlbRef,
			Endpoint: exposure.Endpoint{Host: nlbHost}},
		Protocol: exposure.ProtocolTCP, Ports: exposure.Port(443),
		Sources: mustSources("0.0.0.0/0", "::/0"),
		Backend: &exposure.Backend{ID: "i-0aaaabbbbccccdddd", Name: "web-1", Forward: lst2ARN,
			Protocol: exposure.ProtocolTCP, Ports: exposure.Port(8443)},
		Evidence: []*exposure.Evidence{
			{Layer: lst2ARN, LayerKind: exposure.LayerListener, LayerName: "web-nlb:443", Action: "allow", Note: "forwards to port 8443"},
			{Layer: "sg-0123456789abcdef0", LayerKind: exposure.LayerSecurityGroup, LayerName: "web-sg", Rule: "sgr-0999", Action: "allow", Sources: []string{"0.0.0.0/0", "::/0"}},
		},
	}
	mysqlLatent := &exposure.Exposure{
		Level: exposure.Latent, Site: &exposure.Site{Scope: aws,
			Target: exposure.TargetRef{ID: "sg-0e1e2e3e4e5e6e7e8", Kind: exposure.LayerSecurityGroup, Name: "legacy-db"}},
		Protocol: exposure.ProtocolTCP, Ports: exposure.Port(3306),
		Sources: mustSources("0.0.0.0/0"),
		Evidence: []*exposure.Evidence{{Layer: "sg-0e1e2e3e4e5e6e7e8", LayerKind: exposure.LayerSecurityGroup, LayerName: "legacy-db",
			Rule: "sgr-0e0e", Action: "allow", Sources: []string{"0.0.0.0/0"}, Note: "group is attached to nothing"}},
	}
	rangeLatent := &exposure.Exposure{
		Level: exposure.Latent, Site: &exposure.Site{Scope: exposure.Scope{Provider: "aws", Account: acct, Region: "us-east-1"},
			Target: exposure.TargetRef{ID: "acl-0f0f0f0f0f0f0f0f0", Kind: exposure.LayerNetworkACL}},
		Protocol: exposure.ProtocolUDP, Ports: exposure.PortRange{From: 1024, To: 65535},
		Sources: mustSources("192.0.2.0/24", "198.51.100.0/24"),
		Evidence: []*exposure.Evidence{{Layer: "acl-0f0f0f0f0f0f0f0f0", LayerKind: exposure.LayerNetworkACL, Rule: "120", Action: "allow",
			Sources: []string{"192.0.2.0/24", "198.51.100.0/24"}}},
	}
	telnet := &exposure.Exposure{
		Level: exposure.Effective, Site: &exposure.Site{Scope: gcp,
			Target:   exposure.TargetRef{ID: "projects/shop-prod/zones/europe-west1-b/instances/honeypot-1", Kind: exposure.KindInstance, Name: "honeypot-1"},
			Endpoint: exposure.Endpoint{IP: netip.MustParseAddr("192.0.2.50")}},
		Protocol: exposure.ProtocolTCP, Ports: exposure.Port(23),
		Sources: mustSources("0.0.0.0/0"),
		Evidence: []*exposure.Evidence{{Layer: "projects/shop-prod/global/firewalls/allow-telnet", LayerKind: exposure.LayerFirewall,
			LayerName: "allow-telnet", Rule: "1000", Action: "allow", Sources: []string{"0.0.0.0/0"}}},
	}

	findings := []rules.Finding{
		{ID: "5f1d0c3b9a7e2468", RuleID: "ssh-public", Title: "SSH open to the internet", Severity: rules.High, Service: "ssh", Port: 22,
			Exposure: ssh, MatchedBy: "port",
			Probe: &exposure.Observation{Endpoint: "203.0.113.10", Protocol: exposure.ProtocolTCP, Port: 22, State: exposure.ProbeOpen,
				Service: "ssh", Product: "OpenSSH_9.6", RTT: 12500 * time.Microsecond},
			Compliance:  []rules.ComplianceRef{{Framework: "pci-dss", Control: "1.3.1"}, {Framework: "cis-aws", Control: "5.2"}},
			Remediation: "Remove the 0.0.0.0/0 rule for port 22; reach the host through SSM Session Manager or a VPN."},
		{RuleID: "rdp-public", Title: "RDP open to the internet", Severity: rules.Critical, Service: "rdp", Port: 3389, Exposure: rdp6,
			Expired:     &rules.Suppression{Reason: "migration window", Owner: "windows@example.com", Expires: "2026-10-01", Source: "exceptions.yaml:4"},
			Compliance:  []rules.ComplianceRef{{Framework: "cis-aws", Control: "5.3"}},
			Remediation: "Remove the ::/0 rule for port 3389; use a bastion or Fleet Manager."},
		{RuleID: "postgres-public", Title: "PostgreSQL reachable from the internet", Severity: rules.High, Service: "postgresql", Port: 5432,
			Exposure: postgres, MatchedBy: "backend-port",
			Remediation: "Do not publish databases through an internet-facing load balancer."},
		{RuleID: "mysql-public", Title: "MySQL open to the internet", Severity: rules.High, Service: "mysql", Port: 3306, Exposure: mysqlLatent,
			Compliance:  []rules.ComplianceRef{{Framework: "cis-aws", Control: "5.2"}},
			Remediation: "Delete the unused group or restrict its rule to known addresses."},
		{RuleID: "wide-port-range", Title: "More than 100 ports open", Severity: rules.Medium, Exposure: rangeLatent,
			MatchedBy: "range", Subsumes: []string{"dns-public", "ntp-public", "snmp-public"},
			Remediation: "Open only the ports the service uses."},
		{RuleID: "telnet-public", Title: "Telnet open to the internet", Severity: rules.Critical, Service: "telnet", Port: 23, Exposure: telnet,
			Suppressed: &rules.Suppression{Reason: "research honeypot, isolated project", Owner: "secops@example.com", Expires: "2026-12-31",
				Source: "exceptions.yaml:12"}},
	}

	return &Report{
		Tool:        Tool{Name: "portcullis", Version: "1.0.0"},
		GeneratedAt: time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC),
		Scope: Scope{Providers: []string{"gcp", "aws"}, Accounts: []string{acct, "shop-prod"},
			Regions: []string{"us-east-1", "eu-west-1", "europe-west1", "ap-south-1"}, Framework: "cis-aws"},
		Partial:   true,
		Exposures: []*exposure.Exposure{ssh, rdp6, postgres, https, mysqlLatent, rangeLatent, telnet},
		Findings:  findings,
		Observations: []exposure.Observation{
			{Endpoint: "203.0.113.10", Protocol: exposure.ProtocolTCP, Port: 22, State: exposure.ProbeOpen, Service: "ssh",
				Product: "OpenSSH_9.6", Evidence: map[string]string{"banner": "SSH-2.0-OpenSSH_9.6"}, RTT: 12500 * time.Microsecond},
			{Endpoint: "2001:DB8:1:0::10", Protocol: exposure.ProtocolTCP, Port: 3389, State: exposure.ProbeFiltered, RTT: 0},
			{Endpoint: nlbHost, Protocol: exposure.ProtocolTCP, Port: 443, State: exposure.ProbeOpen, Service: "tls",
				Evidence: map[string]string{"subject": "CN=shop.example.com"}, RTT: 20 * time.Millisecond},
			{Endpoint: "203.0.113.10", Protocol: exposure.ProtocolUDP, Port: 22, State: exposure.ProbeClosed}, // another protocol: no match
		},
		Compliance: []rules.ControlResult{
			{Framework: "cis-aws", Control: "5.10", Title: "Ensure no security groups allow ingress from ::/0 to remote server administration ports (example ordering)", Status: rules.StatusNotApplicable},
			{Framework: "cis-aws", Control: "5.2", Title: "Ensure no security groups allow ingress from 0.0.0.0/0 to remote server administration ports", Status: rules.StatusFail,
				Evidence: []rules.ControlEvidence{{Resource: "sg-0c1d2e3f4a5b6c7d8 allows 0.0.0.0/0 to tcp/22"}, {Resource: "sg-0e1e2e3e4e5e6e7e8 allows 0.0.0.0/0 to tcp/3306"}}},
			{Framework: "cis-aws", Control: "5.3", Title: "Ensure no security groups allow ingress from ::/0 to remote server administration ports", Status: rules.StatusFail,
				Evidence: []rules.ControlEvidence{{Resource: "sg-0c1d2e3f4a5b6c7d8 allows ::/0 to tcp/3389"}}},
			{Framework: "cis-aws", Control: "5.1", Title: "Ensure no Network ACLs allow ingress from 0.0.0.0/0 to remote server administration ports", Status: rules.StatusPass},
		},
		Exceptions: []rules.ExceptionStatus{
			{State: rules.ExceptionStale, Exception: rules.Exception{Rule: "ssh-public", Resource: "eni-0dead0beef0dead00", Reason: "jump host (decommissioned)", Owner: "platform@example.com"}},
			{State: rules.ExceptionExpired, Matched: 1, Exception: rules.Exception{Rule: "rdp-public", Resource: bastion, Reason: "migration window", Owner: "windows@example.com",
				Expires: "2026-10-01", Source: "exceptions.yaml:4"}},
		},
		Misconfigurations: []rules.Misconfiguration{
			{Kind: "default-sg-open", Title: "Default security group allows traffic", Layer: "sg-0d0d0d0d0d0d0d0d0", LayerKind: exposure.LayerSecurityGroup,
				Message: "The default group of vpc-0abc allows all inbound traffic from itself.", Scope: aws,
				Severity: rules.Low, Remediation: "Remove every rule from the default security group (CIS AWS 5.4)."},
		},
		Errors: []exposure.Error{
			{Scope: exposure.Scope{Provider: "aws", Account: acct, Region: "ap-south-1"}, Resource: "DescribeSecurityGroups",
				Stage: "collect", Message: "operation error EC2: DescribeSecurityGroups, api error UnauthorizedOperation: You are not authorized to perform this operation."},
		},
		FailOn: rules.High,
	}
}
