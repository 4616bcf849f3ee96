package orgsim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"syscall"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
	"golang.org/x/sync/errgroup"

	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/audit/unitresult"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/functions/internal/runstore"
	"github.com/portcullis-sec/portcullis/functions/internal/unitstore"
	"github.com/portcullis-sec/portcullis/internal/estategen"
	"github.com/portcullis-sec/portcullis/internal/faultproxy"
	"github.com/portcullis-sec/portcullis/internal/mototest"
	"github.com/portcullis-sec/portcullis/providers/aws"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/rules"
)

var motoURL string

func TestMain(m *testing.M) { os.Exit(mototest.Main(m, false, &motoURL)) }

// Latency injected per API call: uniform in [0, 2×meanLatency). 50 ms is
// a describe call's round trip from a Lambda function to the regional
// endpoint of another region, TLS session reused (in-region calls are
// faster, the farthest regions slower); docs/benchmarks.md scales the
// figures to other latencies.
const meanLatency = 50 * time.Millisecond

// The organization's size mix, per 1,000 account-regions: most regions of
// an organization hold only their default VPC, a few hold the workloads.
// Per unit, the size is in network interfaces of the estategen shape (one
// group per 5 interfaces, 50 rules each; every third interface public).
var mix = []struct {
	name       string
	perMille   int
	interfaces int // 0: the default VPC alone, as moto creates it
}{
	{"empty", 850, 0},
	{"small", 120, 10},
	{"medium", 25, 100},
	{"large", 5, 500},
}

func s3Store(b *testing.B, bucket string) *runstore.Store {
	b.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"))
	if err != nil {
		b.Fatal(err)
	}
	c := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = awssdk.String(motoURL)
		o.UsePathStyle = true
		// moto sends no checksums, which the SDK notes once per GET.
		o.Logger = logging.Nop{}
	})
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: awssdk.String(bucket)}); err != nil {
		b.Fatal(err)
	}
	s := runstore.New(c, bucket)
	s.Concurrency = 16
	return s
}

// collectUnit is the collect function's work on one item (Collect.Handle
// without the Lambda plumbing): collect through the member role, write the
// snapshot, analyse the unit, write its result.
func collectUnit(ctx context.Context, endpoint string, store *runstore.Store, run string, it runstore.Item) (*unitresult.Result, error) {
	snap, err := audit.Collect(ctx, audit.Options{Providers: []string{"aws"}, AWS: aws.Config{
		Regions: []string{it.Region}, Endpoint: endpoint, Concurrency: 1,
		RoleARN: "arn:aws:iam::" + it.Account + ":role/PortcullisAudit", ExternalID: "bench",
	}})
	if err != nil {
		return nil, err
	}
	if _, _, err := store.PutSnapshot(ctx, run, it, snap); err != nil {
		return nil, err
	}
	usnap, err := unitstore.Snapshot(it, snap)
	if err != nil {
		return nil, err
	}
	u, err := audit.AnalyzeUnit(usnap, exposure.Scope{Provider: it.Provider, Account: it.Account, Region: it.Region}, nil)
	if err != nil {
		return nil, err
	}
	_, err = unitstore.Put(ctx, store, run, it, u)
	return u, err
}

// seedSmall gives a moto region a small workload: a VPC routed to an
// internet gateway, a group with SSH and HTTPS open, five public instances
// in it.
func seedSmall(b *testing.B, region string) {
	b.Helper()
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
	if err != nil {
		b.Fatal(err)
	}
	c := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = awssdk.String(motoURL) })
	must := func(err error) {
		b.Helper()
		if err != nil {
			b.Fatal(err)
		}
	}
	vpc, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: awssdk.String("10.42.0.0/16")})
	must(err)
	sn, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: awssdk.String("10.42.1.0/24"), AvailabilityZone: awssdk.String(region + "a")})
	must(err)
	igw, err := c.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{})
	must(err)
	must(mototest.AttachInternetGateway(ctx, c, awssdk.ToString(igw.InternetGateway.InternetGatewayId), awssdk.ToString(vpc.Vpc.VpcId)))
	g, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{VpcId: vpc.Vpc.VpcId, GroupName: awssdk.String("web"), Description: awssdk.String("web")})
	must(err)
	for _, port := range []int32{22, 443} {
		_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: g.GroupId, IpPermissions: []ec2types.IpPermission{{
			IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(port), ToPort: awssdk.Int32(port), IpRanges: []ec2types.IpRange{{CidrIp: awssdk.String("0.0.0.0/0")}}}}})
		must(err)
	}
	_, err = c.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: awssdk.String("ami-12c6146b"), MinCount: awssdk.Int32(5), MaxCount: awssdk.Int32(5), InstanceType: ec2types.InstanceTypeT3Micro,
		NetworkInterfaces: []ec2types.InstanceNetworkInterfaceSpecification{{
			DeviceIndex: awssdk.Int32(0), SubnetId: sn.Subnet.SubnetId, Groups: []string{awssdk.ToString(g.GroupId)}, AssociatePublicIpAddress: awssdk.Bool(true)}},
	})
	must(err)
}

// BenchmarkOrgCollect: one account-region collected, analysed and written
// as the collect function does it, every EC2, ELB and STS call through a
// proxy that holds it for meanLatency on average. Reported: API calls per
// unit and the unit's wall time (ns/op).
func BenchmarkOrgCollect(b *testing.B) {
	cases := []struct {
		name, region string
		seed         bool
	}{
		{"empty", "eu-north-1", false}, // moto's default VPC only
		{"small", "eu-west-3", true},
	}
	store := s3Store(b, "orgsim-collect")
	for _, tc := range cases {
		if tc.seed {
			seedSmall(b, tc.region)
		}
		b.Run(tc.name, func(b *testing.B) {
			p, err := faultproxy.New(motoURL, faultproxy.Faults{Seed: 1, Delay: 1, MaxDelay: 2 * meanLatency})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			it := runstore.Item{Provider: "aws", Account: mototest.Account, Region: tc.region}
			var u *unitresult.Result
			b.ResetTimer()
			for i := range b.N {
				if u, err = collectUnit(b.Context(), p.URL, store, "run-"+strconv.Itoa(i), it); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(p.Stats().Calls)/float64(b.N), "calls/unit")
			b.ReportMetric(float64(len(u.Effective)+len(u.Latent)), "exposures/unit")
		})
	}
}

// classResults analyses one unit of every size class: the empty one
// collected from moto (its default VPC), the others from estategen
// snapshots.
func classResults(b *testing.B, store *runstore.Store) map[string][]byte {
	b.Helper()
	out := map[string][]byte{}
	for _, c := range mix {
		var u *unitresult.Result
		var err error
		if c.interfaces == 0 {
			u, err = collectUnit(b.Context(), motoURL, store, "classes", runstore.Item{Provider: "aws", Account: mototest.Account, Region: "ap-south-1"})
		} else {
			dir := b.TempDir()
			if _, err = estategen.Write(dir, c.interfaces); err == nil {
				u, err = audit.AnalyzeUnit(os.DirFS(dir), exposure.Scope{Provider: "aws", Account: estategen.Account, Region: estategen.Region}, nil)
			}
		}
		if err != nil {
			b.Fatalf("class %s: %v", c.name, err)
		}
		var buf bytes.Buffer
		if err := unitresult.Encode(&buf, u); err != nil {
			b.Fatal(err)
		}
		out[c.name] = buf.Bytes()
	}
	return out
}

// relabel moves a decoded result to another unit: every scope it holds.
func relabel(u *unitresult.Result, to exposure.Scope) {
	move := func(s *exposure.Scope) {
		if s.Account != "" {
			s.Account = to.Account
		}
		if s.Region != "" {
			s.Region = to.Region
		}
	}
	move(&u.Unit)
	for _, x := range append(u.Effective, u.Latent...) {
		move(&x.Scope) // sites are shared: moving one twice is harmless
	}
	for _, l := range append(u.Layers, u.PathLayers...) {
		move(&l.Scope)
	}
	for _, list := range [][]exposure.Error{u.CollectErrors, u.NormalizeErrors, u.AnalyzeErrors} {
		for i := range list {
			move(&list[i].Scope)
		}
	}
	for i := range u.Units {
		move(&u.Units[i])
	}
	u.Accounts, u.Regions = []string{to.Account}, []string{to.Region}
}

// orgUnits is the organization's units: 1,000 accounts × 17 regions when
// n is 17,000, the mix spread evenly over them.
func orgUnits(n int) []runstore.Item {
	regions := []string{"us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2", "eu-west-3",
		"eu-central-1", "eu-north-1", "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "sa-east-1"}
	items := make([]runstore.Item, n)
	for i := range items {
		items[i] = runstore.Item{Provider: "aws", Account: fmt.Sprintf("%012d", 100000000000+i/len(regions)), Region: regions[i%len(regions)]}
	}
	return items
}

// classOf spreads the mix over the units: of every 1,000 units, the first
// perMille of each class in turn, shuffled by a fixed stride.
func classOf(i int) int {
	k := (i * 389) % 1000 // 389 is prime to 1,000: a permutation of 0-999
	for c, m := range mix {
		if k < m.perMille {
			return c
		}
		k -= m.perMille
	}
	return 0
}

// BenchmarkOrgReport: the report stage's merge of an organization's unit
// results, streamed (a unit result at a time into audit.Merge), then its
// JSON report rendered.
//
//   - s3: the stage's own path, unitstore.Units fetching from the runs
//     bucket on moto S3, for ORGSIM_S3_UNITS units (default 1,700: moto
//     answers some 90 requests a second, S3 thousands, so this measures
//     the path, not S3's throughput);
//   - merge: ORGSIM_UNITS units (default 17,000) decoded one at a time from
//     memory, as unitstore.Units hands them over, on one goroutine (the
//     1,769 MB function has one vCPU).
//
// Reported: the merge's wall time (merge-s), the JSON report's (json-s),
// peak Go memory of the merge and of the stage with its report, exposures
// and findings.
func BenchmarkOrgReport(b *testing.B) {
	store := s3Store(b, "orgsim-report")
	classes := classResults(b, store)
	b.Run("s3", func(b *testing.B) {
		n := envInt(b, "ORGSIM_S3_UNITS", 1700)
		const run = "org"
		items := orgUnits(n)
		start := time.Now()
		g, ctx := errgroup.WithContext(b.Context())
		g.SetLimit(16)
		for i, it := range items {
			g.Go(func() error {
				u, err := unit(classes, i, it, nil)
				if err != nil {
					return err
				}
				_, err = unitstore.Put(ctx, store, run, it, u)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
		b.Logf("%d unit results stored in moto S3 in %s", n, time.Since(start).Round(time.Second))
		mergeBench(b, n, func() iter.Seq2[*unitresult.Result, error] { return unitstore.Units(b.Context(), store, run, items) })
	})
	b.Run("merge", func(b *testing.B) {
		n := envInt(b, "ORGSIM_UNITS", 17000)
		items := orgUnits(n)
		counts := make([]int, len(mix))
		var stored int64
		for i := range items {
			counts[classOf(i)]++
			stored += int64(len(classes[mix[classOf(i)].name]))
		}
		for c, m := range mix {
			b.Logf("class %-6s %5d units × %4d interfaces, unit result %6d bytes", m.name, counts[c], m.interfaces, len(classes[m.name]))
		}
		b.Logf("%d unit results, %.1f MB compressed", n, float64(stored)/1e6)
		mergeBench(b, n, func() iter.Seq2[*unitresult.Result, error] {
			return func(yield func(*unitresult.Result, error) bool) {
				sets := &unitresult.Sets{} // as unitstore.Units shares them
				for i, it := range items {
					if !yield(unit(classes, i, it, sets)) {
						return
					}
				}
			}
		})
	})
}

// unit is unit i of the organization: its class's result, decoded afresh
// and moved to the unit's account and region.
func unit(classes map[string][]byte, i int, it runstore.Item, sets *unitresult.Sets) (*unitresult.Result, error) {
	u, err := unitresult.DecodeShared(bytes.NewReader(classes[mix[classOf(i)].name]), sets)
	if err != nil {
		return nil, err
	}
	relabel(u, exposure.Scope{Provider: "aws", Account: it.Account, Region: it.Region})
	return u, nil
}

func envInt(b *testing.B, name string, def int) int {
	b.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		b.Fatalf("%s=%q: want a positive number", name, s)
	}
	return v
}

func mergeBench(b *testing.B, n int, units func() iter.Seq2[*unitresult.Result, error]) {
	b.Helper()
	var res *audit.Result
	var mergePeak, stagePeak uint64
	var merge, js, mergeCPU time.Duration
	b.ResetTimer()
	for range b.N {
		runtime.GC()
		peak := watchPeak()
		t0, c0 := time.Now(), cpuTime(b)
		var err error
		res, err = audit.Merge(units(), audit.Options{Rules: rules.Options{Now: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)}, Logger: stageLog()})
		if err != nil {
			b.Fatal(err)
		}
		merge += time.Since(t0)
		mergeCPU += cpuTime(b) - c0
		b.StopTimer()
		mergePeak = peak()
		b.StartTimer()
		t1 := time.Now()
		if err := reports.Write(io.Discard, "json", res.Report); err != nil {
			b.Fatal(err)
		}
		js += time.Since(t1)
		stagePeak = peak()
	}
	b.StopTimer()
	b.ReportMetric(merge.Seconds()/float64(b.N), "merge-s")
	b.ReportMetric(mergeCPU.Seconds()/float64(b.N), "merge-cpu-s")
	b.ReportMetric(js.Seconds()/float64(b.N), "json-s")
	b.ReportMetric(float64(mergePeak)/(1<<20), "merge-peak-MiB")
	b.ReportMetric(float64(stagePeak)/(1<<20), "stage-peak-MiB")
	b.ReportMetric(float64(len(res.Report.Exposures)), "exposures")
	b.ReportMetric(float64(len(res.Report.Findings)), "findings")
	if len(res.Report.Scope.Units) != n {
		b.Fatalf("report covers %d units of %d", len(res.Report.Scope.Units), n)
	}
}

// stageLog logs the merge's stages (duration, counts, live heap) to stderr
// when ORGSIM_LOG is set: where the report stage's time and memory go.
func stageLog() *slog.Logger {
	if os.Getenv("ORGSIM_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}

// cpuTime is the CPU time the process has used (user and system, every
// thread: the merge's decoding and the garbage collector's work included).
// The machine's other load shows in wall time, not here.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// watchPeak samples the Go runtime's memory (everything mapped and not
// released to the OS: heap, stacks, runtime structures) every 2 ms until
// the returned function is called for the last time; each call returns the
// peak so far.
func watchPeak() func() uint64 {
	names := []string{"/memory/classes/total:bytes", "/memory/classes/heap/released:bytes"}
	samples := make([]metrics.Sample, len(names))
	for i, n := range names {
		samples[i].Name = n
	}
	read := func() uint64 {
		metrics.Read(samples)
		return samples[0].Value.Uint64() - samples[1].Value.Uint64()
	}
	peak := make(chan uint64, 1)
	peak <- read()
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				p := <-peak
				peak <- max(p, read())
			}
		}
	}()
	calls := 0
	return func() uint64 {
		calls++
		p := <-peak
		peak <- p
		if calls == 2 {
			close(stop)
		}
		return p
	}
}
