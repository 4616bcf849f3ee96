package azure

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"

	"github.com/portcullis-sec/portcullis/providers"
)

// Virtual machine scale sets.
//
// The NICs and instance public IPs of a scale set in Uniform orchestration
// are child resources of the scale set: the subscription-wide NIC and
// public IP lists omit them
// (https://learn.microsoft.com/rest/api/virtualnetwork/network-interfaces/list-virtual-machine-scale-set-network-interfaces).
// Scale sets are listed through Microsoft.Compute (the project does not
// depend on the compute SDK: one raw list call through the ARM pipeline);
// scale sets referenced by load-balancer backends are added in case that
// list is not permitted. Flexible scale sets use ordinary NICs, already
// listed.

const (
	fileScaleSets      = "virtual-machine-scale-sets.json"
	dirScaleSetNICs    = "vmss-network-interfaces"
	dirScaleSetPublics = "vmss-public-ip-addresses"
	computeAPIVersion  = "2024-07-01"
)

// scaleSetRef is a scale set's resource group and name.
type scaleSetRef struct{ rg, name string }

func scaleSetFile(s scaleSetRef) string { return s.rg + "_" + s.name + ".json" }

// scaleSetOf extracts the scale set from a child resource ID
// (…/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/name/virtualMachines/0/…).
func scaleSetOf(id string) (scaleSetRef, bool) {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	var s scaleSetRef
	for i := 0; i+1 < len(parts); i++ {
		switch {
		case strings.EqualFold(parts[i], "resourceGroups"):
			s.rg = parts[i+1]
		case strings.EqualFold(parts[i], "virtualMachineScaleSets"):
			s.name = parts[i+1]
			return s, s.rg != ""
		}
	}
	return s, false
}

// collectScaleSets lists the subscription's Uniform scale sets and those
// load balancers point at, then their NICs and public IPs. It returns the
// number of calls that succeeded.
func (c *collector) collectScaleSets(ctx context.Context, snap *providers.Snapshot, sub string, f *armnetwork.ClientFactory,
	lbs []json.RawMessage, fail func(api string, err error)) int {
	ok := 0
	sets := map[string]scaleSetRef{}
	add := func(s scaleSetRef) { sets[strings.ToLower(s.rg+"/"+s.name)] = s }

	values, err := c.listComputeScaleSets(ctx, sub)
	if err != nil {
		fail("virtualMachineScaleSets", err)
	} else {
		ok++
		if err := snap.PutJSON(providers.Join(Provider, sub, fileScaleSets), listDocument{Value: values}); err != nil {
			fail("virtualMachineScaleSets", err)
		}
		for _, raw := range values {
			var v struct {
				ID         string `json:"id"`
				Properties struct {
					OrchestrationMode string `json:"orchestrationMode"`
				} `json:"properties"`
			}
			if json.Unmarshal(raw, &v) != nil || strings.EqualFold(v.Properties.OrchestrationMode, "Flexible") {
				continue
			}
			if rg, name, valid := resourceGroupAndName(v.ID); valid {
				add(scaleSetRef{rg, name})
			}
		}
	}
	for _, raw := range lbs {
		var lb lbDoc
		if json.Unmarshal(raw, &lb) != nil {
			continue
		}
		for _, p := range lb.Properties.BackendAddressPools {
			for _, r := range p.Properties.BackendIPConfigurations {
				if s, found := scaleSetOf(r.ID); found {
					add(s)
				}
			}
		}
		for _, r := range lb.Properties.InboundNatRules {
			if r.Properties.BackendIPConfiguration != nil {
				if s, found := scaleSetOf(r.Properties.BackendIPConfiguration.ID); found {
					add(s)
				}
			}
		}
	}
	keys := make([]string, 0, len(sets))
	for k := range sets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := sets[k]
		nics, err := rawPages(ctx, f.NewInterfacesClient().NewListVirtualMachineScaleSetNetworkInterfacesPager(s.rg, s.name, nil))
		if err != nil {
			fail("virtualMachineScaleSets/"+s.name+"/networkInterfaces", err)
		} else {
			ok++
			if err := snap.PutJSON(providers.Join(Provider, sub, dirScaleSetNICs, scaleSetFile(s)), listDocument{Value: nics}); err != nil {
				fail("virtualMachineScaleSets/"+s.name+"/networkInterfaces", err)
			}
		}
		pips, err := rawPages(ctx, f.NewPublicIPAddressesClient().NewListVirtualMachineScaleSetPublicIPAddressesPager(s.rg, s.name, nil))
		if err != nil {
			fail("virtualMachineScaleSets/"+s.name+"/publicIPAddresses", err)
		} else {
			ok++
			if err := snap.PutJSON(providers.Join(Provider, sub, dirScaleSetPublics, scaleSetFile(s)), listDocument{Value: pips}); err != nil {
				fail("virtualMachineScaleSets/"+s.name+"/publicIPAddresses", err)
			}
		}
	}
	return ok
}

// listComputeScaleSets lists Microsoft.Compute/virtualMachineScaleSets
// through the ARM pipeline (auth, retries, nextLink), keeping raw items.
func (c *collector) listComputeScaleSets(ctx context.Context, sub string) ([]json.RawMessage, error) {
	client, err := arm.NewClient("portcullis/azure", "v1.0.0", c.cred, c.opts)
	if err != nil {
		return nil, err
	}
	next := runtime.JoinPaths(client.Endpoint(), "/subscriptions/"+sub+"/providers/Microsoft.Compute/virtualMachineScaleSets") + "?api-version=" + computeAPIVersion
	values := []json.RawMessage{}
	for pages := 0; next != ""; pages++ {
		if pages > 10000 {
			return nil, fmt.Errorf("list scale sets: too many pages")
		}
		page, err := armPage[scaleSetPage](ctx, client, next, "page")
		if err != nil {
			return nil, err
		}
		values = append(values, page.Value...)
		next = page.NextLink
	}
	return values, nil
}

// scaleSetPage is the list envelope of virtualMachineScaleSets.
type scaleSetPage struct {
	Value    []json.RawMessage `json:"value"`
	NextLink string            `json:"nextLink"`
}

// loadScaleSets reads the scale sets' NICs and public IPs, which have the
// same shape as the subscription-wide lists.
func (e *estate) loadScaleSets(fsys fs.FS, sub string) {
	for _, dir := range []string{dirScaleSetNICs, dirScaleSetPublics} {
		entries, err := fs.ReadDir(fsys, sub+"/"+dir)
		if err != nil {
			continue // none collected
		}
		for _, ent := range entries {
			if ent.IsDir() || !strings.HasSuffix(ent.Name(), ".json") {
				continue
			}
			name := dir + "/" + ent.Name()
			if dir == dirScaleSetNICs {
				readList(e, fsys, sub, name, func(src source, d *nicDoc) { e.addNIC(src, d) })
			} else {
				readList(e, fsys, sub, name, func(src source, d *publicIPDoc) { e.addPublicIP(src, d) })
			}
		}
	}
}
