package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions"
	"golang.org/x/sync/errgroup"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/providers"
)

type collector struct {
	cfg  Config
	cred azcore.TokenCredential
	opts *arm.ClientOptions
	log  *slog.Logger
}

// NewCollector returns a collector for cfg. With a loopback http:// Endpoint
// it needs no credentials; otherwise it uses DefaultAzureCredential, which
// fails only when a token is first requested.
func NewCollector(ctx context.Context, cfg Config) (providers.Collector, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	cc, err := cloudConfig(cfg.Cloud)
	if err != nil {
		return nil, err
	}
	opts := &arm.ClientOptions{}
	var cred azcore.TokenCredential
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("azure endpoint %q: want an http(s) URL", cfg.Endpoint)
		}
		endpoint := strings.TrimRight(cfg.Endpoint, "/")
		rm := cc.Services[cloud.ResourceManager]
		services := map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: endpoint, Audience: rm.Audience},
		}
		cc = cloud.Configuration{ActiveDirectoryAuthorityHost: cc.ActiveDirectoryAuthorityHost, Services: services}
		if u.Scheme == "http" {
			if !isLoopback(u.Hostname()) {
				return nil, fmt.Errorf("azure endpoint %q: plain http is allowed only on loopback", cfg.Endpoint)
			}
			// An emulator: azcore refuses to send a bearer token over plain
			// http unless told to, and the token is never checked.
			opts.InsecureAllowCredentialWithHTTP = true
			cred = staticToken{}
		}
	}
	opts.Cloud = cc
	if cred == nil && cfg.Credential != nil {
		cred = cfg.Credential
	}
	if cred == nil {
		c, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
			ClientOptions: policy.ClientOptions{Cloud: cc},
		})
		if err != nil {
			return nil, fmt.Errorf("azure credentials: %w", err)
		}
		cred = c
	}
	return &collector{cfg: cfg, cred: cred, opts: opts, log: log}, nil
}

func cloudConfig(name string) (cloud.Configuration, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "public", "azurepublic", "azurecloud":
		return cloud.AzurePublic, nil
	case "china", "azurechina", "azurechinacloud":
		return cloud.AzureChina, nil
	case "usgovernment", "usgov", "azureusgovernment", "azureusgovernmentcloud":
		return cloud.AzureGovernment, nil
	}
	return cloud.Configuration{}, fmt.Errorf("unknown azure cloud %q (want public, china or usgovernment)", name)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// staticToken is the credential sent to loopback emulators.
type staticToken struct{}

func (staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "portcullis-emulator", ExpiresOn: time.Now().Add(time.Hour)}, nil //nolint:gosec // G101: a placeholder, not a credential: sent only to loopback emulators, which never check it
}

// Collect lists every subscription's resources into snap under
// azure/<subscription-id>/. A failed API of one subscription is recorded as
// a snapshot error; the rest completes.
func (c *collector) Collect(ctx context.Context, snap *providers.Snapshot, progress providers.Progress) error {
	if progress == nil {
		progress = providers.NoProgress{}
	}
	subs := c.cfg.Subscriptions
	if len(subs) == 0 && len(c.cfg.ManagementGroups) > 0 {
		var err error
		if subs, err = c.subscriptionsOfGroups(ctx); err != nil {
			return fmt.Errorf("list azure subscriptions: %w", err)
		}
		if len(subs) == 0 {
			return fmt.Errorf("list azure subscriptions: no enabled subscription below management groups %s", strings.Join(c.cfg.ManagementGroups, ", "))
		}
	}
	if len(subs) == 0 {
		var err error
		if subs, err = c.listSubscriptions(ctx); err != nil {
			return fmt.Errorf("list azure subscriptions: %w", err)
		}
		if len(subs) == 0 {
			return errors.New("list azure subscriptions: the credentials see no enabled subscription")
		}
	}
	limit := c.cfg.Concurrency
	if limit <= 0 {
		limit = 4
	}
	progress.Add(len(subs))
	var succeeded atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for _, sub := range subs {
		g.Go(func() error {
			succeeded.Add(int64(c.collectSubscription(gctx, snap, sub)))
			progress.Done("azure " + sub)
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	if succeeded.Load() == 0 {
		// Every call of every subscription failed: most likely the
		// credentials, which a report full of per-API errors would hide.
		errs := snap.Errors()
		msg := "no call succeeded"
		if len(errs) > 0 {
			msg = errs[0].Error()
		}
		return fmt.Errorf("collect azure: nothing could be collected: %s", msg)
	}
	return nil
}

// listSubscriptions returns the enabled subscriptions the credentials see.
// Disabled, warned and past-due subscriptions are skipped: their resources
// are deallocated or read-only (https://learn.microsoft.com/azure/cost-management-billing/manage/subscription-states).
func (c *collector) listSubscriptions(ctx context.Context) ([]string, error) {
	client, err := armsubscriptions.NewClient(c.cred, c.opts)
	if err != nil {
		return nil, err
	}
	var subs []string
	pager := client.NewListPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range page.Value {
			if s == nil || s.SubscriptionID == nil {
				continue
			}
			if s.State != nil && *s.State != armsubscriptions.SubscriptionStateEnabled {
				c.log.Debug("skip subscription", "provider", Provider, "subscription", *s.SubscriptionID, "state", *s.State)
				continue
			}
			subs = append(subs, *s.SubscriptionID)
		}
	}
	return subs, nil
}

// listCall is one subscription-wide list API and the file it fills.
type listCall struct {
	file  string
	api   string // named in errors
	pages func(ctx context.Context) ([]json.RawMessage, error)
}

// collectSubscription collects one subscription and returns the number of
// calls that succeeded.
func (c *collector) collectSubscription(ctx context.Context, snap *providers.Snapshot, sub string) int {
	ok := 0
	fail := func(api string, err error) {
		c.log.Warn("azure collection failed", "subscription", sub, "api", api, "error", err)
		snap.AddError(exposure.Error{
			Scope:    exposure.Scope{Provider: Provider, Account: sub},
			Resource: api,
			Stage:    "collect",
			Message:  errorMessage(err),
		})
	}
	f, err := armnetwork.NewClientFactory(sub, c.cred, c.opts)
	if err != nil {
		fail("armnetwork", err)
		return 0
	}
	calls := []listCall{
		{fileNSGs, "networkSecurityGroups", func(ctx context.Context) ([]json.RawMessage, error) {
			return rawPages(ctx, f.NewSecurityGroupsClient().NewListAllPager(nil))
		}},
		{fileVNets, "virtualNetworks", func(ctx context.Context) ([]json.RawMessage, error) {
			return rawPages(ctx, f.NewVirtualNetworksClient().NewListAllPager(nil))
		}},
		{fileNICs, "networkInterfaces", func(ctx context.Context) ([]json.RawMessage, error) {
			return rawPages(ctx, f.NewInterfacesClient().NewListAllPager(nil))
		}},
		{filePublicIPs, "publicIPAddresses", func(ctx context.Context) ([]json.RawMessage, error) {
			return rawPages(ctx, f.NewPublicIPAddressesClient().NewListAllPager(nil))
		}},
		{fileLoadBalancers, "loadBalancers", func(ctx context.Context) ([]json.RawMessage, error) {
			return rawPages(ctx, f.NewLoadBalancersClient().NewListAllPager(nil))
		}},
		{fileNATGateways, "natGateways", func(ctx context.Context) ([]json.RawMessage, error) {
			return rawPages(ctx, f.NewNatGatewaysClient().NewListAllPager(nil))
		}},
		{fileASGs, "applicationSecurityGroups", func(ctx context.Context) ([]json.RawMessage, error) {
			return rawPages(ctx, f.NewApplicationSecurityGroupsClient().NewListAllPager(nil))
		}},
		{fileRouteTables, "routeTables", func(ctx context.Context) ([]json.RawMessage, error) {
			return rawPages(ctx, f.NewRouteTablesClient().NewListAllPager(nil))
		}},
		{fileFirewalls, "azureFirewalls", func(ctx context.Context) ([]json.RawMessage, error) {
			return rawPages(ctx, f.NewAzureFirewallsClient().NewListAllPager(nil))
		}},
		{fileFirewallPolicies, "firewallPolicies", func(ctx context.Context) ([]json.RawMessage, error) {
			return rawPages(ctx, f.NewFirewallPoliciesClient().NewListAllPager(nil))
		}},
		{fileIPGroups, "ipGroups", func(ctx context.Context) ([]json.RawMessage, error) {
			return rawPages(ctx, f.NewIPGroupsClient().NewListPager(nil))
		}},
		{fileAppGateways, "applicationGateways", func(ctx context.Context) ([]json.RawMessage, error) {
			return rawPages(ctx, f.NewApplicationGatewaysClient().NewListAllPager(nil))
		}},
	}
	got := map[string][]json.RawMessage{}
	for _, call := range calls {
		if ctx.Err() != nil {
			fail(call.api, ctx.Err())
			return ok
		}
		values, err := call.pages(ctx)
		if err != nil {
			fail(call.api, err)
			continue
		}
		ok++
		got[call.file] = values
		if err := snap.PutJSON(providers.Join(Provider, sub, call.file), listDocument{Value: values}); err != nil {
			fail(call.api, err)
		}
	}

	ok += c.collectScaleSets(ctx, snap, sub, f, got[fileLoadBalancers], fail)

	// Firewall policy rules live in per-policy rule collection groups.
	for _, raw := range got[fileFirewallPolicies] {
		var p struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(raw, &p) != nil {
			continue
		}
		rg, name, valid := resourceGroupAndName(p.ID)
		if !valid {
			continue
		}
		api := "firewallPolicies/" + name + "/ruleCollectionGroups"
		values, err := rawPages(ctx, f.NewFirewallPolicyRuleCollectionGroupsClient().NewListPager(rg, name, nil))
		if err != nil {
			fail(api, err)
			continue
		}
		ok++
		file := providers.Join(Provider, sub, dirRuleCollectionGroups, rcgFileName(rg, name))
		if err := snap.PutJSON(file, listDocument{Value: values}); err != nil {
			fail(api, err)
		}
	}

	// Service tags resolve NSG rules such as "AzureFrontDoor.Backend". The
	// list is the same for every location of a cloud; ask for the location
	// of a resource the subscription has, since the valid names differ
	// between clouds.
	if loc := firstLocation(got[fileNSGs], got[fileVNets], got[filePublicIPs]); loc != "" {
		var resp *http.Response
		_, err := f.NewServiceTagsClient().List(policy.WithCaptureResponse(ctx, &resp), loc, nil)
		if err == nil {
			var body []byte
			if body, err = runtime.Payload(resp); err == nil {
				err = snap.Put(providers.Join(Provider, sub, fileServiceTags), body)
			}
		}
		if err != nil {
			fail("locations/"+loc+"/serviceTags", err)
		} else {
			ok++
		}
	}
	return ok
}

// listDocument is the shape of every list file: the API's own page format
// with nextLink pages merged.
type listDocument struct {
	Value []json.RawMessage `json:"value"`
}

// rawPages follows a pager to the end and returns the raw JSON of every
// item, exactly as the API sent it (fields the SDK does not model are kept).
func rawPages[T any](ctx context.Context, pager *runtime.Pager[T]) ([]json.RawMessage, error) {
	values := []json.RawMessage{}
	for pager.More() {
		var resp *http.Response
		if _, err := pager.NextPage(policy.WithCaptureResponse(ctx, &resp)); err != nil {
			return nil, err
		}
		body, err := runtime.Payload(resp)
		if err != nil {
			return nil, fmt.Errorf("read page: %w", err)
		}
		var page listDocument
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, fmt.Errorf("decode page: %w", err)
		}
		values = append(values, page.Value...)
	}
	return values, nil
}

// errorMessage keeps the ARM error code and status of a failed call; the
// full response (request URL, headers) goes to the debug log only.
func errorMessage(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		code := re.ErrorCode
		if code == "" {
			code = http.StatusText(re.StatusCode)
		}
		return fmt.Sprintf("%s (HTTP %d)", code, re.StatusCode)
	}
	return err.Error()
}

// resourceGroupAndName splits /subscriptions/s/resourceGroups/rg/providers/ns/type/name.
func resourceGroupAndName(id string) (rg, name string, ok bool) {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], "resourceGroups") {
			rg = parts[i+1]
			break
		}
	}
	if rg == "" || len(parts) < 2 {
		return "", "", false
	}
	return rg, parts[len(parts)-1], true
}

func rcgFileName(rg, policy string) string { return rg + "_" + policy + ".json" }

func firstLocation(lists ...[]json.RawMessage) string {
	for _, l := range lists {
		for _, raw := range l {
			var r struct {
				Location string `json:"location"`
			}
			if json.Unmarshal(raw, &r) == nil && r.Location != "" && !strings.EqualFold(r.Location, "global") {
				return r.Location
			}
		}
	}
	return ""
}
