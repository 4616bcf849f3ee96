package gcp

import (
	"net/netip"
	"strings"

	"github.com/portcullis-sec/portcullis/exposure"
)

// estate is every project of a snapshot, indexed across projects: a
// Shared VPC's rules live in the host project while its instances live in
// service projects.
type estate struct {
	n        *normalizer
	projects []*project
	networks map[string]*netInfo // by network key
	insts    map[string]*instInfo
	hops     map[string]exposure.Hop
	layers   map[string]*exposure.Layer
	unknown  map[string]bool
	nextUID  int
	lb       *lbIndex
}

// netInfo is one VPC network with its compiled rules by level.
type netInfo struct {
	key, name, project string
	order              string
	hierarchy          [][]*compiledRule // organization first, then folders top down
	vpc                []*compiledRule
	global             []*compiledRule
	regional           map[string][]*compiledRule
	members            []*nic
}

type instInfo struct {
	project, zone, region string
	key                   string
	inst                  *instance
	tags                  map[string]bool
	sa                    string
	live                  bool
	nics                  []*nic
}

// nic is one network interface of an instance.
type nic struct {
	inst       *instInfo
	index      int
	name       string
	network    string
	subnetwork string
	internal   []netip.Addr
	aliases    []netip.Prefix
	ext4, ext6 []netip.Addr
}

func newEstate(n *normalizer, projects []*project) *estate {
	return &estate{n: n, projects: projects, networks: map[string]*netInfo{},
		insts: map[string]*instInfo{}, hops: map[string]exposure.Hop{}, layers: map[string]*exposure.Layer{}, unknown: map[string]bool{}}
}

func (e *estate) uid() int { e.nextUID++; return e.nextUID }

func (e *estate) build() {
	for _, p := range e.projects {
		e.indexNetworks(p)
	}
	// Rules before instances: compiling VPC rules creates a stand-in for
	// a network whose listing failed, and its instances must join it.
	for _, p := range e.projects {
		e.compileRules(p)
	}
	for _, p := range e.projects {
		e.indexInstances(p)
	}
	for _, ni := range e.networks {
		levels := append([][]*compiledRule{ni.vpc, ni.global}, ni.hierarchy...)
		for _, rs := range append(levels, flatten(ni.regional)...) {
			for _, r := range rs {
				r.resolveSources(ni.members)
			}
		}
	}
	for _, p := range e.projects {
		e.instanceTargets(p)
	}
	for _, p := range e.projects {
		e.loadBalancerTargets(p)
		e.checkRouters(p)
	}
	e.latentLayers()
}

func flatten(m map[string][]*compiledRule) [][]*compiledRule {
	out := make([][]*compiledRule, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, m[k])
	}
	return out
}

func (e *estate) sortedNetworks() []*netInfo {
	out := make([]*netInfo, 0, len(e.networks))
	for _, k := range sortedKeys(e.networks) {
		out = append(out, e.networks[k])
	}
	return out
}

func (e *estate) indexNetworks(p *project) {
	for _, nw := range p.networks {
		key := resourceKey(nw.SelfLink)
		if key == "" {
			key = "projects/" + p.id + "/global/networks/" + nw.Name
		}
		e.networks[key] = &netInfo{key: key, name: nw.Name, project: p.id,
			order: nw.NetworkFirewallPolicyEnforcementOrder, regional: map[string][]*compiledRule{}}
	}
}

// compileRules compiles the VPC firewall rules and the firewall policies
// of one project into the networks they apply to.
func (e *estate) compileRules(p *project) {
	for i, f := range p.firewalls {
		r, err := compileFirewall(p.id, f)
		if err != nil {
			e.n.errorf(p.id, "", p.id+"/"+FileFirewallRules+"["+itoa(i)+"] "+f.Name, "%v", err)
			continue
		}
		if r == nil {
			continue
		}
		ni := e.networks[r.network]
		if ni == nil {
			// A rule of a network that was not listed: keep it on a stub so
			// that it is still judged as a latent exposure.
			ni = &netInfo{key: r.network, name: lastSegment(r.network), project: p.id, regional: map[string][]*compiledRule{}}
			e.networks[r.network] = ni
		}
		r.uid = e.uid()
		ni.vpc = append(ni.vpc, r)
	}
	// Network firewall policies, global and regional, by association.
	for i, pol := range p.netPolicies {
		region := lastSegment(pol.Region)
		level := levelNetwork
		if region != "" {
			level = levelRegional
		}
		polID := resourceKey(pol.SelfLink)
		if polID == "" {
			polID = "projects/" + p.id + "/global/firewallPolicies/" + pol.Name
		}
		name := firstNonEmpty(pol.ShortName, pol.DisplayName, pol.Name)
		rules := e.compilePolicy(p, level, polID, name, pol.Rules, p.id+"/"+FileNetworkFirewallPolicies+"["+itoa(i)+"] "+pol.Name)
		for _, as := range pol.Associations {
			ni := e.networks[resourceKey(as.AttachmentTarget)]
			if ni == nil {
				continue
			}
			if region != "" {
				ni.regional[region] = append(ni.regional[region], rules...)
			} else {
				ni.global = append(ni.global, rules...)
			}
		}
		if len(pol.Associations) == 0 {
			// An unassociated policy filters nothing; its allow rules are
			// still judged on their own.
			e.orphanRules(p, rules)
		}
	}
	// Hierarchical policies from each network's effective firewalls, in
	// the order the API returns them: the organization's first, then the
	// folders' from the top down.
	for _, netName := range sortedKeys(p.effective) {
		ef := p.effective[netName]
		ni := e.networks["projects/"+p.id+"/global/networks/"+netName]
		if ni == nil {
			e.n.errorf(p.id, "", p.id+"/"+DirEffectiveFirewalls+"/"+netName+".json", "network %s is not in %s", netName, FileNetworks)
			continue
		}
		for i, pol := range ef.FirewallPolicys {
			name := firstNonEmpty(pol.ShortName, pol.DisplayName, pol.Name)
			res := p.id + "/" + DirEffectiveFirewalls + "/" + netName + ".json firewallPolicys[" + itoa(i) + "] " + name
			switch strings.ToUpper(pol.Type) {
			case "HIERARCHY":
				rules := e.compilePolicy(p, levelHierarchy, "firewallPolicies/"+pol.Name, name, pol.Rules, res)
				ni.hierarchy = append(ni.hierarchy, rules)
			case "NETWORK":
				// Normally read from network-firewall-policies.json, with
				// its associations; used here only when that list is absent.
				if !p.hasNetPolicies {
					ni.global = append(ni.global, e.compilePolicy(p, levelNetwork, "projects/"+p.id+"/global/firewallPolicies/"+pol.Name, name, pol.Rules, res)...)
				}
			case "NETWORK_REGIONAL":
				// Covered by network-firewall-policies.json.
			default:
				// SYSTEM policies are Google-managed; their contents are not
				// documented as affecting customer ingress (docs/providers/gcp.md).
			}
		}
	}
}

// orphans holds allow rules of unassociated policies for latent findings.
func (e *estate) orphanRules(p *project, rules []*compiledRule) {
	key := "projects/" + p.id + "/unassociated-firewall-policies"
	ni := e.networks[key]
	if ni == nil {
		ni = &netInfo{key: key, name: "(no network)", project: p.id, regional: map[string][]*compiledRule{}}
		e.networks[key] = ni
	}
	ni.global = append(ni.global, rules...)
}

func (e *estate) compilePolicy(p *project, level, polID, polName string, prs []policyRule, res string) []*compiledRule {
	var out []*compiledRule
	for i := range prs {
		r, err := compilePolicyRule(p.id, level, polID, polName, &prs[i])
		if err != nil {
			e.n.errorf(p.id, "", res+" rules["+itoa(i)+"] priority "+itoa(int(prs[i].Priority)), "%v", err)
			continue
		}
		if r != nil {
			r.uid = e.uid()
			out = append(out, r)
		}
	}
	return out
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
