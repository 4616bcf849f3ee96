package iacplan

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/portcullis-sec/portcullis/exposure"
)

// GCP VPC firewall rules: google_compute_firewall, written into the
// project's firewall-rules.json (what `gcloud compute firewall-rules list
// --format=json` prints, docs/providers/gcp.md). Only projects the
// snapshot holds are changed: a firewall rule needs the project's
// instances and networks to mean anything.

const computeBase = "https://www.googleapis.com/compute/v1/"

// gcpProjects lists the snapshot's GCP projects.
func (s *snapshot) gcpProjects() []string {
	if s.base == nil {
		return nil
	}
	ents, err := fs.ReadDir(s.base, exposure.ProviderGCP)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

// gcpNetwork turns the network attribute ("default", a relative name or a
// URL) into the URL the API writes.
func gcpNetwork(project, n string) string {
	switch {
	case strings.HasPrefix(n, "https://"):
		return n
	case strings.HasPrefix(n, "projects/"):
		return computeBase + n
	case strings.Contains(n, "/"):
		return computeBase + "projects/" + project + "/" + strings.TrimPrefix(n, "/")
	}
	return computeBase + "projects/" + project + "/global/networks/" + n
}

func applyGCPFirewall(a *applier, rc *ResourceChange) (string, []string, error) {
	before, after := beforeAfter(rc)
	v := after
	if v == nil {
		v = before
	}
	project, known := v.Str("project")
	if !known || project == "" {
		if ps := a.snap.gcpProjects(); len(ps) == 1 {
			project = ps[0]
		} else {
			return "", nil, errors.New("project known after apply (the provider's default) and the snapshot has not exactly one GCP project")
		}
	}
	if !a.snap.hasDir(path.Join(exposure.ProviderGCP, project)) {
		return "", nil, fmt.Errorf("the snapshot has no GCP project %s", project)
	}
	file := path.Join(exposure.ProviderGCP, project, "firewall-rules.json")
	cur, _ := a.snap.file(file)
	rules, _ := cur.([]any)
	remove := func(name string) {
		var keep []any
		for _, e := range rules {
			if m, _ := e.(map[string]any); m != nil && m["name"] == name {
				continue
			}
			keep = append(keep, e)
		}
		rules = keep
	}
	if before != nil {
		name, _ := before.Str("name")
		remove(name)
	}
	id := ""
	var notes []string
	if after != nil {
		name, nk := after.Str("name")
		if !nk || name == "" {
			return "", nil, errors.New("name known after apply")
		}
		remove(name)
		netw, ok := a.refID(rc, *after, "network", "network")
		if !ok || netw == "" {
			return "", nil, errors.New("network known after apply and not in the snapshot (networks are not modelled)")
		}
		id = "projects/" + project + "/global/firewalls/" + name
		wide := func(what string) { notes = append(notes, a.widest(id, what)) }
		dir, _ := after.Str("direction")
		if dir == "" {
			dir = "INGRESS"
		}
		prio, set, pk := after.Int("priority")
		if !pk {
			prio = 0
			wide("priority read as 0 (evaluated first)")
		} else if !set {
			prio = 1000
		}
		fw := map[string]any{"kind": "compute#firewall", "name": name, "network": gcpNetwork(project, netw),
			"priority": prio, "direction": strings.ToUpper(dir), "selfLink": computeBase + id}
		disabled, _, dk := after.Bool("disabled")
		fw["disabled"] = disabled && dk
		for _, f := range [][3]string{
			{"source_ranges", "sourceRanges", "0.0.0.0/0"}, {"destination_ranges", "destinationRanges", ""},
			{"source_tags", "sourceTags", ""}, {"source_service_accounts", "sourceServiceAccounts", ""},
			{"target_tags", "targetTags", ""}, {"target_service_accounts", "targetServiceAccounts", ""},
		} {
			vals, unknown := after.Strs(f[0])
			if unknown {
				switch f[0] {
				case "source_ranges":
					vals = append(vals, f[2])
					wide("source_ranges read as 0.0.0.0/0")
				case "target_tags", "target_service_accounts":
					// No target selector is every instance of the network.
					vals = nil
					wide(f[0] + " read as every instance")
				case "source_tags", "source_service_accounts":
					// Sources by tag are instances, never the internet.
				}
			}
			if len(vals) > 0 {
				list := []any{}
				for _, x := range vals {
					list = append(list, x)
				}
				fw[f[1]] = list
			}
		}
		for _, k := range [][2]string{{"allow", "allowed"}, {"deny", "denied"}} {
			blocks, unknown := after.Blocks(k[0])
			if unknown {
				if k[0] == "allow" {
					blocks = []Value{{V: map[string]any{"protocol": "all"}}}
					wide("allow read as all traffic")
				} else {
					blocks = nil
					wide("deny read as denying nothing")
				}
			}
			list := []any{}
			for _, b := range blocks {
				proto, pk := b.Str("protocol")
				if !pk {
					proto = "all"
					wide("protocol read as all")
				}
				e := map[string]any{"IPProtocol": proto}
				ports, pu := b.Strs("ports")
				if pu {
					ports = nil
					wide("ports read as all")
				}
				if len(ports) > 0 {
					pl := []any{}
					for _, p := range ports {
						pl = append(pl, p)
					}
					e["ports"] = pl
				}
				list = append(list, e)
			}
			if len(list) > 0 {
				fw[k[1]] = list
			}
		}
		rules = append(rules, fw)
	}
	if rules == nil {
		rules = []any{}
	}
	a.snap.setFile(file, rules)
	if id == "" {
		name, _ := before.Str("name")
		id = "projects/" + project + "/global/firewalls/" + name
	}
	return id, dedupe(notes), nil
}
