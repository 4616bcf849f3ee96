package iacplan

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
)

// handler applies one change of one resource type onto the snapshot and
// returns the cloud ID it applied to and notes. An error means the change
// could not be applied: it is listed as not modelled, with the error as
// the reason.
type handler struct {
	// phase orders the changes: containers (VPCs, groups, tables) before
	// what goes in them, instances before their addresses.
	phase int
	// prefix is the ID prefix of a new resource's placeholder ID.
	prefix string
	apply  func(a *applier, rc *ResourceChange) (string, []string, error)
}

// lbARN starts the placeholder ARN of a planned ELBv2 resource; the
// normalizer names files and matches interfaces after the resource part.
const lbARN = "arn:aws:elasticloadbalancing:planned:planned:"

// handlers is the one table of resource types the overlay models.
var handlers = map[string]handler{
	"aws_vpc":                             {0, "vpc", applyVPC},
	"aws_subnet":                          {1, "subnet", applySubnet},
	"aws_internet_gateway":                {1, "igw", applyInternetGateway},
	"aws_internet_gateway_attachment":     {2, "igwattach", applyInternetGatewayAttachment},
	"aws_security_group":                  {1, "sg", applySecurityGroup},
	"aws_network_acl":                     {1, "acl", applyNetworkACL},
	"aws_route_table":                     {1, "rtb", applyRouteTable},
	"aws_security_group_rule":             {2, "sgrule", applySecurityGroupRule},
	"aws_vpc_security_group_ingress_rule": {2, "sgr", applyVPCSecurityGroupRule},
	"aws_vpc_security_group_egress_rule":  {2, "sgr", applyVPCSecurityGroupRule},
	"aws_network_acl_rule":                {2, "aclrule", applyNetworkACLRule},
	"aws_network_acl_association":         {2, "aclassoc", applyNetworkACLAssociation},
	"aws_route":                           {2, "r", applyRoute},
	"aws_route_table_association":         {2, "rtbassoc", applyRouteTableAssociation},
	"aws_network_interface":               {3, "eni", applyNetworkInterface},
	"aws_instance":                        {3, "i", applyInstance},
	"aws_eip":                             {4, "eipalloc", applyEIP},
	"aws_eip_association":                 {5, "eipassoc", applyEIPAssociation},
	"aws_lb":                              {3, lbARN + "loadbalancer/app/", applyLoadBalancer},
	"aws_alb":                             {3, lbARN + "loadbalancer/app/", applyLoadBalancer},
	"aws_lb_target_group":                 {3, lbARN + "targetgroup/", applyTargetGroup},
	"aws_alb_target_group":                {3, lbARN + "targetgroup/", applyTargetGroup},
	"aws_lb_listener":                     {4, lbARN + "listener/app/", applyListener},
	"aws_alb_listener":                    {4, lbARN + "listener/app/", applyListener},
	"aws_lb_target_group_attachment":      {5, "tgattach", applyTargetGroupAttachment},
	"aws_alb_target_group_attachment":     {5, "tgattach", applyTargetGroupAttachment},
	"google_compute_firewall":             {2, "fw", applyGCPFirewall},
	"azurerm_network_security_group":      {1, "nsg", applyAzureNSG},
	"azurerm_network_security_rule":       {2, "nsgrule", applyAzureNSGRule},
}

// networkPrefixes are the resource types that can change what the
// internet reaches; one that is not modelled makes the diff incomplete.
var networkPrefixes = []string{
	"aws_lb", "aws_alb", "aws_elb", "aws_network_interface", "aws_vpc", "aws_subnet",
	"aws_route", "aws_main_route_table", "aws_default_", "aws_network_acl", "aws_security_group",
	"aws_internet_gateway", "aws_egress_only_internet_gateway", "aws_nat_gateway", "aws_eip",
	"aws_ec2_managed_prefix_list", "aws_instance", "aws_launch_template", "aws_autoscaling",
	"aws_globalaccelerator", "aws_api_gateway", "aws_apigatewayv2", "aws_cloudfront",
	"google_compute_", "azurerm_network_", "azurerm_public_ip", "azurerm_lb", "azurerm_linux_virtual_machine",
	"azurerm_windows_virtual_machine", "azurerm_subnet", "azurerm_application_gateway",
}

func isNetworkType(t string) bool {
	for _, p := range networkPrefixes {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return strings.HasPrefix(t, "AWS::EC2::") || strings.HasPrefix(t, "AWS::ElasticLoadBalancing")
}

// ModelledTypes lists the resource types the overlay applies.
func ModelledTypes() []string {
	out := make([]string, 0, len(handlers))
	for t := range handlers {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// planned is a resource the plan creates (or replaces), as the overlay
// knows it: its ID (a placeholder while unknown) and where it is.
type planned struct {
	id       string
	region   *region
	publicIP string
}

type applier struct {
	snap    *snapshot
	plan    *Plan
	ov      *Overlay
	planned map[string]*planned
	ips     placeholderIPs
	account string
	region  string
	n       int
	// cur is the account-region the change being applied touched last.
	cur *region
	// seen are the accounts the plan's changes were placed in so far.
	seen map[string]bool
}

// Apply applies the plan's changes onto base (a snapshot directory as an
// fs.FS; nil for a new stack) and returns the snapshot before and after.
// Changes of types the overlay does not model, or that it cannot place
// (a reference it cannot resolve), are listed in NotModelled, never
// dropped silently.
func Apply(base fs.FS, p *Plan, o Options) (*Overlay, error) {
	snap, err := loadSnapshot(base)
	if err != nil {
		return nil, err
	}
	ov := &Overlay{Unknown: map[string]string{}, Empty: base == nil}
	a := &applier{snap: snap, plan: p, ov: ov, planned: map[string]*planned{}, seen: map[string]bool{}}
	a.account, a.region = o.Account, o.Region
	accounts, regions := map[string]bool{}, map[string]bool{}
	for _, r := range snap.regions {
		accounts[r.account], regions[r.name] = true, true
	}
	if a.account == "" {
		switch {
		case len(accounts) == 1:
			for k := range accounts {
				a.account = k
			}
		case p.Account != "":
			a.account = p.Account
		case len(accounts) == 0:
			a.account = PlaceholderAccount
		}
	}
	if a.region == "" {
		switch {
		case len(regions) == 1:
			for k := range regions {
				a.region = k
			}
		case p.Region != "":
			a.region = p.Region
		}
	}
	a.ips = placeholderIPs{used: snap.usedAddrs()}
	if base == nil {
		if a.region == "" {
			return nil, errors.New("a new stack without a snapshot: the plan does not name its region; pass --region")
		}
		snap.region(a.account, a.region)
	}
	ov.Base, err = snap.fsys()
	if err != nil {
		return nil, err
	}

	// Placeholders first, so that any change can refer to any resource
	// the plan creates, whatever their order in the plan.
	for _, rc := range p.Changes {
		h, ok := handlers[rc.Type]
		if !ok || (rc.Action != Create && rc.Action != Replace) {
			continue
		}
		id, known := rc.After.Str("id")
		if !known || id == "" {
			if rc.Action == Replace {
				// Replaced in place: the new object takes the old one's
				// place (references to it are updated by the same apply).
				id, _ = rc.Before.Str("id")
			}
			if id == "" {
				// A placeholder, not a widest reading: the rows of a new
				// resource are new whatever its ID will be.
				id = h.prefix + "-planned-" + safeID(rc.Address)
				if strings.HasPrefix(h.prefix, "arn:") {
					id = h.prefix + safeID(rc.Address) + "/planned"
				}
			}
		}
		a.planned[rc.Address] = &planned{id: id}
	}

	changes := slices.Clone(p.Changes)
	slices.SortStableFunc(changes, func(x, y *ResourceChange) int {
		return phaseOf(x) - phaseOf(y)
	})
	for _, rc := range changes {
		h, ok := handlers[rc.Type]
		if !ok {
			ov.NotModelled = append(ov.NotModelled, NotModelled{Address: rc.Address, Type: rc.NativeType, Action: rc.Action,
				Reason: "resource type not modelled", Network: isNetworkType(rc.NativeType)})
			continue
		}
		a.n++
		a.cur = nil
		id, notes, err := h.apply(a, rc)
		if err != nil {
			reason := err.Error()
			ov.NotModelled = append(ov.NotModelled, NotModelled{Address: rc.Address, Type: rc.NativeType, Action: rc.Action,
				Reason: reason, Network: true})
			continue
		}
		ap := Applied{Address: rc.Address, Type: rc.NativeType, Action: rc.Action, Resource: id, Notes: notes}
		if pl := a.planned[rc.Address]; pl != nil && pl.region != nil {
			ap.Account, ap.Region = pl.region.account, pl.region.name
		} else if a.cur != nil {
			ap.Account, ap.Region = a.cur.account, a.cur.name
		}
		if ap.Account == "" {
			ap.Account = scopeOfID(id)
		}
		ov.Applied = append(ov.Applied, ap)
	}
	ov.Planned, err = snap.fsys()
	if err != nil {
		return nil, err
	}
	return ov, nil
}

func phaseOf(rc *ResourceChange) int {
	if h, ok := handlers[rc.Type]; ok {
		return h.phase
	}
	return 99
}

var unsafeID = regexp.MustCompile(`[^A-Za-z0-9_.\-\[\]"]`)

func safeID(addr string) string { return unsafeID.ReplaceAllString(addr, "_") }

// ownID is the field holding a file's objects' own ID.
var ownID = map[string]string{
	"ec2-describe-vpcs.json":                 "VpcId",
	"ec2-describe-subnets.json":              "SubnetId",
	"ec2-describe-route-tables.json":         "RouteTableId",
	"ec2-describe-internet-gateways.json":    "InternetGatewayId",
	"ec2-describe-network-acls.json":         "NetworkAclId",
	"ec2-describe-security-groups.json":      "GroupId",
	"ec2-describe-network-interfaces.json":   "NetworkInterfaceId",
	"ec2-describe-addresses.json":            "AllocationId",
	"ec2-describe-nat-gateways.json":         "NatGatewayId",
	"ec2-describe-managed-prefix-lists.json": "PrefixListId",
}

// regionOf finds the account-region holding a resource ID (a planned
// resource's region once it is placed).
func (a *applier) regionOf(id string) *region {
	if id == "" {
		return nil
	}
	for _, p := range a.planned {
		if p.id == id && p.region != nil {
			a.cur = p.region
			return p.region
		}
	}
	for _, r := range a.snap.regions {
		for file, field := range ownID {
			if r.find(file, field, id) != nil {
				a.cur = r
				return r
			}
		}
		if r.instance(id) != nil {
			a.cur = r
			return r
		}
	}
	return nil
}

// place decides the account-region of a change: where the resources it
// refers to are, else the default one.
func (a *applier) place(rc *ResourceChange, ids ...string) (*region, error) {
	for _, id := range ids {
		if r := a.regionOf(id); r != nil {
			a.setRegion(rc, r)
			return r, nil
		}
	}
	if a.region == "" {
		return nil, fmt.Errorf("cannot tell the region (it refers to nothing in the snapshot): pass --region")
	}
	if a.account == "" && len(a.seen) == 1 {
		// The plan's other changes all landed in one account.
		for k := range a.seen {
			a.account = k
		}
	}
	if a.account == "" {
		return nil, fmt.Errorf("cannot tell the account (the snapshot has several): pass --account")
	}
	r := a.snap.region(a.account, a.region)
	a.setRegion(rc, r)
	return r, nil
}

func (a *applier) setRegion(rc *ResourceChange, r *region) {
	a.cur = r
	a.seen[r.account] = true
	if p := a.planned[rc.Address]; p != nil {
		p.region = r
	}
}

// refID resolves an ID attribute: its known value, else the planned
// resource its expression refers to. ok is false when it is unknown and
// refers to no planned resource.
func (a *applier) refID(rc *ResourceChange, v Value, attr, refAttr string) (string, bool) {
	if s, known := v.Str(attr); known && s != "" {
		return s, true
	} else if known {
		return "", true // not set
	}
	refs := rc.Refs(refAttr)
	for _, addr := range refs {
		if p := a.plannedRef(addr, rc.Address); p != nil {
			return p.id, true
		}
	}
	// Unknown and referring to nothing: a computed attribute the
	// configuration does not set.
	return "", len(refs) == 0
}

// refIDs resolves a list of IDs: the known elements, plus the planned
// resources the expression refers to when some are unknown. unresolved
// says an unknown element could not be tied to a planned resource.
func (a *applier) refIDs(rc *ResourceChange, v Value, attr, refAttr string) (ids []string, unresolved bool) {
	ids, unknown := v.Strs(attr)
	if !unknown {
		return ids, false
	}
	refs := rc.Refs(refAttr)
	resolved := 0
	for _, addr := range refs {
		if p := a.plannedRef(addr, rc.Address); p != nil {
			resolved++
			if !contains(ids, p.id) {
				ids = append(ids, p.id)
			}
		}
	}
	// Unknown without a reference is a computed attribute the
	// configuration does not set; a reference to something other than a
	// planned resource (a module output) is unresolved.
	return ids, len(refs) > 0 && resolved == 0
}

func (a *applier) plannedRef(addr, from string) *planned {
	if strings.HasPrefix(addr, "?") {
		return nil
	}
	if p := a.planned[addr]; p != nil {
		return p
	}
	if rc := a.plan.byAddress(addr, indexOf(from)); rc != nil {
		return a.planned[rc.Address]
	}
	return nil
}

// newID returns the ID of a created (or replaced) resource.
func (a *applier) newID(rc *ResourceChange) string {
	if p := a.planned[rc.Address]; p != nil {
		return p.id
	}
	id, _ := rc.After.Str("id")
	return id
}

// widest records that id was read at its widest because of a value
// unknown until apply.
func (a *applier) widest(id, what string) string {
	note := "known after apply: widest reading (" + what + ")"
	if prev, ok := a.ov.Unknown[id]; ok && !strings.Contains(prev, what) {
		note = prev + "; " + what
	}
	a.ov.Unknown[id] = note
	return "known after apply: widest reading (" + what + ")"
}

// values returns the before and after attribute trees of a change, for
// the handlers that undo the before and apply the after.
func beforeAfter(rc *ResourceChange) (before, after *Value) {
	if rc.Action != Create && !rc.Before.IsZero() {
		b := rc.Before
		before = &b
	}
	if rc.Action != Delete {
		x := rc.After
		after = &x
	}
	return before, after
}

func tagList(v Value) []any {
	m, _ := v.V["tags"].(map[string]any)
	if m == nil {
		m, _ = v.V["tags_all"].(map[string]any)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := []any{}
	for _, k := range keys {
		if s, ok := m[k].(string); ok {
			out = append(out, map[string]any{"Key": k, "Value": s})
		}
	}
	return out
}

// scopeOfID reads the project or subscription out of a GCP or Azure
// resource ID.
func scopeOfID(id string) string {
	parts := strings.Split(strings.TrimPrefix(id, "/"), "/")
	if len(parts) > 1 && (parts[0] == "projects" || strings.EqualFold(parts[0], "subscriptions")) {
		return parts[1]
	}
	return ""
}

// inVPC resolves a resource's vpc_id (a snapshot VPC or a planned one) and
// places the resource, id, in that VPC's region.
func (a *applier) inVPC(rc *ResourceChange, after Value, id string) (*region, string, error) {
	vpcID, ok := a.refID(rc, after, "vpc_id", "vpc_id")
	if !ok {
		return nil, "", fmt.Errorf("vpc_id known after apply and not a planned VPC")
	}
	r, err := a.place(rc, id, vpcID)
	return r, vpcID, err
}

// drop removes a deleted resource's record (keyed by field in file) from
// the region that holds it and returns the resource's ID.
func (a *applier) drop(before *Value, file, field string) string {
	id, _ := before.Str("id")
	if r := a.regionOf(id); r != nil {
		r.remove(file, field, id)
	}
	return id
}
