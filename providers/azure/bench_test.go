package azure

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/portcullis-sec/portcullis/exposure"
)

// syntheticEstate is one subscription with nics NICs (each with a Standard
// public IP) spread over subnets, nsgs NSGs of rules inbound rules each,
// every subnet and NIC with an NSG.
func syntheticEstate(nics, nsgs, rules int) fstest.MapFS {
	var nsgItems, nicItems, pipItems, subnets []string
	for i := range nsgs {
		var rs []string
		for j := range rules {
			access := "Allow"
			if j%5 == 4 {
				access = "Deny"
			}
			rs = append(rs, fmt.Sprintf(`{"name":"r%d","properties":{"access":%q,"direction":"Inbound","priority":%d,"protocol":"Tcp",
			  "sourcePortRange":"*","destinationPortRange":"%d","sourceAddressPrefix":"%s","destinationAddressPrefix":"10.%d.%d.0/24"}}`,
				j, access, 100+j, 1000+j*7, []string{"*", "Internet", "198.51.100.0/24", "VirtualNetwork"}[j%4], i%200, j%250))
		}
		nsgItems = append(nsgItems, nsgJSON(fmt.Sprintf("nsg-%d", i), rs...))
	}
	for s := range 64 {
		subnets = append(subnets, fmt.Sprintf(`{"id":"%svirtualNetworks/v/subnets/s%d","name":"s%d","properties":{"addressPrefix":"10.%d.0.0/16",
		  "networkSecurityGroup":{"id":"%snetworkSecurityGroups/nsg-%d"}}}`, trg, s, s, s, trg, s%nsgs))
	}
	for n := range nics {
		name := fmt.Sprintf("nic-%d", n)
		pip := fmt.Sprintf("pip-%d", n)
		nicItems = append(nicItems, fmt.Sprintf(`{"id":"%snetworkInterfaces/%s","name":"%s","properties":{
		  "networkSecurityGroup":{"id":"%snetworkSecurityGroups/nsg-%d"},
		  "ipConfigurations":[{"id":"%snetworkInterfaces/%s/ipConfigurations/c","name":"c","properties":{
		    "privateIPAddress":"10.%d.%d.%d","subnet":{"id":"%svirtualNetworks/v/subnets/s%d"},
		    "publicIPAddress":{"id":"%spublicIPAddresses/%s"}}}]}}`,
			trg, name, name, trg, (n*7)%nsgs, trg, name, n%64, (n/64)%250, 4+n%200, trg, n%64, trg, pip))
		pipItems = append(pipItems, pipJSON(pip, fmt.Sprintf("203.0.113.%d", n%256)))
	}
	vnet := `{"value":[{"id":"` + trg + `virtualNetworks/v","name":"v","properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/8"]},"subnets":[` +
		strings.Join(subnets, ",") + `]}}]}`
	return fstest.MapFS{
		tsub + "/" + fileNSGs:      list(nsgItems...),
		tsub + "/" + fileVNets:     {Data: []byte(vnet)},
		tsub + "/" + fileNICs:      list(nicItems...),
		tsub + "/" + filePublicIPs: list(pipItems...),
	}
}

// BenchmarkNormalizeAnalyze: 5,000 NICs, 100 NSGs of 100 rules.
func BenchmarkNormalizeAnalyze(b *testing.B) {
	fsys := syntheticEstate(5000, 100, 100)
	b.ResetTimer()
	for b.Loop() {
		inv, err := Normalize(fsys)
		if err != nil || len(inv.Errors) > 0 {
			b.Fatal(err, inv.Errors)
		}
		res := exposure.Analyze(inv)
		if len(res.Effective) == 0 {
			b.Fatal("no exposure")
		}
	}
}
