package fix

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/portcullis-sec/portcullis/exposure"
)

// commands renders a change as the provider CLI commands that make it.
// Every value comes from the inventory and is shell-quoted.
func commands(c Change) []string {
	switch c.Provider + "/" + c.Layer {
	case "aws/" + exposure.LayerSecurityGroup:
		return sgCommands(c)
	case "aws/" + exposure.LayerNetworkACL:
		return naclCommands(c)
	case "azure/" + exposure.LayerNSG:
		return nsgCommands(c)
	case "gcp/" + exposure.LayerFirewall:
		return gcpCommands(c)
	}
	return nil
}

// shellQuote quotes s for a POSIX shell unless it is made only of
// characters no shell treats specially.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func cmd(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = shellQuote(w)
	}
	return strings.Join(q, " ")
}

// awsPermission is one IpPermission of the EC2 API, for
// --ip-permissions in JSON.
type awsPermission struct {
	IpProtocol       string           `json:"IpProtocol"`
	FromPort         *int             `json:"FromPort,omitempty"`
	ToPort           *int             `json:"ToPort,omitempty"`
	IpRanges         []map[string]any `json:"IpRanges,omitempty"`
	Ipv6Ranges       []map[string]any `json:"Ipv6Ranges,omitempty"`
	PrefixListIds    []map[string]any `json:"PrefixListIds,omitempty"`
	UserIdGroupPairs []map[string]any `json:"UserIdGroupPairs,omitempty"`
}

func awsProtocol(p exposure.Protocol) string {
	switch p {
	case exposure.ProtocolAll:
		return "-1"
	case exposure.ProtocolTCP, exposure.ProtocolUDP, exposure.ProtocolICMP:
		return p.String()
	case exposure.ProtocolICMPv6:
		return "icmpv6"
	}
	return strconv.Itoa(int(p))
}

func permissions(p exposure.Protocol, ports []exposure.PortRange, sources []string) string {
	var perms []awsPermission
	ranges := ports
	if len(ranges) == 0 {
		ranges = []exposure.PortRange{exposure.AllPorts}
	}
	for _, pr := range ranges {
		perm := awsPermission{IpProtocol: awsProtocol(p)}
		from, to := int(pr.From), int(pr.To)
		switch {
		case p.HasPorts():
			perm.FromPort, perm.ToPort = &from, &to
		case p.IsICMP():
			// EC2 carries the ICMP type in FromPort; -1 is every type.
			if pr.IsAll() {
				from = -1
			}
			minus := -1
			perm.FromPort, perm.ToPort = &from, &minus
		}
		for _, s := range sources {
			switch {
			case strings.HasPrefix(s, "pl-"):
				perm.PrefixListIds = append(perm.PrefixListIds, map[string]any{"PrefixListId": s})
			case strings.Contains(s, "sg-"):
				perm.UserIdGroupPairs = append(perm.UserIdGroupPairs, map[string]any{"GroupId": s[strings.Index(s, "sg-"):]})
			case strings.Contains(s, ":"):
				perm.Ipv6Ranges = append(perm.Ipv6Ranges, map[string]any{"CidrIpv6": s})
			default:
				perm.IpRanges = append(perm.IpRanges, map[string]any{"CidrIp": s})
			}
		}
		perms = append(perms, perm)
	}
	b, _ := json.Marshal(perms)
	return string(b)
}

func sgCommands(c Change) []string {
	base := []string{"aws", "ec2"}
	region := []string{}
	if c.Region != "" {
		region = []string{"--region", c.Region}
	}
	group := []string{"--group-id", c.Resource}
	revoke := cmd(append(append(append(base, "revoke-security-group-ingress"), region...), append(group, "--ip-permissions", permissions(c.Rule.Protocol, c.Rule.Ports, c.Rule.Sources))...)...)
	switch c.Action {
	case ActionRevoke:
		return []string{revoke}
	case ActionNarrow:
		ports, sources := c.Rule.Ports, c.Rule.Sources
		if c.Rule.NewPorts != nil {
			ports = c.Rule.NewPorts
		}
		if c.Rule.NewSources != nil {
			sources = c.Rule.NewSources
		}
		// EC2 cannot edit a permission's CIDR or ports in place without
		// its rule ID (sgr-…), which the snapshot does not keep: authorize
		// what stays, then revoke the old.
		authorize := cmd(append(append(append(base, "authorize-security-group-ingress"), region...), append(group, "--ip-permissions", permissions(c.Rule.Protocol, ports, sources))...)...)
		return []string{authorize, revoke}
	}
	return nil
}

func naclCommands(c Change) []string {
	words := []string{"aws", "ec2"}
	switch c.Action {
	case ActionRevoke:
		words = append(words, "delete-network-acl-entry")
	case ActionNarrow:
		words = append(words, "replace-network-acl-entry")
	case ActionInsertDeny:
		words = append(words, "create-network-acl-entry")
	}
	if c.Region != "" {
		words = append(words, "--region", c.Region)
	}
	words = append(words, "--network-acl-id", c.Resource, "--ingress", "--rule-number", c.Rule.ID)
	if c.Action == ActionRevoke {
		return []string{cmd(words...)}
	}
	p := c.Rule.Protocol
	proto := strconv.Itoa(int(p))
	if p == exposure.ProtocolAll {
		proto = "-1"
	}
	words = append(words, "--protocol", proto)
	pr := exposure.AllPorts
	if len(c.Rule.Ports) > 0 {
		pr = c.Rule.Ports[0]
	}
	switch {
	case p.HasPorts():
		words = append(words, "--port-range", fmt.Sprintf("From=%d,To=%d", pr.From, pr.To))
	case p.IsICMP():
		t := strconv.Itoa(int(pr.From))
		if pr.IsAll() {
			t = "-1"
		}
		words = append(words, "--icmp-type-code", "Type="+t+",Code=-1")
	}
	sources, action := c.Rule.Sources, "deny"
	if c.Action == ActionNarrow {
		sources, action = c.Rule.NewSources, "allow"
	}
	if len(sources) != 1 {
		return nil
	}
	if strings.Contains(sources[0], ":") {
		words = append(words, "--ipv6-cidr-block", sources[0])
	} else {
		words = append(words, "--cidr-block", sources[0])
	}
	return []string{cmd(append(words, "--rule-action", action)...)}
}

// azureNSG splits an NSG resource ID into subscription, resource group and
// name.
func azureNSG(id string) (sub, group, name string, ok bool) {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	for i := 0; i+1 < len(parts); i += 2 {
		switch strings.ToLower(parts[i]) {
		case "subscriptions":
			sub = parts[i+1]
		case "resourcegroups":
			group = parts[i+1]
		case "networksecuritygroups":
			name = parts[i+1]
		}
	}
	return sub, group, name, sub != "" && group != "" && name != ""
}

func azureProtocol(p exposure.Protocol) string {
	switch p {
	case exposure.ProtocolTCP:
		return "Tcp"
	case exposure.ProtocolUDP:
		return "Udp"
	case exposure.ProtocolICMP, exposure.ProtocolICMPv6:
		return "Icmp"
	}
	return "*"
}

func nsgCommands(c Change) []string {
	sub, group, name, ok := azureNSG(c.Resource)
	if !ok {
		return nil
	}
	words := []string{"az", "network", "nsg", "rule"}
	target := []string{"--subscription", sub, "--resource-group", group, "--nsg-name", name, "--name", c.Rule.ID}
	switch c.Action {
	case ActionRevoke:
		return []string{cmd(append(append(words, "delete"), target...)...)}
	case ActionNarrow:
		return []string{cmd(append(append(append(words, "update"), target...), append([]string{"--source-address-prefixes"}, c.Rule.NewSources...)...)...)}
	case ActionInsertDeny:
		ports := "*"
		if len(c.Rule.Ports) > 0 {
			ports = c.Rule.Ports[0].String()
		}
		w := append(append(words, "create"), target...)
		w = append(w, "--priority", strconv.Itoa(c.Rule.Priority), "--direction", "Inbound", "--access", "Deny",
			"--protocol", azureProtocol(c.Rule.Protocol), "--destination-port-ranges", ports, "--destination-address-prefixes", "*",
			"--source-address-prefixes")
		return []string{cmd(append(w, c.Rule.Sources...)...)}
	}
	return nil
}

func gcpRules(p exposure.Protocol, ports []exposure.PortRange) string {
	if p == exposure.ProtocolAll {
		return "all"
	}
	name := strings.ToLower(p.String())
	if p == exposure.ProtocolICMPv6 {
		name = "58"
	}
	if len(ports) == 0 || !p.HasPorts() {
		return name
	}
	parts := make([]string, len(ports))
	for i, pr := range ports {
		parts[i] = name + ":" + pr.String()
	}
	return strings.Join(parts, ",")
}

func gcpCommands(c Change) []string {
	words := []string{"gcloud", "compute", "firewall-rules"}
	switch c.Action {
	case ActionRevoke:
		return []string{cmd(append(words, "delete", c.Rule.ID, "--project", c.Account, "--quiet")...)}
	case ActionNarrow:
		return []string{cmd(append(words, "update", c.Rule.ID, "--project", c.Account, "--source-ranges", strings.Join(c.Rule.NewSources, ","))...)}
	case ActionInsertDeny:
		return []string{cmd(append(words, "create", c.Rule.ID, "--project", c.Account, "--network", c.Resource,
			"--direction", "INGRESS", "--action", "DENY", "--rules", gcpRules(c.Rule.Protocol, c.Rule.Ports),
			"--source-ranges", strings.Join(c.Rule.Sources, ","), "--priority", strconv.Itoa(c.Rule.Priority))...)}
	}
	return nil
}
