package iacplan

import (
	"fmt"
	"path"
	"strings"

	"github.com/portcullis-sec/portcullis/internal/arnfile"
)

// Elastic Load Balancing v2: aws_lb, aws_lb_listener, aws_lb_target_group
// and aws_lb_target_group_attachment (and their aws_alb_* aliases),
// written as elbv2-describe-{load-balancers,listeners,target-groups}.json
// and the per-target-group elbv2-describe-target-health/<tg>.json.

const (
	fileLBs       = "elbv2-describe-load-balancers.json"
	fileListeners = "elbv2-describe-listeners.json"
	fileTGs       = "elbv2-describe-target-groups.json"
	dirHealth     = "elbv2-describe-target-health"
	dirRules      = "elbv2-describe-rules"
)

func healthFile(tgARN string) string { return path.Join(dirHealth, arnfile.Name(tgARN)+".json") }

// lbRegionOf finds the account-region holding an ELBv2 ARN.
func (a *applier) lbRegionOf(arn string) *region {
	if r := a.regionOf(arn); r != nil {
		return r
	}
	for _, r := range a.snap.regions {
		for file, field := range map[string]string{fileLBs: "LoadBalancerArn", fileListeners: "ListenerArn", fileTGs: "TargetGroupArn"} {
			if r.find(file, field, arn) != nil {
				a.cur = r
				return r
			}
		}
	}
	return nil
}

func applyLoadBalancer(a *applier, rc *ResourceChange) (string, []string, error) {
	before, after := beforeAfter(rc)
	if after == nil {
		arn, _ := before.Str("arn")
		if arn == "" {
			arn, _ = before.Str("id")
		}
		if r := a.lbRegionOf(arn); r != nil {
			r.remove(fileLBs, "LoadBalancerArn", arn)
			r.remove(fileListeners, "LoadBalancerArn", arn)
		}
		return arn, nil, nil
	}
	arn := a.newID(rc)
	if k, known := after.Str("arn"); known && k != "" {
		arn = k
	}
	var notes []string
	subnets, unresolved := a.refIDs(rc, *after, "subnets", "subnets")
	if maps, _ := after.Blocks("subnet_mapping"); len(maps) > 0 {
		for _, m := range maps {
			if id, ok := a.refID(rc, m, "subnet_id", "subnet_mapping.subnet_id"); ok && id != "" && !contains(subnets, id) {
				subnets = append(subnets, id)
			}
		}
	}
	if unresolved || len(subnets) == 0 {
		return "", nil, fmt.Errorf("subnets known after apply and not planned subnets: the load balancer's path is unknown")
	}
	r, err := a.place(rc, append([]string{arn}, subnets...)...)
	if err != nil {
		return "", nil, err
	}
	vpcID := ""
	zones := []any{}
	for _, s := range subnets {
		sn := r.find(fileSubnets, "SubnetId", s)
		if sn == nil {
			return "", nil, fmt.Errorf("subnet %s is neither in the snapshot nor planned", s)
		}
		vpcID, _ = sn["VpcId"].(string)
		zones = append(zones, map[string]any{"SubnetId": s, "ZoneName": sn["AvailabilityZone"], "LoadBalancerAddresses": []any{}})
	}
	lb := r.find(fileLBs, "LoadBalancerArn", arn)
	if lb == nil {
		lb = map[string]any{"LoadBalancerArn": arn, "State": map[string]any{"Code": "active"}}
		r.add(fileLBs, lb)
	}
	name, _ := after.Str("name")
	typ, tk := after.Str("load_balancer_type")
	if !tk || typ == "" {
		typ = "application"
	}
	scheme := "internet-facing"
	internal, _, ik := after.Bool("internal")
	if !ik {
		notes = append(notes, a.widest(arn, "internal read as false: internet-facing"))
	} else if internal {
		scheme = "internal"
	}
	dns, dk := after.Str("dns_name")
	if !dk || dns == "" {
		dns = strings.ToLower(safeID(name)) + "-planned." + r.name + ".elb.amazonaws.com"
		a.ov.Unknown[dns] = "DNS name known after apply: placeholder " + dns
	}
	ipType, _ := after.Str("ip_address_type")
	if ipType == "" {
		ipType = "ipv4"
	}
	groups, gu := a.refIDs(rc, *after, "security_groups", "security_groups")
	if gu {
		notes = append(notes, "security_groups known after apply and not planned groups: left out")
	}
	lb["LoadBalancerName"], lb["DNSName"], lb["Scheme"], lb["Type"] = name, dns, scheme, typ
	lb["VpcId"], lb["IpAddressType"], lb["AvailabilityZones"] = vpcID, ipType, zones
	lb["SecurityGroups"] = groups
	r.touch(fileLBs)
	return arn, dedupe(notes), nil
}

// lbActions reads default_action blocks into the API's DefaultActions.
func (a *applier) lbActions(rc *ResourceChange, v Value) ([]any, []string, error) {
	blocks, unknown := v.Blocks("default_action")
	if unknown {
		return nil, nil, fmt.Errorf("default_action known after apply")
	}
	var notes []string
	out := []any{}
	for _, b := range blocks {
		typ, _ := b.Str("type")
		act := map[string]any{"Type": typ}
		if tg, ok := a.refID(rc, b, "target_group_arn", "default_action.target_group_arn"); !ok {
			notes = append(notes, "a target group known after apply and not planned: the action forwards nowhere")
		} else if tg != "" {
			act["TargetGroupArn"] = tg
		}
		if fw, _ := b.Blocks("forward"); len(fw) > 0 {
			tgs, _ := fw[0].Blocks("target_group")
			list := []any{}
			for _, t := range tgs {
				if id, ok := a.refID(rc, t, "arn", "default_action.forward"); ok && id != "" {
					list = append(list, map[string]any{"TargetGroupArn": id})
				}
			}
			act["ForwardConfig"] = map[string]any{"TargetGroups": list}
		}
		out = append(out, act)
	}
	return out, notes, nil
}

func applyListener(a *applier, rc *ResourceChange) (string, []string, error) {
	before, after := beforeAfter(rc)
	if after == nil {
		arn, _ := before.Str("arn")
		if arn == "" {
			arn, _ = before.Str("id")
		}
		if r := a.lbRegionOf(arn); r != nil {
			r.remove(fileListeners, "ListenerArn", arn)
		}
		return arn, nil, nil
	}
	arn := a.newID(rc)
	if k, known := after.Str("arn"); known && k != "" {
		arn = k
	}
	lbARN, ok := a.refID(rc, *after, "load_balancer_arn", "load_balancer_arn")
	if !ok || lbARN == "" {
		return "", nil, fmt.Errorf("load_balancer_arn known after apply and not a planned load balancer")
	}
	r := a.lbRegionOf(lbARN)
	if r == nil {
		return "", nil, fmt.Errorf("load balancer %s is neither in the snapshot nor planned", lbARN)
	}
	a.setRegion(rc, r)
	port, set, known := after.Int("port")
	if !known || !set {
		return "", nil, fmt.Errorf("port known after apply: the listener's port is unknown")
	}
	proto, _ := after.Str("protocol")
	if proto == "" {
		proto = "HTTP"
		if lb := r.find(fileLBs, "LoadBalancerArn", lbARN); lb != nil && lb["Type"] == "network" {
			proto = "TCP"
		}
	}
	actions, notes, err := a.lbActions(rc, *after)
	if err != nil {
		return "", nil, err
	}
	l := r.upsert(fileListeners, "ListenerArn", arn)
	l["LoadBalancerArn"], l["Port"], l["Protocol"], l["DefaultActions"] = lbARN, port, strings.ToUpper(proto), actions
	r.touch(fileListeners)
	return arn, notes, nil
}

func applyTargetGroup(a *applier, rc *ResourceChange) (string, []string, error) {
	before, after := beforeAfter(rc)
	if after == nil {
		arn, _ := before.Str("arn")
		if arn == "" {
			arn, _ = before.Str("id")
		}
		if r := a.lbRegionOf(arn); r != nil {
			r.remove(fileTGs, "TargetGroupArn", arn)
		}
		return arn, nil, nil
	}
	arn := a.newID(rc)
	if k, known := after.Str("arn"); known && k != "" {
		arn = k
	}
	r, vpcID, err := a.inVPC(rc, *after, arn)
	if err != nil {
		return "", nil, err
	}
	tg := r.find(fileTGs, "TargetGroupArn", arn)
	if tg == nil {
		tg = map[string]any{"TargetGroupArn": arn}
		r.add(fileTGs, tg)
		// A new group has no targets until attachments register them;
		// the file must exist, or the normalizer reads "not collected".
		if r.list(healthFile(arn)) == nil {
			r.setList(healthFile(arn), nil)
		}
	}
	name, _ := after.Str("name")
	proto, _ := after.Str("protocol")
	typ, _ := after.Str("target_type")
	if typ == "" {
		typ = "instance"
	}
	tg["TargetGroupName"], tg["Protocol"], tg["TargetType"], tg["VpcId"] = name, strings.ToUpper(proto), typ, vpcID
	if port, set, known := after.Int("port"); known && set {
		tg["Port"] = port
	}
	if ipt, _ := after.Str("ip_address_type"); ipt != "" {
		tg["IpAddressType"] = ipt
	}
	r.touch(fileTGs)
	return arn, nil, nil
}

func applyTargetGroupAttachment(a *applier, rc *ResourceChange) (string, []string, error) {
	before, after := beforeAfter(rc)
	if before != nil {
		tg, _ := before.Str("target_group_arn")
		target, _ := before.Str("target_id")
		if r := a.lbRegionOf(tg); r != nil {
			f := healthFile(tg)
			var keep []any
			for _, e := range r.list(f) {
				if m, _ := e.(map[string]any); m != nil {
					if t, _ := m["Target"].(map[string]any); t != nil && t["Id"] == target {
						continue
					}
				}
				keep = append(keep, e)
			}
			r.setList(f, keep)
		}
		if after == nil {
			return tg, nil, nil
		}
	}
	tg, ok := a.refID(rc, *after, "target_group_arn", "target_group_arn")
	if !ok || tg == "" {
		return "", nil, fmt.Errorf("target_group_arn known after apply and not a planned target group")
	}
	target, ok := a.refID(rc, *after, "target_id", "target_id")
	if !ok || target == "" {
		return "", nil, fmt.Errorf("target_id known after apply and not a planned instance")
	}
	r := a.lbRegionOf(tg)
	if r == nil {
		return "", nil, fmt.Errorf("target group %s is neither in the snapshot nor planned", tg)
	}
	a.setRegion(rc, r)
	t := map[string]any{"Id": target}
	if port, set, known := after.Int("port"); known && set {
		t["Port"] = port
	}
	f := healthFile(tg)
	// "initial": what a freshly registered target reports; the load
	// balancer sends it traffic once healthy, and fails open when none is.
	r.setList(f, append(r.list(f), map[string]any{"Target": t, "TargetHealth": map[string]any{"State": "initial"}}))
	return tg + " ← " + target, nil, nil
}
