package audit

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-sec/portcullis/demo"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/probe"
	"github.com/portcullis-sec/portcullis/probe/lab"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/rules"
)

// TestObservationsAsInput: an audit given the observations of an earlier
// in-process probe (as the serverless Report stage is given the Probe
// stage's) writes the same report, byte for byte, as the audit that
// probed.
func TestObservationsAsInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	now := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	base := Options{Snapshot: demo.Estate(), SnapshotDir: "demo", Rules: rules.Options{Now: now}, FailOn: rules.High, Version: "test"}

	var labs []*lab.Lab
	defer func() {
		for _, l := range labs {
			_ = l.Close()
		}
	}()
	probed := base
	probed.Probe = ProbeOptions{
		Enabled: true,
		Config:  probe.Config{Timeout: time.Second, BannerWait: 200 * time.Millisecond, Rate: 2000, PerAddressRate: 500, AllowLoopback: true},
		Setup: func(ctx context.Context, targets []probe.Target) (map[netip.AddrPort]netip.AddrPort, error) {
			// Network safety: the demo estate's addresses are documentation
			// ones, each redirected onto a loopback stand-in (SSH on 22,
			// nothing elsewhere); the guard never dials them in any case.
			var svcs []lab.Service
			seen := map[netip.AddrPort]bool{}
			for _, tg := range targets {
				if probe.Classify(tg.Addr) != probe.ClassDocumentation {
					return nil, fmt.Errorf("planned probe of %s: not a documentation address", tg.Addr)
				}
				ap := netip.AddrPortFrom(tg.Addr, tg.Port)
				if seen[ap] {
					continue // Redirect is keyed by address and port
				}
				seen[ap] = true
				kind := lab.Closed
				if tg.Port == 22 && tg.Protocol == exposure.ProtocolTCP {
					kind = lab.SSH
				}
				svcs = append(svcs, lab.Service{Kind: kind, Public: ap})
			}
			l, err := lab.Start(ctx, svcs)
			if err != nil {
				return nil, err
			}
			labs = append(labs, l)
			return l.Redirect(), nil
		},
	}
	first, err := Run(ctx, probed)
	if err != nil {
		t.Fatal(err)
	}
	open := 0
	for _, o := range first.Report.Observations {
		if o.State == exposure.ProbeOpen {
			open++
		}
	}
	if open == 0 {
		t.Fatalf("the probing audit saw no open port among %d observations", len(first.Report.Observations))
	}

	given := base
	given.Observations = first.Report.Observations
	second, err := Run(ctx, given)
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	if err := reports.Write(&a, "json", first.Report); err != nil {
		t.Fatal(err)
	}
	if err := reports.Write(&b, "json", second.Report); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Errorf("the report from given observations differs from the probing audit's (%d vs %d bytes)", a.Len(), b.Len())
	}
	if !regexp.MustCompile(`"state":\s*"open"`).Match(b.Bytes()) {
		t.Error("the report from given observations carries no open probe")
	}

	// Without them, the same audit has no probe results: the comparison
	// above is not vacuous.
	var c bytes.Buffer
	plain, err := Run(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if err := reports.Write(&c, "json", plain.Report); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Error("probing changed nothing in the report")
	}

	both := probed
	both.Observations = first.Report.Observations
	if _, err := Run(ctx, both); err == nil || !strings.Contains(err.Error(), "one source of probe results") {
		t.Errorf("observations given with probing on: %v", err)
	}
}
