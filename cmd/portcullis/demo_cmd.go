package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"net/netip"
	"time"

	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/demo"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/probe"
	"github.com/portcullis-sec/portcullis/probe/lab"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/rules"
)

// demoServices says which lab service stands in for each port the demo
// estate exposes. A port not listed here gets a closed or silent stand-in
// (for UDP, silent is what probes call filtered), chosen by a hash of
// address and port so every run is the same, and so that the demo shows
// every probe outcome.
var demoServices = map[exposure.Protocol]map[uint16]lab.Kind{
	exposure.ProtocolTCP: {
		21: lab.FTP, 22: lab.SSH, 25: lab.SMTP, 80: lab.HTTP, 443: lab.HTTPS, 2222: lab.SSH,
		3306: lab.MySQL, 3389: lab.RDP, 5432: lab.Postgres, 5900: lab.VNC, 6379: lab.Redis,
		8080: lab.HTTP, 8443: lab.HTTPSExpired, 9200: lab.HTTP, 11211: lab.Memcached, 27017: lab.MongoDB,
	},
	exposure.ProtocolUDP: {53: lab.DNS, 123: lab.NTP, 161: lab.SNMP, 11211: lab.MemcachedUDP},
}

func demoKind(t probe.Target) lab.Kind {
	if k, ok := demoServices[t.Protocol][t.Port]; ok {
		return k
	}
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%d", t.Addr, t.Port)
	if t.Protocol == exposure.ProtocolUDP {
		return []lab.Kind{lab.ClosedUDP, lab.ClosedUDP, lab.SilentUDP}[h.Sum32()%3]
	}
	// No TCP "filtered" stand-in: it relies on a full accept queue, and the
	// first connection can still get in, which made demo runs differ. The
	// silent UDP stand-ins show the filtered outcome.
	return []lab.Kind{lab.Closed, lab.Closed, lab.Closed, lab.Closed, lab.Closed, lab.Silent}[h.Sum32()%6]
}

func runDemo(ctx context.Context, args []string, e *env) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	format := fs.String("format", "table", "format printed to standard output")
	jsonOut := fs.String("json", "portcullis-demo.json", "also write the JSON report here (empty: don't)")
	htmlOut := fs.String("html", "portcullis-demo.html", "also write the HTML report here (empty: don't)")
	noProbe := fs.Bool("no-probe", false, "skip the probe stage")
	color := fs.String("color", "auto", "colour in the table: auto, always, never")
	noMonitor := fs.Bool("no-monitor", false, "skip the monitor act (a second audit of a changed estate and the alert it would send)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: portcullis demo [flags]

Audits the embedded demo estate (a small AWS, GCP and Azure estate, all
public addresses in documentation ranges) exactly as 'portcullis audit
--snapshot' would, with no cloud account and no network beyond loopback.

Probes run against stand-in services the demo starts on 127.0.0.1 (SSH,
HTTP, TLS, Redis, DNS, ...) for the estate's exposed addresses; ports with
no stand-in answer as closed, filtered or silent, so every probe outcome
shows. Nothing leaves the machine.

Then the monitor: the report becomes the baseline of a fresh state, a copy
of the estate is changed as someone debugging might (SSH opened to the
world, RDP added), audited again, and the alert Portcullis would send to
Slack and email is printed (a dry run).

Exits 0 when the demo ran (its estate has findings on purpose).

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitError
	}
	if err := checkFormat(*format); err != nil {
		return fail(e, err)
	}
	o := audit.Options{
		Snapshot:    demo.Estate(),
		SnapshotDir: "(embedded demo estate)",
		Version:     toolVersion(),
		FailOn:      rules.High,
		Rules:       rules.Options{Now: time.Now()},
	}
	var probeBar *progressBar
	var labs []*lab.Lab
	defer func() {
		for _, l := range labs {
			_ = l.Close()
		}
	}()
	if !*noProbe {
		o.Probe = audit.ProbeOptions{
			Enabled: true,
			Config: probe.Config{
				// Loopback stand-ins answer at once: short timeouts and high
				// rates keep the demo to a couple of seconds.
				Timeout: 1500 * time.Millisecond, BannerWait: 300 * time.Millisecond,
				Rate: 2000, PerAddressRate: 500, Concurrency: 128, AllowLoopback: true,
			},
			Setup: func(ctx context.Context, targets []probe.Target) (map[netip.AddrPort]netip.AddrPort, error) {
				// One stand-in per public address and port: probe.Config's
				// Redirect is keyed by address and port, so where the plan
				// has TCP and UDP on the same port one stand-in is chosen
				// (a real service over a placeholder, TCP when both are
				// real) and the other protocol's probe meets no listener
				// there (closed). Which would win otherwise depends on map
				// order.
				var svcs []lab.Service
				seen := map[netip.AddrPort]int{}
				mapped := func(t probe.Target) bool { _, ok := demoServices[t.Protocol][t.Port]; return ok }
				chosen := map[netip.AddrPort]probe.Target{}
				for _, t := range targets {
					ap := netip.AddrPortFrom(t.Addr, t.Port)
					svc := lab.Service{Kind: demoKind(t), Public: ap}
					if i, ok := seen[ap]; ok {
						old := chosen[ap]
						if (mapped(t) && !mapped(old)) || (mapped(t) == mapped(old) && t.Protocol == exposure.ProtocolTCP) {
							svcs[i], chosen[ap] = svc, t
						}
						continue
					}
					chosen[ap] = t
					seen[ap] = len(svcs)
					svcs = append(svcs, svc)
				}
				l, err := lab.Start(ctx, svcs)
				if err != nil {
					return nil, err
				}
				labs = append(labs, l)
				return l.Redirect(), nil
			},
		}
		if e.stderrTTY {
			probeBar = newProgressBar(e.stderr, "probing")
			o.Probe.Progress = probeBar
		}
	}
	res, err := audit.Run(ctx, o)
	if probeBar != nil {
		probeBar.Finish()
	}
	if err != nil {
		return fail(e, err)
	}
	if err := writeReport(e, res.Report, *format, "", *color); err != nil {
		return fail(e, err)
	}
	for _, out := range []struct{ format, path string }{{"json", *jsonOut}, {"html", *htmlOut}} {
		if out.path == "" {
			continue
		}
		if err := writeReport(e, res.Report, out.format, out.path, "never"); err != nil {
			return fail(e, err)
		}
		fmt.Fprintf(e.stderr, "portcullis: wrote the %s report to %s\n", out.format, out.path)
	}
	if !*noMonitor {
		if err := runDemoMonitor(ctx, e.stdout, demo.Estate(), reports.NewDocument(res.Report), o.Rules.Now); err != nil {
			return fail(e, err)
		}
	}
	return exitOK
}
