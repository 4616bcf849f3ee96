package track

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/alerts"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/rules"
	"github.com/portcullis-sec/portcullis/state"
)

var trackScope = exposure.Scope{Provider: "aws", Account: "111122223333", Region: "eu-west-1"}

// trackDoc is a report of one AWS region holding n interfaces with tcp
// ports open to anyone and a critical finding each; ports lists each
// interface's open ports.
func trackDoc(n int, ports ...uint16) *reports.Document {
	var b netipx.IPSetBuilder
	b.AddPrefix(netip.MustParsePrefix("0.0.0.0/0"))
	anyone, _ := b.IPSet()
	r := &reports.Report{Scope: reports.Scope{Providers: []string{"aws"}, Accounts: []string{trackScope.Account},
		Regions: []string{trackScope.Region}, Units: []exposure.Scope{trackScope}}, FailOn: rules.High,
		GeneratedAt: time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)}
	for i := range n {
		site := &exposure.Site{Scope: trackScope, Target: exposure.TargetRef{ID: fmt.Sprintf("eni-%08x", i), Kind: exposure.KindInterface, Name: fmt.Sprintf("web-%d", i)},
			// Documentation addresses; the target ID keeps the keys apart.
			Endpoint: exposure.Endpoint{IP: netip.AddrFrom4([4]byte{203, 0, 113, byte(1 + i%254)})}}
		for _, p := range ports {
			e := &exposure.Exposure{Level: exposure.Effective, Site: site, Protocol: exposure.ProtocolTCP, Ports: exposure.Port(p), Sources: anyone,
				Evidence: []*exposure.Evidence{{Layer: "sg-1", LayerKind: exposure.LayerSecurityGroup, Rule: "sgr-1", Action: "allow"}}}
			r.Exposures = append(r.Exposures, e)
			r.Findings = append(r.Findings, rules.Finding{RuleID: "PORT-SSH", Title: "SSH reachable from the internet", Severity: rules.Critical, Port: p, Exposure: e})
		}
	}
	return reports.NewDocument(r)
}

// recorder is a Notifier that keeps what it is given; fail makes it refuse.
type recorder struct {
	name string
	mu   sync.Mutex
	msgs []alerts.Message
	fail bool
}

func (r *recorder) Name() string { return r.name }
func (r *recorder) Notify(_ context.Context, m alerts.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("sink down")
	}
	r.msgs = append(r.msgs, m)
	return nil
}

func (r *recorder) take() []alerts.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.msgs
	r.msgs = nil
	return m
}

// TestTrackCleanScopeThenNew: a region audited with nothing in it gets a
// baseline, so what appears there later is announced as new — not folded
// into a "baseline established" summary.
func TestTrackCleanScopeThenNew(t *testing.T) {
	st, err := state.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{name: "rec"}
	opts := TrackOptions{Store: st, Notifiers: []alerts.Notifier{rec}, Policy: Policy{MinSeverity: rules.High}, Now: time.Unix(1e9, 0)}
	if _, err := Track(context.Background(), trackDoc(0), opts); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("a clean first run sent %d messages", len(got))
	}
	if _, v, err := st.Load(context.Background(), trackScope); err != nil || v == "" {
		t.Fatalf("no baseline saved for the clean region (version %q, %v)", v, err)
	}
	opts.Now = opts.Now.Add(time.Hour)
	res, err := Track(context.Background(), trackDoc(1, 22), opts)
	if err != nil {
		t.Fatal(err)
	}
	got := rec.take()
	if len(got) != 1 || got[0].Initial != nil || len(got[0].Items) != 1 || got[0].Items[0].Kind != alerts.KindNew {
		t.Fatalf("the first exposure of a known region: %+v", got)
	}
	if res.Changes.Initial || res.Changes.Counts.New != 1 {
		t.Errorf("changes: %+v", res.Changes)
	}
}

// TestTrackExpire: an alert no channel could deliver is retried by each
// run, and given up on (reported as an error) after Policy.Expire.
func TestTrackExpire(t *testing.T) {
	st, err := state.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{name: "rec", fail: true}
	t0 := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	opts := TrackOptions{Store: st, Notifiers: []alerts.Notifier{rec}, Policy: Policy{MinSeverity: rules.High, Expire: 48 * time.Hour}}
	run := func(at time.Time, doc *reports.Document) *TrackResult {
		t.Helper()
		opts.Now = at
		res, err := Track(context.Background(), doc, opts)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	run(t0, trackDoc(0))
	res := run(t0.Add(time.Hour), trackDoc(1, 22))
	if res.Messages != 1 || res.Delivered != 0 || !hasStage(res.Errors, "notify") {
		t.Fatalf("failed delivery: %+v", res)
	}
	res = run(t0.Add(25*time.Hour), trackDoc(1, 22)) // still pending: retried
	if res.Messages != 1 || res.Delivered != 0 {
		t.Fatalf("the pending alert was not retried: %+v", res)
	}
	rec.fail = false
	res = run(t0.Add(50*time.Hour), trackDoc(1, 22)) // past 48 h: given up
	if res.Messages != 0 || len(rec.take()) != 0 {
		t.Errorf("an expired alert was sent: %+v", res)
	}
	found := false
	for _, e := range res.Errors {
		if e.Stage == "notify" && strings.Contains(e.Message, "gave up") {
			found = true
		}
	}
	if !found {
		t.Errorf("giving up is not reported: %+v", res.Errors)
	}
}

// TestTrackChannelRetry: when one channel fails and another delivers,
// the next run sends through the failed channel only.
func TestTrackChannelRetry(t *testing.T) {
	st, err := state.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	good, bad := &recorder{name: "good"}, &recorder{name: "bad", fail: true}
	opts := TrackOptions{Store: st, Notifiers: []alerts.Notifier{good, bad}, Policy: Policy{MinSeverity: rules.High}, Now: time.Unix(1e9, 0)}
	ctx := context.Background()
	if _, err := Track(ctx, trackDoc(0), opts); err != nil {
		t.Fatal(err)
	}
	opts.Now = opts.Now.Add(time.Hour)
	if _, err := Track(ctx, trackDoc(2, 22), opts); err != nil {
		t.Fatal(err)
	}
	if g := good.take(); len(g) != 1 || len(g[0].Items) != 2 {
		t.Fatalf("good channel: %+v", g)
	}
	bad.fail = false
	opts.Now = opts.Now.Add(time.Hour)
	if _, err := Track(ctx, trackDoc(2, 22), opts); err != nil {
		t.Fatal(err)
	}
	if g := good.take(); len(g) != 0 {
		t.Errorf("the channel that delivered got the message again: %d", len(g))
	}
	if b := bad.take(); len(b) != 1 || len(b[0].Items) != 2 {
		t.Errorf("the failed channel's retry: %+v", b)
	}
	opts.Now = opts.Now.Add(time.Hour)
	if _, err := Track(ctx, trackDoc(2, 22), opts); err != nil {
		t.Fatal(err)
	}
	if len(good.take())+len(bad.take()) != 0 {
		t.Error("a delivered alert was sent again")
	}
}

// TestTrackDryRunSavesNothing: a dry run hands the messages over but
// leaves the state as it was.
func TestTrackDryRunSavesNothing(t *testing.T) {
	dir := t.TempDir()
	st, err := state.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{name: "dry-run"}
	res, err := Track(context.Background(), trackDoc(1, 22), TrackOptions{Store: st, Notifiers: []alerts.Notifier{rec}, DryRun: true,
		Policy: Policy{MinSeverity: rules.High}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.take()) != 1 || res.Changes == nil || !res.Changes.Initial {
		t.Fatalf("dry run: %+v", res)
	}
	files := 0
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files++
		}
		return nil
	})
	if files != 0 {
		t.Errorf("a dry run wrote %d state files", files)
	}
}

func hasStage(errs []exposure.Error, stage string) bool {
	for _, e := range errs {
		if e.Stage == stage {
			return true
		}
	}
	return false
}

// BenchmarkTrack measures the monitor on 10k exposures in one scope: the
// diff (load, diff, save) and the messages of a run where 1% widened,
// through a dry-run printer into io.Discard, on the directory store. It
// reports the baseline's size on disk.
func BenchmarkTrack(b *testing.B) {
	const n = 10000
	before, after := trackDoc(n, 22), trackDoc(n, 22)
	// 1% widened: one in a hundred interfaces also opens 3389.
	var extra []*reports.Exposure
	for i, x := range after.Exposures {
		if i%100 == 0 {
			y := *x
			y.ID, y.FromPort, y.ToPort = x.ID+"w", 3389, 3389
			extra = append(extra, &y)
		}
	}
	after.Exposures = append(after.Exposures, extra...)
	ctx := context.Background()
	dir := b.TempDir()
	st, err := state.NewDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	opts := TrackOptions{Store: st, Policy: Policy{MinSeverity: rules.High}, Notifiers: []alerts.Notifier{alerts.NewDryRun(io.Discard, "")}}
	for b.Loop() {
		b.StopTimer()
		_ = os.RemoveAll(dir)
		if opts.Store, err = state.NewDir(dir); err != nil {
			b.Fatal(err)
		}
		opts.Now = time.Unix(1e9, 0)
		if _, err := Track(ctx, before, opts); err != nil {
			b.Fatal(err)
		}
		opts.Now = opts.Now.Add(time.Hour)
		b.StartTimer()
		res, err := Track(ctx, after, opts)
		if err != nil {
			b.Fatal(err)
		}
		if res.Changes.Counts.Widened == 0 {
			b.Fatal("nothing widened")
		}
	}
	var size int64
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				size += fi.Size()
			}
		}
		return nil
	})
	b.ReportMetric(float64(size), "state-bytes")
}
