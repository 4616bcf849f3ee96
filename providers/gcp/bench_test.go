package gcp

import (
	"encoding/json"
	"fmt"
	"testing"
	"testing/fstest"

	"github.com/portcullis-sec/portcullis/exposure"
)

// largeEstate builds one project with nNets networks, nRules firewall
// rules per network (tag-targeted allows and denies over 50 tags) and
// nInst instances with two tags each and an external address.
func largeEstate(nNets, nRules, nInst int) fstest.MapFS {
	base := "https://www.googleapis.com/compute/v1/projects/big"
	var nets, rules, insts []map[string]any
	for n := 0; n < nNets; n++ {
		nw := fmt.Sprintf("%s/global/networks/net-%d", base, n)
		nets = append(nets, map[string]any{"name": fmt.Sprintf("net-%d", n), "selfLink": nw})
		for r := 0; r < nRules; r++ {
			f := map[string]any{"name": fmt.Sprintf("r-%d-%d", n, r), "network": nw, "direction": "INGRESS",
				"priority": 100 + r%10*100, "targetTags": []string{fmt.Sprintf("t%d", r%50)},
				"sourceRanges": []string{"0.0.0.0/0", fmt.Sprintf("198.51.100.%d/32", r%256)}}
			ports := []string{fmt.Sprint(1000 + r), fmt.Sprintf("%d-%d", 20000+r*10, 20005+r*10)}
			if r%7 == 0 {
				f["denied"] = []map[string]any{{"IPProtocol": "tcp", "ports": ports}}
			} else {
				f["allowed"] = []map[string]any{{"IPProtocol": "tcp", "ports": ports}, {"IPProtocol": "udp", "ports": ports[:1]}}
			}
			rules = append(rules, f)
		}
	}
	for i := 0; i < nInst; i++ {
		n := i % nNets
		insts = append(insts, map[string]any{"name": fmt.Sprintf("vm-%d", i), "status": "RUNNING",
			"zone":     base + "/zones/europe-west1-b",
			"selfLink": fmt.Sprintf("%s/zones/europe-west1-b/instances/vm-%d", base, i),
			"tags":     map[string]any{"items": []string{fmt.Sprintf("t%d", i%50), fmt.Sprintf("t%d", (i/50)%50)}},
			"networkInterfaces": []map[string]any{{"network": fmt.Sprintf("%s/global/networks/net-%d", base, n),
				"networkIP": fmt.Sprintf("10.%d.%d.%d", n, i/250%250, i%250+1),
				"accessConfigs": []map[string]any{{"type": "ONE_TO_ONE_NAT",
					"natIP": fmt.Sprintf("203.0.113.%d", i%250+1)}}}}})
	}
	enc := func(v any) *fstest.MapFile { b, _ := json.Marshal(v); return &fstest.MapFile{Data: b} }
	fsys := fstest.MapFS{"big/networks.json": enc(nets), "big/firewall-rules.json": enc(rules), "big/instances.json": enc(insts),
		// Every collection writes these (requiredFiles): without them the
		// normalizer rightly reports the firewall data as unknown.
		"big/" + FileNetworkFirewallPolicies: enc([]any{}), "big/" + FileForwardingRules: enc([]any{})}
	for n := 0; n < nNets; n++ {
		fsys[fmt.Sprintf("big/%s/net-%d.json", DirEffectiveFirewalls, n)] = enc(map[string]any{})
	}
	return fsys
}

// BenchmarkNormalizeAnalyze measures a 3-network, 600-rule, 5,000-instance
// project: go test -run ^$ -bench NormalizeAnalyze -benchtime 3x ./providers/gcp
func BenchmarkNormalizeAnalyze(b *testing.B) {
	fsys := largeEstate(3, 200, 5000)
	for b.Loop() {
		inv, err := Normalize(fsys)
		if err != nil || len(inv.Errors) > 0 {
			b.Fatal(err, inv.Errors)
		}
		res := exposure.Analyze(inv)
		if len(res.Effective) == 0 {
			b.Fatal("no exposures")
		}
		b.ReportMetric(float64(len(inv.Targets)), "targets")
		b.ReportMetric(float64(len(res.Effective)), "exposures")
	}
}

func BenchmarkNormalize(b *testing.B) {
	fsys := largeEstate(3, 200, 5000)
	for b.Loop() {
		if _, err := Normalize(fsys); err != nil {
			b.Fatal(err)
		}
	}
}
