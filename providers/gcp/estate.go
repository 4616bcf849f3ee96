package gcp

import (
	"net/netip"
	"path"
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
	badDeny  map[string][]string // network key -> deny rules that could not be read
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
	// unknown, when set, says which of the network's filtering data could
	// not be read: its firewall hop is then an unknown layer.
	unknown string
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
		insts: map[string]*instInfo{}, hops: map[string]exposure.Hop{}, layers: map[string]*exposure.Layer{}, unknown: map[string]bool{}, badDeny: map[string][]string{}}
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
			res := p.id + "/" + FileFirewallRules + "[" + itoa(i) + "] " + f.Name
			e.n.errorf(p.id, "", res, "%v", err)
			if len(f.Denied) > 0 {
				// A deny rule that cannot be read would widen its network
				// if skipped: the network's firewall is unknown instead.
				e.badDeny[resourceKey(f.Network)] = append(e.badDeny[resourceKey(f.Network)], res+": "+err.Error())
			}
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
		var nets []string
		for _, as := range pol.Associations {
			nets = append(nets, resourceKey(as.AttachmentTarget))
		}
		rules := e.compilePolicy(p, level, polID, name, pol.Rules, p.id+"/"+FileNetworkFirewallPolicies+"["+itoa(i)+"] "+pol.Name, nets)
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
				rules := e.compilePolicy(p, levelHierarchy, "firewallPolicies/"+pol.Name, name, pol.Rules, res, []string{ni.key})
				ni.hierarchy = append(ni.hierarchy, rules)
			case "NETWORK":
				// Normally read from network-firewall-policies.json, with
				// its associations; used here only when that list is absent.
				if !p.hasNetPolicies {
					ni.global = append(ni.global, e.compilePolicy(p, levelNetwork, "projects/"+p.id+"/global/firewallPolicies/"+pol.Name, name, pol.Rules, res, []string{ni.key})...)
				}
			case "NETWORK_REGIONAL":
				// Covered by network-firewall-policies.json.
			default:
				// SYSTEM policies are Google-managed; their contents are not
				// documented as affecting customer ingress (docs/providers/gcp.md).
			}
		}
	}
	e.markUnknown(p)
}

// markUnknown records, on each network of the project, the filtering data
// that could not be read: the firewall rules, the network firewall
// policies (or one associated policy's rules: a policy always holds its
// default rules, so one without rules was listed but not read), and the
// network's effective firewalls (its hierarchical policies).
func (e *estate) markUnknown(p *project) {
	var why []string
	for _, f := range []string{FileFirewallRules, FileNetworkFirewallPolicies} {
		if b := p.bad[f]; b != "" {
			why = append(why, b)
		}
	}
	for _, ni := range e.sortedNetworks() {
		if ni.project != p.id || strings.HasSuffix(ni.key, "/unassociated-firewall-policies") {
			continue
		}
		w := append(append([]string(nil), why...), e.badDeny[ni.key]...)
		ef := path.Join(DirEffectiveFirewalls, ni.name+".json")
		switch {
		case p.bad[ef] != "":
			w = append(w, p.bad[ef])
		case p.effective[ni.name] == nil:
			name := path.Join(p.id, ef)
			e.n.errorf(p.id, "", name, "required file not in snapshot: the hierarchical firewall policies of network %s are unknown and nothing is inferred through them", ni.name)
			w = append(w, name+": not in snapshot (hierarchical policies unknown)")
		}
		for _, pol := range p.netPolicies {
			if len(pol.Rules) > 0 {
				continue
			}
			for _, as := range pol.Associations {
				if resourceKey(as.AttachmentTarget) == ni.key {
					w = append(w, "network firewall policy "+pol.Name+": rules not in snapshot")
				}
			}
		}
		ni.unknown = strings.Join(w, "; ")
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

// compilePolicy compiles a policy's rules. A rule that cannot be read and
// is not an allow (a deny, a goto_next, an unknown action) would widen the
// networks it applies to (nets) if skipped: their firewall is unknown.
func (e *estate) compilePolicy(p *project, level, polID, polName string, prs []policyRule, res string, nets []string) []*compiledRule {
	var out []*compiledRule
	for i := range prs {
		r, err := compilePolicyRule(p.id, level, polID, polName, &prs[i])
		if err != nil {
			where := res + " rules[" + itoa(i) + "] priority " + itoa(int(prs[i].Priority))
			e.n.errorf(p.id, "", where, "%v", err)
			if !strings.EqualFold(prs[i].Action, "allow") {
				for _, n := range nets {
					e.badDeny[n] = append(e.badDeny[n], where+": "+err.Error())
				}
			}
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
