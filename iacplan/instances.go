package iacplan

import (
	"fmt"
)

// Instances, network interfaces and Elastic IPs, written as
// ec2-describe-{instances,network-interfaces,addresses}.json: an
// instance's public addressing is its primary interface's Association.

// instance returns the instance object with that ID, or nil.
func (r *region) instance(id string) map[string]any {
	if id == "" {
		return nil
	}
	for _, res := range r.items(fileInsts) {
		insts, _ := res["Instances"].([]any)
		for _, e := range insts {
			if m, _ := e.(map[string]any); m != nil && m["InstanceId"] == id {
				return m
			}
		}
	}
	return nil
}

// primaryENI returns an instance's interface at device index 0.
func (r *region) primaryENI(instanceID string) map[string]any {
	for _, eni := range r.items(fileENIs) {
		att, _ := eni["Attachment"].(map[string]any)
		if att != nil && att["InstanceId"] == instanceID && toInt(att["DeviceIndex"]) <= 0 {
			return eni
		}
	}
	return nil
}

func groupList(ids []string) []any {
	out := []any{}
	for _, g := range ids {
		out = append(out, map[string]any{"GroupId": g})
	}
	return out
}

// setPublicIP gives an interface's primary private address a public one
// (nil: none).
func setPublicIP(eni map[string]any, ip string) {
	if ip == "" {
		delete(eni, "Association")
	} else {
		eni["Association"] = map[string]any{"PublicIp": ip}
	}
	priv, _ := eni["PrivateIpAddress"].(string)
	addrs, _ := eni["PrivateIpAddresses"].([]any)
	for _, e := range addrs {
		if m, _ := e.(map[string]any); m != nil && (m["Primary"] == true || m["PrivateIpAddress"] == priv) {
			if ip == "" {
				delete(m, "Association")
			} else {
				m["Association"] = map[string]any{"PublicIp": ip}
			}
		}
	}
}

func applyInstance(a *applier, rc *ResourceChange) (string, []string, error) {
	before, after := beforeAfter(rc)
	if after == nil {
		id, _ := before.Str("id")
		r := a.regionOf(id)
		if r == nil {
			return id, []string{"not in the snapshot: nothing to delete"}, nil
		}
		for _, res := range r.items(fileInsts) {
			insts, _ := res["Instances"].([]any)
			var keep []any
			for _, e := range insts {
				if m, _ := e.(map[string]any); m != nil && m["InstanceId"] == id {
					continue
				}
				keep = append(keep, e)
			}
			res["Instances"] = keep
		}
		r.touch(fileInsts)
		for _, eni := range r.items(fileENIs) {
			if att, _ := eni["Attachment"].(map[string]any); att != nil && att["InstanceId"] == id {
				eniID, _ := eni["NetworkInterfaceId"].(string)
				r.remove(fileENIs, "NetworkInterfaceId", eniID)
			}
		}
		return id, nil, nil
	}
	id := a.newID(rc)
	subnet, ok := a.refID(rc, *after, "subnet_id", "subnet_id")
	if !ok || subnet == "" {
		return "", nil, fmt.Errorf("subnet_id known after apply and not a planned subnet (or not set: default-VPC placement is not modelled)")
	}
	r, err := a.place(rc, id, subnet)
	if err != nil {
		return "", nil, err
	}
	sn := r.find(fileSubnets, "SubnetId", subnet)
	if sn == nil {
		return "", nil, fmt.Errorf("subnet %s is neither in the snapshot nor planned", subnet)
	}
	vpcID, _ := sn["VpcId"].(string)
	var notes []string
	groups, unresolved := a.refIDs(rc, *after, "vpc_security_group_ids", "vpc_security_group_ids")
	if unresolved {
		notes = append(notes, "vpc_security_group_ids known after apply and not planned groups: left out")
	}
	if len(groups) == 0 {
		// No group given: EC2 uses the VPC's default group.
		for _, g := range r.items(fileSGs) {
			if gid, _ := g["GroupId"].(string); gid != "" && g["VpcId"] == vpcID && g["GroupName"] == "default" {
				groups = append(groups, gid)
			}
		}
	}
	inst := r.instance(id)
	if inst == nil {
		inst = map[string]any{"InstanceId": id}
		r.add(fileInsts, map[string]any{"Instances": []any{inst}})
	}
	state := "running"
	if s, known := after.Str("instance_state"); known && s != "" {
		state = s
	}
	inst["State"] = map[string]any{"Name": state}
	inst["SubnetId"], inst["VpcId"] = subnet, vpcID
	inst["Tags"] = tagList(*after)
	eni := r.primaryENI(id)
	if eni == nil {
		eniID, known := after.Str("primary_network_interface_id")
		if !known || eniID == "" {
			eniID = "eni-planned-" + safeID(rc.Address)
		}
		eni = map[string]any{"NetworkInterfaceId": eniID, "InterfaceType": "interface", "Status": "in-use",
			"Attachment": map[string]any{"InstanceId": id, "DeviceIndex": 0}}
		r.add(fileENIs, eni)
		inst["NetworkInterfaces"] = []any{map[string]any{"NetworkInterfaceId": eniID, "Attachment": map[string]any{"DeviceIndex": 0}}}
	}
	eni["SubnetId"], eni["VpcId"] = subnet, vpcID
	eni["Groups"] = groupList(groups)
	priv, known := after.Str("private_ip")
	if !known || priv == "" {
		if old, _ := eni["PrivateIpAddress"].(string); old != "" {
			priv = old
		} else {
			c, _ := sn["CidrBlock"].(string)
			priv = privateIP(c, a.n)
		}
	}
	eni["PrivateIpAddress"] = priv
	eni["PrivateIpAddresses"] = []any{map[string]any{"PrivateIpAddress": priv, "Primary": true}}
	if v6, unknown := after.Strs("ipv6_addresses"); len(v6) > 0 || unknown {
		list := []any{}
		for _, x := range v6 {
			list = append(list, map[string]any{"Ipv6Address": x})
		}
		eni["Ipv6Addresses"] = list
		if n, _, _ := after.Int("ipv6_address_count"); unknown && n > 0 {
			notes = append(notes, "ipv6_addresses known after apply: the instance's IPv6 addresses are not modelled")
		}
	}

	// Public addressing: associate_public_ip_address, else the subnet's
	// MapPublicIpOnLaunch (what EC2 does when the launch does not say).
	// https://docs.aws.amazon.com/vpc/latest/userguide/vpc-ip-addressing.html
	public, set, known := after.Bool("associate_public_ip_address")
	switch {
	case set:
	case !known && rc.Action == Update && before != nil:
		public, _, _ = before.Bool("associate_public_ip_address")
	default:
		mp, _ := sn["MapPublicIpOnLaunch"].(bool)
		public = mp
	}
	if public {
		if pub, pk := after.Str("public_ip"); pk && pub != "" {
			setPublicIP(eni, pub)
		} else if cur, _ := eni["Association"].(map[string]any); cur == nil {
			ip := a.ips.take()
			n := "public IP known after apply: placeholder address " + ip
			eniID, _ := eni["NetworkInterfaceId"].(string)
			a.ov.Unknown[ip], a.ov.Unknown[eniID] = n, n
			notes = append(notes, n)
			setPublicIP(eni, ip)
		}
	} else if eni["Association"] != nil {
		// Keep an Elastic IP association; drop an auto-assigned address.
		if !a.hasEIP(r, eni) {
			setPublicIP(eni, "")
		}
	}
	r.touch(fileENIs)
	r.touch(fileInsts)
	return id, dedupe(notes), nil
}

func (a *applier) hasEIP(r *region, eni map[string]any) bool {
	for _, ad := range r.items(fileAddrs) {
		if ad["NetworkInterfaceId"] == eni["NetworkInterfaceId"] {
			return true
		}
	}
	return false
}

func applyNetworkInterface(a *applier, rc *ResourceChange) (string, []string, error) {
	before, after := beforeAfter(rc)
	if after == nil {
		return a.drop(before, fileENIs, "NetworkInterfaceId"), nil, nil
	}
	id := a.newID(rc)
	subnet, ok := a.refID(rc, *after, "subnet_id", "subnet_id")
	if !ok {
		return "", nil, fmt.Errorf("subnet_id known after apply and not a planned subnet")
	}
	r, err := a.place(rc, id, subnet)
	if err != nil {
		return "", nil, err
	}
	sn := r.find(fileSubnets, "SubnetId", subnet)
	if sn == nil {
		return "", nil, fmt.Errorf("subnet %s is neither in the snapshot nor planned", subnet)
	}
	var notes []string
	groups, unresolved := a.refIDs(rc, *after, "security_groups", "security_groups")
	if unresolved {
		notes = append(notes, "security_groups known after apply and not planned groups: left out")
	}
	eni := r.find(fileENIs, "NetworkInterfaceId", id)
	if eni == nil {
		eni = map[string]any{"NetworkInterfaceId": id, "InterfaceType": "interface", "Status": "available"}
		r.add(fileENIs, eni)
	}
	eni["SubnetId"], eni["VpcId"], eni["Groups"] = subnet, sn["VpcId"], groupList(groups)
	priv, known := after.Str("private_ip")
	if !known || priv == "" {
		if ips, _ := after.Strs("private_ips"); len(ips) > 0 {
			priv = ips[0]
		} else if old, _ := eni["PrivateIpAddress"].(string); old != "" {
			priv = old
		} else {
			c, _ := sn["CidrBlock"].(string)
			priv = privateIP(c, a.n)
		}
	}
	eni["PrivateIpAddress"] = priv
	if eni["PrivateIpAddresses"] == nil {
		eni["PrivateIpAddresses"] = []any{map[string]any{"PrivateIpAddress": priv, "Primary": true}}
	}
	if atts, _ := after.Blocks("attachment"); len(atts) > 0 {
		inst, ok := a.refID(rc, atts[0], "instance", "attachment.instance")
		if ok && inst != "" {
			idx, _, _ := atts[0].Int("device_index")
			eni["Attachment"] = map[string]any{"InstanceId": inst, "DeviceIndex": idx}
			eni["Status"] = "in-use"
		}
	}
	r.touch(fileENIs)
	return id, dedupe(notes), nil
}

// eniFor finds the interface an EIP goes to: the given interface, else the
// instance's primary one.
func (a *applier) eniFor(r *region, eniID, instID string) map[string]any {
	if eniID != "" {
		return r.find(fileENIs, "NetworkInterfaceId", eniID)
	}
	if instID != "" {
		return r.primaryENI(instID)
	}
	return nil
}

// disassociateEIP removes an address's association from its interface.
func disassociateEIP(r *region, publicIP string) {
	for _, eni := range r.items(fileENIs) {
		if as, _ := eni["Association"].(map[string]any); as != nil && as["PublicIp"] == publicIP {
			setPublicIP(eni, "")
			r.touch(fileENIs)
		}
	}
}

func applyEIP(a *applier, rc *ResourceChange) (string, []string, error) {
	before, after := beforeAfter(rc)
	if before != nil {
		id, _ := before.Str("id")
		pub, _ := before.Str("public_ip")
		if r := a.regionOf(id); r != nil {
			disassociateEIP(r, pub)
			if after == nil {
				r.remove(fileAddrs, "AllocationId", id)
			}
		}
		if after == nil {
			return id, nil, nil
		}
	}
	id := a.newID(rc)
	var notes []string
	inst, iok := a.refID(rc, *after, "instance", "instance")
	eniID, eok := a.refID(rc, *after, "network_interface", "network_interface")
	if !iok || !eok {
		return "", nil, fmt.Errorf("instance or network_interface known after apply and not a planned resource")
	}
	r, err := a.place(rc, id, inst, eniID)
	if err != nil {
		return "", nil, err
	}
	pub, known := after.Str("public_ip")
	if !known || pub == "" {
		pub = a.ips.take()
		n := "Elastic IP known after apply: placeholder address " + pub
		a.ov.Unknown[pub] = n
		notes = append(notes, n)
	}
	if p := a.planned[rc.Address]; p != nil {
		p.publicIP = pub
	}
	addr := r.find(fileAddrs, "AllocationId", id)
	if addr == nil {
		addr = map[string]any{"AllocationId": id, "Domain": "vpc"}
		r.add(fileAddrs, addr)
	}
	addr["PublicIp"] = pub
	delete(addr, "NetworkInterfaceId")
	if eni := a.eniFor(r, eniID, inst); eni != nil {
		addr["NetworkInterfaceId"] = eni["NetworkInterfaceId"]
		addr["PrivateIpAddress"] = eni["PrivateIpAddress"]
		setPublicIP(eni, pub)
		r.touch(fileENIs)
	} else if inst != "" || eniID != "" {
		notes = append(notes, "the instance or interface is not in the snapshot: the address is left unassociated")
	}
	r.touch(fileAddrs)
	return id, notes, nil
}

func applyEIPAssociation(a *applier, rc *ResourceChange) (string, []string, error) {
	before, after := beforeAfter(rc)
	if before != nil {
		alloc, _ := before.Str("allocation_id")
		pub, _ := before.Str("public_ip")
		if r := a.regionOf(alloc); r != nil {
			if ad := r.find(fileAddrs, "AllocationId", alloc); ad != nil {
				if pub == "" {
					pub, _ = ad["PublicIp"].(string)
				}
				delete(ad, "NetworkInterfaceId")
				r.touch(fileAddrs)
			}
			disassociateEIP(r, pub)
		}
		if after == nil {
			return alloc, nil, nil
		}
	}
	alloc, ok := a.refID(rc, *after, "allocation_id", "allocation_id")
	if !ok || alloc == "" {
		return "", nil, fmt.Errorf("allocation_id known after apply and not a planned Elastic IP")
	}
	inst, iok := a.refID(rc, *after, "instance_id", "instance_id")
	eniID, eok := a.refID(rc, *after, "network_interface_id", "network_interface_id")
	if !iok || !eok {
		return "", nil, fmt.Errorf("instance_id or network_interface_id known after apply and not a planned resource")
	}
	r := a.regionOf(alloc)
	if r == nil {
		return alloc, nil, fmt.Errorf("elastic IP %s is neither in the snapshot nor planned", alloc)
	}
	a.setRegion(rc, r)
	ad := r.find(fileAddrs, "AllocationId", alloc)
	pub, _ := ad["PublicIp"].(string)
	eni := a.eniFor(r, eniID, inst)
	if eni == nil {
		return alloc, nil, fmt.Errorf("the instance or interface to associate is neither in the snapshot nor planned")
	}
	ad["NetworkInterfaceId"], ad["PrivateIpAddress"] = eni["NetworkInterfaceId"], eni["PrivateIpAddress"]
	setPublicIP(eni, pub)
	r.touch(fileAddrs)
	r.touch(fileENIs)
	return alloc, nil, nil
}
