package gcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"github.com/googleapis/gax-go/v2/apierror"
	"golang.org/x/sync/errgroup"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/providers"
)

// Collector collects GCP projects into a snapshot.
type Collector struct {
	cfg  Config
	opts []option.ClientOption
	log  *slog.Logger

	networks      *compute.NetworksClient
	subnetworks   *compute.SubnetworksClient
	firewalls     *compute.FirewallsClient
	netPolicies   *compute.NetworkFirewallPoliciesClient
	regPolicies   *compute.RegionNetworkFirewallPoliciesClient
	instances     *compute.InstancesClient
	fwdRules      *compute.ForwardingRulesClient
	globalFwd     *compute.GlobalForwardingRulesClient
	targetPools   *compute.TargetPoolsClient
	targetInst    *compute.TargetInstancesClient
	backends      *compute.BackendServicesClient
	groups        *compute.InstanceGroupsClient
	regionGroups  *compute.RegionInstanceGroupsClient
	httpProxies   *compute.TargetHttpProxiesClient
	httpsProxies  *compute.TargetHttpsProxiesClient
	sslProxies    *compute.TargetSslProxiesClient
	tcpProxies    *compute.TargetTcpProxiesClient
	urlMaps       *compute.UrlMapsClient
	routers       *compute.RoutersClient
	negs          *compute.NetworkEndpointGroupsClient
	closers       []func() error
	projectsCache *resourcemanager.ProjectsClient
}

// NewCollector builds the REST clients with Application Default Credentials
// (or cfg.ClientOptions). When cfg.Endpoint is set every client talks to it,
// and a loopback http endpoint is used without authentication.
func NewCollector(ctx context.Context, cfg Config) (providers.Collector, error) {
	c := &Collector{cfg: cfg, log: cfg.Logger}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.cfg.Concurrency <= 0 {
		c.cfg.Concurrency = 4
	}
	if cfg.Endpoint != "" {
		c.opts = append(c.opts, option.WithEndpoint(cfg.Endpoint))
		if isLoopbackHTTP(cfg.Endpoint) {
			c.opts = append(c.opts, option.WithoutAuthentication())
		}
	}
	c.opts = append(c.opts, cfg.ClientOptions...)
	var err error
	mk := func(name string, f func() (interface{ Close() error }, error)) {
		if err != nil {
			return
		}
		var cl interface{ Close() error }
		if cl, err = f(); err != nil {
			err = fmt.Errorf("create gcp %s client: %w", name, err)
			return
		}
		c.closers = append(c.closers, cl.Close)
	}
	o := c.opts
	mk("networks", func() (interface{ Close() error }, error) {
		c.networks, err = compute.NewNetworksRESTClient(ctx, o...)
		return c.networks, err
	})
	mk("subnetworks", func() (interface{ Close() error }, error) {
		c.subnetworks, err = compute.NewSubnetworksRESTClient(ctx, o...)
		return c.subnetworks, err
	})
	mk("firewalls", func() (interface{ Close() error }, error) {
		c.firewalls, err = compute.NewFirewallsRESTClient(ctx, o...)
		return c.firewalls, err
	})
	mk("network firewall policies", func() (interface{ Close() error }, error) {
		c.netPolicies, err = compute.NewNetworkFirewallPoliciesRESTClient(ctx, o...)
		return c.netPolicies, err
	})
	mk("regional network firewall policies", func() (interface{ Close() error }, error) {
		c.regPolicies, err = compute.NewRegionNetworkFirewallPoliciesRESTClient(ctx, o...)
		return c.regPolicies, err
	})
	mk("instances", func() (interface{ Close() error }, error) {
		c.instances, err = compute.NewInstancesRESTClient(ctx, o...)
		return c.instances, err
	})
	mk("forwarding rules", func() (interface{ Close() error }, error) {
		c.fwdRules, err = compute.NewForwardingRulesRESTClient(ctx, o...)
		return c.fwdRules, err
	})
	mk("global forwarding rules", func() (interface{ Close() error }, error) {
		c.globalFwd, err = compute.NewGlobalForwardingRulesRESTClient(ctx, o...)
		return c.globalFwd, err
	})
	mk("target pools", func() (interface{ Close() error }, error) {
		c.targetPools, err = compute.NewTargetPoolsRESTClient(ctx, o...)
		return c.targetPools, err
	})
	mk("target instances", func() (interface{ Close() error }, error) {
		c.targetInst, err = compute.NewTargetInstancesRESTClient(ctx, o...)
		return c.targetInst, err
	})
	mk("backend services", func() (interface{ Close() error }, error) {
		c.backends, err = compute.NewBackendServicesRESTClient(ctx, o...)
		return c.backends, err
	})
	mk("instance groups", func() (interface{ Close() error }, error) {
		c.groups, err = compute.NewInstanceGroupsRESTClient(ctx, o...)
		return c.groups, err
	})
	mk("regional instance groups", func() (interface{ Close() error }, error) {
		c.regionGroups, err = compute.NewRegionInstanceGroupsRESTClient(ctx, o...)
		return c.regionGroups, err
	})
	mk("target http proxies", func() (interface{ Close() error }, error) {
		c.httpProxies, err = compute.NewTargetHttpProxiesRESTClient(ctx, o...)
		return c.httpProxies, err
	})
	mk("target https proxies", func() (interface{ Close() error }, error) {
		c.httpsProxies, err = compute.NewTargetHttpsProxiesRESTClient(ctx, o...)
		return c.httpsProxies, err
	})
	mk("target ssl proxies", func() (interface{ Close() error }, error) {
		c.sslProxies, err = compute.NewTargetSslProxiesRESTClient(ctx, o...)
		return c.sslProxies, err
	})
	mk("target tcp proxies", func() (interface{ Close() error }, error) {
		c.tcpProxies, err = compute.NewTargetTcpProxiesRESTClient(ctx, o...)
		return c.tcpProxies, err
	})
	mk("url maps", func() (interface{ Close() error }, error) {
		c.urlMaps, err = compute.NewUrlMapsRESTClient(ctx, o...)
		return c.urlMaps, err
	})
	mk("routers", func() (interface{ Close() error }, error) {
		c.routers, err = compute.NewRoutersRESTClient(ctx, o...)
		return c.routers, err
	})
	mk("network endpoint groups", func() (interface{ Close() error }, error) {
		c.negs, err = compute.NewNetworkEndpointGroupsRESTClient(ctx, o...)
		return c.negs, err
	})
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// Close releases the API clients.
func (c *Collector) Close() error {
	var errs []error
	for _, f := range c.closers {
		errs = append(errs, f())
	}
	if c.projectsCache != nil {
		errs = append(errs, c.projectsCache.Close())
	}
	return errors.Join(errs...)
}

// isLoopbackHTTP reports whether endpoint is a plain-http URL on a loopback
// address (an emulator or a test server): no credentials are sent there.
func isLoopbackHTTP(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "http" {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Collect writes every project's resource lists under gcp/<project>/.
// A project whose APIs fail is recorded with snap.AddError and the others
// complete; Collect fails only when the project list itself cannot be had.
func (c *Collector) Collect(ctx context.Context, snap *providers.Snapshot, progress providers.Progress) error {
	if progress == nil {
		progress = providers.NoProgress{}
	}
	projects := c.cfg.Projects
	if len(projects) == 0 && len(c.cfg.Parents) > 0 {
		var err error
		if projects, err = c.projectsUnder(ctx, c.cfg.Parents); err != nil {
			return fmt.Errorf("list gcp projects: %w", err)
		}
		if len(projects) == 0 {
			return fmt.Errorf("list gcp projects: no active project under %s", strings.Join(c.cfg.Parents, ", "))
		}
	}
	if len(projects) == 0 {
		var err error
		if projects, err = c.listProjects(ctx); err != nil {
			return fmt.Errorf("list gcp projects: %w", err)
		}
		if len(projects) == 0 {
			return errors.New("list gcp projects: the credentials see no active project")
		}
	}
	progress.Add(len(projects))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.cfg.Concurrency)
	for _, p := range projects {
		g.Go(func() error {
			c.collectProject(gctx, snap, p)
			progress.Done(Provider + " " + p)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// listProjects returns the IDs of every ACTIVE project the caller can see.
func (c *Collector) listProjects(ctx context.Context) ([]string, error) {
	cl, err := resourcemanager.NewProjectsRESTClient(ctx, c.opts...)
	if err != nil {
		return nil, fmt.Errorf("create resource manager client: %w", err)
	}
	c.projectsCache = cl
	it := cl.SearchProjects(ctx, &resourcemanagerpb.SearchProjectsRequest{Query: "state:ACTIVE"})
	var ids []string
	for {
		p, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, err
		}
		// The query already filters, but an emulator may not.
		if p.GetState() == resourcemanagerpb.Project_ACTIVE {
			ids = append(ids, p.GetProjectId())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// projectRun collects one project; each call that fails is recorded as an
// error naming the project and the API method.
type projectRun struct {
	c       *Collector
	snap    *providers.Snapshot
	project string
}

func (r *projectRun) fail(method string, err error) {
	r.snap.AddError(exposure.Error{
		Scope:    exposure.Scope{Provider: Provider, Account: r.project},
		Resource: method,
		Stage:    "collect",
		Message:  describeAPIError(err),
	})
}

// describeAPIError keeps what tells an operator what to fix: the HTTP
// status, the reason (accessNotConfigured, forbidden…) and the message.
func describeAPIError(err error) string {
	var ae *apierror.APIError
	if errors.As(err, &ae) {
		msg := ae.Error()
		if ae.HTTPCode() > 0 {
			msg = fmt.Sprintf("http %d", ae.HTTPCode())
			if r := ae.Reason(); r != "" {
				msg += " " + r
			}
			if he := ae.Unwrap(); he != nil {
				msg += ": " + he.Error()
			}
		}
		return msg
	}
	return err.Error()
}

// isFatalForProject reports errors after which other calls to the same
// project will fail the same way (API disabled, project gone, no access):
// the project is recorded once rather than once per API.
func isFatalForProject(err error) bool {
	var ae *apierror.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.HTTPCode() {
	case http.StatusForbidden, http.StatusNotFound, http.StatusUnauthorized:
		return ae.Reason() == "accessNotConfigured" || ae.Reason() == "SERVICE_DISABLED" ||
			ae.HTTPCode() != http.StatusForbidden ||
			strings.Contains(strings.ToLower(ae.Error()), "has not been used") ||
			strings.Contains(strings.ToLower(ae.Error()), "is disabled")
	}
	return false
}

func (c *Collector) collectProject(ctx context.Context, snap *providers.Snapshot, project string) {
	r := &projectRun{c: c, snap: snap, project: project}
	c.log.DebugContext(ctx, "collect gcp project", "project", project)
	// networks first: it proves the compute API answers for the project
	// and names the networks whose effective firewalls are fetched.
	networks, err := drain(c.networks.List(ctx, &computepb.ListNetworksRequest{Project: project}))
	if err != nil {
		r.fail("compute.networks.list", err)
		if isFatalForProject(err) {
			return
		}
	} else {
		ms, _ := messages(networks, nil)
		r.putMessages(FileNetworks, ms)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	lists := r.lists()
	for _, l := range lists {
		g.Go(func() error {
			items, err := l.fetch(gctx)
			if err != nil {
				r.fail(l.method, err)
				return nil
			}
			if l.after != nil {
				items = l.after(gctx, items)
			}
			r.putMessages(l.file, items)
			return nil
		})
	}
	r.effectiveFirewalls(gctx, g, networks)
	_ = g.Wait()
}

// list is one resource list of a project.
type list struct {
	file   string
	method string // the API method, named as in IAM permissions
	fetch  func(ctx context.Context) ([]proto.Message, error)
	// after completes the list with dependent calls (a policy's rules, a
	// group's members) and returns what is stored.
	after func(ctx context.Context, items []proto.Message) []proto.Message
}

func (r *projectRun) lists() []list {
	var out []list
	out = append(out, r.instanceLists()...)
	out = append(out, r.firewallLists()...)
	out = append(out, r.loadBalancerLists()...)
	return append(out, r.natLists()...)
}

func (r *projectRun) path(file string) string { return providers.Join(Provider, r.project, file) }

// putMessages stores items as a JSON array of REST JSON documents.
func (r *projectRun) putMessages(file string, items []proto.Message) {
	arr := make([]json.RawMessage, 0, len(items))
	for _, m := range items {
		b, err := restJSON(m)
		if err != nil {
			r.fail("snapshot "+file, err)
			return
		}
		arr = append(arr, b)
	}
	if err := r.snap.PutJSON(r.path(file), arr); err != nil {
		r.fail("snapshot "+file, err)
	}
}

func (r *projectRun) putMessage(file string, m proto.Message) {
	b, err := restJSON(m)
	if err != nil {
		r.fail("snapshot "+file, err)
		return
	}
	if err := r.snap.PutJSON(r.path(file), json.RawMessage(b)); err != nil {
		r.fail("snapshot "+file, err)
	}
}

// restJSON encodes a compute message with its REST field names (the
// json_name of each field: camelCase, and IPProtocol / IPAddress as the
// REST API and gcloud spell them), int64 as strings, as the API does.
func restJSON(m proto.Message) ([]byte, error) {
	return protojson.MarshalOptions{}.Marshal(m)
}

// iter is what the SDK's list iterators have in common.
type iter[T any] interface {
	Next() (T, error)
}

// drain reads an iterator to the end, following nextPageToken.
func drain[T any](it iter[T]) ([]T, error) {
	var out []T
	for {
		v, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
}

func messages[T proto.Message](items []T, err error) ([]proto.Message, error) {
	out := make([]proto.Message, len(items))
	for i, v := range items {
		out[i] = v
	}
	return out, err
}

// aggregated flattens an aggregatedList (items keyed by "zones/…",
// "regions/…", "global") into one list, as gcloud prints it.
func aggregated[P any, T proto.Message](it iter[P], items func(P) []T) ([]proto.Message, error) {
	pairs, err := drain(it)
	if err != nil {
		return nil, err
	}
	var out []proto.Message
	for _, p := range pairs {
		for _, v := range items(p) {
			out = append(out, v)
		}
	}
	return out, nil
}
