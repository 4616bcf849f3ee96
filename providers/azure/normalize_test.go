package azure

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/portcullis-sec/portcullis/exposure"
)

const (
	tsub = "00000000-0000-0000-0000-00000000000b"
	trg  = "/subscriptions/" + tsub + "/resourceGroups/rg/providers/Microsoft.Network/"
)

// nsgJSON builds an NSG with the given inbound rules (JSON objects).
func nsgJSON(name string, rules ...string) string {
	return `{"id":"` + trg + `networkSecurityGroups/` + name + `","name":"` + name + `","location":"westeurope",
	  "properties":{"securityRules":[` + strings.Join(rules, ",") + `]}}`
}

func ruleJSON(name string, prio int, proto, port, src string) string {
	return `{"name":"` + name + `","properties":{"access":"Allow","direction":"Inbound","priority":` + strconv.Itoa(prio) +
		`,"protocol":"` + proto + `","sourcePortRange":"*","destinationPortRange":"` + port +
		`","sourceAddressPrefix":"` + src + `","destinationAddressPrefix":"*"}}`
}

// nicJSON is a NIC in subnet "default" of vnet "v" with NSG nsg and public
// IP pip.
func nicJSON(name, ip, nsg, pip string) string {
	s := `{"id":"` + trg + `networkInterfaces/` + name + `","name":"` + name + `","location":"westeurope","properties":{`
	if nsg != "" {
		s += `"networkSecurityGroup":{"id":"` + trg + `networkSecurityGroups/` + nsg + `"},`
	}
	s += `"ipConfigurations":[{"id":"` + trg + `networkInterfaces/` + name + `/ipConfigurations/ipconfig1","name":"ipconfig1",
	  "properties":{"privateIPAddress":"` + ip + `","subnet":{"id":"` + trg + `virtualNetworks/v/subnets/default"}`
	if pip != "" {
		s += `,"publicIPAddress":{"id":"` + trg + `publicIPAddresses/` + pip + `"}`
	}
	return s + `}}]}}`
}

func pipJSON(name, addr string) string {
	return `{"id":"` + trg + `publicIPAddresses/` + name + `","name":"` + name + `","sku":{"name":"Standard"},
	  "properties":{"ipAddress":"` + addr + `","publicIPAddressVersion":"IPv4"}}`
}

const vnetJSON = `{"value":[{"id":"` + trg + `virtualNetworks/v","name":"v","properties":{"addressSpace":{"addressPrefixes":["10.9.0.0/16"]},
  "subnets":[{"id":"` + trg + `virtualNetworks/v/subnets/default","name":"default","properties":{"addressPrefix":"10.9.0.0/24"}}]}}]}`

func list(items ...string) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte(`{"value":[` + strings.Join(items, ",") + `]}`)}
}

func TestNormalizeBadInput(t *testing.T) {
	good := nsgJSON("nsg-good", ruleJSON("allow-https", 100, "Tcp", "443", "*"))
	tests := []struct {
		name  string
		files fstest.MapFS
		// errs are substrings each expected in one error (file, resource,
		// field and problem).
		errs []string
		// want are the effective exposures that must survive.
		want []string
	}{
		{
			name:  "malformed NSG file",
			files: fstest.MapFS{tsub + "/" + fileNSGs: {Data: []byte("{\"value\": [\n  {\"id\": ,}\n]}")}},
			errs: []string{"azure/" + tsub + "/network-security-groups.json", "line 2", "decode list document",
				trg + "networkSecurityGroups/nsg-good", "referenced but not in the snapshot"},
			// The NIC's NSG is then unknown: nothing is inferred through
			// it (today's code took it as open: all traffic from anyone).
			want: []string{},
		},
		{
			name: "bad source prefix",
			files: fstest.MapFS{tsub + "/" + fileNSGs: list(nsgJSON("nsg-good",
				ruleJSON("bad-prefix", 100, "Tcp", "22", "10.0.0.300/24"),
				ruleJSON("allow-https", 110, "Tcp", "443", "*")))},
			errs: []string{"network-security-groups.json " + trg + "networkSecurityGroups/nsg-good securityRules/bad-prefix", "properties.sourceAddressPrefix(es)", `"10.0.0.300/24"`},
			want: []string{"vm 203.0.113.5 tcp 443 from internet4"},
		},
		{
			name: "bad port",
			files: fstest.MapFS{tsub + "/" + fileNSGs: list(nsgJSON("nsg-good",
				ruleJSON("bad-port", 100, "Tcp", "70000", "*"),
				ruleJSON("allow-https", 110, "Tcp", "443", "*")))},
			errs: []string{"securityRules/bad-port", "properties.destinationPortRange(s)", "70000"},
			want: []string{"vm 203.0.113.5 tcp 443 from internet4"},
		},
		{
			name: "reversed port range",
			files: fstest.MapFS{tsub + "/" + fileNSGs: list(nsgJSON("nsg-good",
				ruleJSON("reversed", 100, "Tcp", "90-80", "*"),
				ruleJSON("allow-https", 110, "Tcp", "443", "*")))},
			errs: []string{"securityRules/reversed", "reversed"},
			want: []string{"vm 203.0.113.5 tcp 443 from internet4"},
		},
		{
			name: "unknown protocol",
			files: fstest.MapFS{tsub + "/" + fileNSGs: list(nsgJSON("nsg-good",
				ruleJSON("sctp", 100, "Sctp", "22", "*"),
				ruleJSON("allow-https", 110, "Tcp", "443", "*")))},
			errs: []string{"securityRules/sctp", "properties.protocol", `unknown protocol "Sctp"`},
			want: []string{"vm 203.0.113.5 tcp 443 from internet4"},
		},
		{
			name: "priority of the wrong type",
			files: fstest.MapFS{tsub + "/" + fileNSGs: list(
				`{"id":"`+trg+`networkSecurityGroups/nsg-bad","name":"nsg-bad","properties":{"securityRules":[{"name":"x","properties":{"priority":"high"}}]}}`,
				good)},
			errs: []string{"network-security-groups.json value[0] " + trg + "networkSecurityGroups/nsg-bad", "decode resource"},
			want: []string{"vm 203.0.113.5 tcp 443 from internet4"},
		},
		{
			name: "public IP missing and invalid",
			files: fstest.MapFS{
				tsub + "/" + fileNSGs:      list(good),
				tsub + "/" + fileNICs:      list(nicJSON("nic-vm", "10.9.0.4", "nsg-good", "pip-vm"), nicJSON("nic-2", "10.9.0.5", "nsg-good", "pip-gone")),
				tsub + "/" + filePublicIPs: list(pipJSON("pip-vm", "203.0.113.5"), pipJSON("pip-bad", "203.0.113.500")),
			},
			errs: []string{
				"network-interfaces.json " + trg + "networkInterfaces/nic-2/ipConfigurations/ipconfig1", "properties.publicIPAddress", "pip-gone is not in the snapshot",
				"public-ip-addresses.json " + trg + "publicIPAddresses/pip-bad", "properties.ipAddress", `"203.0.113.500"`,
			},
			want: []string{"vm 203.0.113.5 tcp 443 from internet4"},
		},
		{
			name: "bad load-balancer rule",
			files: fstest.MapFS{
				tsub + "/" + fileNSGs: list(good),
				tsub + "/" + fileLoadBalancers: list(`{"id":"` + trg + `loadBalancers/lb","name":"lb","sku":{"name":"Standard"},"properties":{
				  "frontendIPConfigurations":[{"id":"` + trg + `loadBalancers/lb/frontendIPConfigurations/fe","name":"fe","properties":{"publicIPAddress":{"id":"` + trg + `publicIPAddresses/pip-lb"}}}],
				  "loadBalancingRules":[{"id":"` + trg + `loadBalancers/lb/loadBalancingRules/r1","name":"r1","properties":{"frontendIPConfiguration":{"id":"` + trg + `loadBalancers/lb/frontendIPConfigurations/fe"},"protocol":"Quic","frontendPort":443,"backendPort":443}},
				                        {"id":"` + trg + `loadBalancers/lb/loadBalancingRules/r2","name":"r2","properties":{"frontendIPConfiguration":{"id":"` + trg + `loadBalancers/lb/frontendIPConfigurations/fe"},"protocol":"Tcp","frontendPort":80,"backendPort":99999}}]}}`),
				tsub + "/" + filePublicIPs: list(pipJSON("pip-vm", "203.0.113.5"), pipJSON("pip-lb", "203.0.113.6")),
			},
			errs: []string{
				"load-balancers.json " + trg + "loadBalancers/lb/loadBalancingRules/r1", `properties.protocol: unknown protocol "Quic"`,
				"loadBalancingRules/r2", "properties.backendPort: port 99999 out of range",
			},
			want: []string{"vm 203.0.113.5 tcp 443 from internet4"},
		},
		{
			// A scale-set instance whose NIC list is missing: its NSGs are
			// unknown, so the backend is taken as open, and said so.
			name: "load-balancer backend not in the snapshot",
			files: fstest.MapFS{
				tsub + "/" + fileNSGs: list(good),
				tsub + "/" + fileLoadBalancers: list(`{"id":"` + trg + `loadBalancers/lb","name":"lb","sku":{"name":"Standard"},"properties":{
				  "frontendIPConfigurations":[{"id":"` + trg + `loadBalancers/lb/frontendIPConfigurations/fe","name":"fe","properties":{"publicIPAddress":{"id":"` + trg + `publicIPAddresses/pip-lb"}}}],
				  "backendAddressPools":[{"id":"` + trg + `loadBalancers/lb/backendAddressPools/be","name":"be","properties":{"backendIPConfigurations":[
				    {"id":"/subscriptions/` + tsub + `/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/ss/virtualMachines/3/networkInterfaces/n/ipConfigurations/c"}]}}],
				  "loadBalancingRules":[{"id":"` + trg + `loadBalancers/lb/loadBalancingRules/r1","name":"r1","properties":{"frontendIPConfiguration":{"id":"` + trg + `loadBalancers/lb/frontendIPConfigurations/fe"},
				    "backendAddressPool":{"id":"` + trg + `loadBalancers/lb/backendAddressPools/be"},"protocol":"Tcp","frontendPort":443,"backendPort":8443}}]}}`),
				tsub + "/" + filePublicIPs: list(pipJSON("pip-vm", "203.0.113.5"), pipJSON("pip-lb", "203.0.113.6")),
			},
			errs: []string{trg + "loadBalancers/lb", "backend /subscriptions/" + tsub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/ss/virtualMachines/3", "not in the snapshot", "backend filter unknown"},
			want: []string{"vm 203.0.113.5 tcp 443 from internet4", "lb/fe 203.0.113.6 tcp 443 from internet4 -> c tcp 8443"},
		},
		{
			// The VNet list is missing: the subnet's NSG is unknown and
			// taken as open, so the NIC's NSG decides; a NIC without NSG
			// on a Standard public IP is then open, not closed.
			name: "subnet not in the snapshot",
			files: fstest.MapFS{
				tsub + "/" + fileVNets:     {Data: []byte(`{"value":[]}`)},
				tsub + "/" + fileNSGs:      list(good),
				tsub + "/" + fileNICs:      list(nicJSON("nic-vm", "10.9.0.4", "nsg-good", "pip-vm"), nicJSON("nic-bare", "10.9.0.5", "", "pip-bare")),
				tsub + "/" + filePublicIPs: list(pipJSON("pip-vm", "203.0.113.5"), pipJSON("pip-bare", "203.0.113.7")),
			},
			errs: []string{"network-interfaces.json " + trg + "networkInterfaces/nic-bare/ipConfigurations/ipconfig1", "properties.subnet", "nothing is inferred through it"},
			// Whether the subnets have NSGs is unknown: neither target is
			// analysed (today's code gave nic-bare all traffic from anyone).
			want: []string{},
		},
		{
			name: "malformed service tags",
			files: fstest.MapFS{
				tsub + "/" + fileNSGs:        list(good),
				tsub + "/" + fileServiceTags: {Data: []byte(`{"values": [`)},
			},
			errs: []string{"azure/" + tsub + "/service-tags.json", "decode service tags"},
			want: []string{"vm 203.0.113.5 tcp 443 from internet4"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				tsub + "/" + fileVNets:     {Data: []byte(vnetJSON)},
				tsub + "/" + fileNICs:      list(nicJSON("nic-vm", "10.9.0.4", "nsg-good", "pip-vm")),
				tsub + "/" + filePublicIPs: list(pipJSON("pip-vm", "203.0.113.5")),
			}
			for k, v := range tt.files {
				fsys[k] = v
			}
			inv, err := Normalize(fsys)
			if err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			var msgs []string
			for _, e := range inv.Errors {
				msgs = append(msgs, e.Error())
				if e.Provider != Provider || e.Stage != "normalize" {
					t.Errorf("error %+v: want provider azure, stage normalize", e)
				}
			}
			all := strings.Join(msgs, "\n")
			for _, want := range tt.errs {
				if !strings.Contains(all, want) {
					t.Errorf("no error mentions %q; errors:\n%s", want, all)
				}
			}
			// Names are "vm" for brevity: the target is nic-vm/ipconfig1.
			var got []string
			for _, l := range render(exposure.Analyze(inv).Effective) {
				got = append(got, strings.Replace(l, "nic-vm/ipconfig1", "vm", 1))
			}
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("exposure %q missing; got %v", w, got)
				}
			}
			if tt.want != nil && len(tt.want) == 0 && len(got) > 0 {
				t.Errorf("exposures %v, want none", got)
			}
		})
	}
}

func TestNormalizeEmpty(t *testing.T) {
	inv, err := Normalize(fstest.MapFS{})
	if err != nil || len(inv.Targets)+len(inv.Layers)+len(inv.Errors) != 0 {
		t.Errorf("empty snapshot: %+v, %v", inv, err)
	}
}

func TestNewCollectorConfig(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		cfg     Config
		wantErr string
	}{
		{Config{Cloud: "mars", Endpoint: "http://127.0.0.1:1"}, `unknown azure cloud "mars"`},
		{Config{Endpoint: "http://management.example.com"}, "plain http is allowed only on loopback"},
		{Config{Endpoint: "ftp://127.0.0.1"}, "want an http(s) URL"},
		{Config{Cloud: "china", Endpoint: "http://[::1]:8080"}, ""},
		{Config{Cloud: "USGovernment", Endpoint: "http://localhost:8080/"}, ""},
	} {
		_, err := NewCollector(ctx, tt.cfg)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%+v: %v", tt.cfg, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%+v: error %v, want %q", tt.cfg, err, tt.wantErr)
		}
	}
}
