package probe

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-sec/portcullis/probe/lab"
)

// BenchmarkVsNmap probes the same loopback ports with the prober and with
// nmap's connect scan in the same run and reports, per iteration:
//
//	probe-ms, nmap-ms   wall time of one scan of all ports
//	nmap-scan-ms        nmap's own "scanned in" time, without its start-up
//	ratio               probe-ms / nmap-ms (target: <= 1)
//	probe-conns         TCP connections the prober opened (its own count)
//	nmap-conns          connect() calls nmap made (its --packet-trace)
//	kernel-*-conns      the kernel's ActiveOpens delta; exact only when the
//	                    benchmark runs in a network namespace of its own
//	                    (scripts/bench-probe.sh does that when it can)
//
// Sub-benchmarks: "connect" (ConnectOnly vs nmap -sT), "fingerprint" (full
// fingerprinting vs nmap -sT -sV), "filtered" (ports that drop SYNs) and
// "connect-default-rates" (the gentle production rates, to show their cost).
// Without nmap the comparison is skipped with a message; the prober's own
// figures are still reported. Only 127.0.0.1 is ever probed. nmap gets -n so
// that it makes no reverse-DNS query.
func BenchmarkVsNmap(b *testing.B) {
	nmap, err := exec.LookPath("nmap")
	if err != nil {
		b.Log("nmap not installed: comparison skipped (apt-get install -y nmap); reporting the prober's figures only")
	}
	mix := func(ssh, http, closed, filtered int) []lab.Service {
		var s []lab.Service
		for range ssh {
			s = append(s, lab.Service{Kind: lab.SSH})
		}
		for range http {
			s = append(s, lab.Service{Kind: lab.HTTP})
		}
		for range closed {
			s = append(s, lab.Service{Kind: lab.Closed})
		}
		for range filtered {
			s = append(s, lab.Service{Kind: lab.Filtered})
		}
		return s
	}
	fast := Config{Rate: 100000, PerAddressRate: 100000, Concurrency: 128, Timeout: 2 * time.Second}
	cases := []struct {
		name     string
		services []lab.Service
		cfg      Config
		nmapArgs []string
	}{
		{"connect", mix(20, 10, 20, 0), with(fast, func(c *Config) { c.ConnectOnly = true }), []string{"-sT"}},
		{"fingerprint", mix(20, 10, 20, 0), fast, []string{"-sT", "-sV"}},
		{"filtered", mix(0, 0, 0, 10), with(fast, func(c *Config) { c.Timeout = time.Second }), []string{"-sT"}},
		{"connect-default-rates", mix(20, 10, 20, 0), Config{ConnectOnly: true}, []string{"-sT"}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			l, err := lab.Start(b.Context(), tc.services)
			if err != nil {
				b.Fatalf("start lab: %v", err)
			}
			defer l.Close()
			var targets []Target
			var ports []string
			for _, e := range l.Endpoints {
				targets = append(targets, targetOf(e, ""))
				ports = append(ports, strconv.Itoa(int(e.Addr.Port())))
			}
			cfg := tc.cfg
			cfg.AllowLoopback = true
			var probeTime, nmapTime, nmapScan time.Duration
			var probeConns, nmapConns, kProbe, kNmap int64
			for b.Loop() {
				p, err := New(cfg, isLoopback)
				if err != nil {
					b.Fatal(err)
				}
				k0 := activeOpens()
				start := time.Now()
				obs := p.Run(b.Context(), targets, nil)
				probeTime += time.Since(start)
				kProbe += activeOpens() - k0
				probeConns += p.Stats().Connections
				if len(obs) != len(targets) {
					b.Fatalf("%d observations for %d targets", len(obs), len(targets))
				}
				if nmap == "" {
					continue
				}
				args := append([]string{"-n", "-Pn", "--packet-trace", "-p", strings.Join(ports, ",")}, tc.nmapArgs...)
				args = append(args, "127.0.0.1")
				k0 = activeOpens()
				start = time.Now()
				out, err := exec.CommandContext(b.Context(), nmap, args...).CombinedOutput()
				nmapTime += time.Since(start)
				kNmap += activeOpens() - k0
				if err != nil {
					b.Fatalf("nmap %s: %v\n%s", strings.Join(args, " "), err, out)
				}
				nmapConns += int64(bytes.Count(out, []byte("=> Operation now in progress")))
				nmapScan += nmapScanTime(out)
			}
			n := float64(b.N)
			b.ReportMetric(float64(len(targets)), "ports")
			b.ReportMetric(probeTime.Seconds()*1000/n, "probe-ms")
			b.ReportMetric(float64(probeConns)/n, "probe-conns")
			b.ReportMetric(float64(kProbe)/n, "kernel-probe-conns")
			if nmap != "" {
				b.ReportMetric(nmapTime.Seconds()*1000/n, "nmap-ms")
				b.ReportMetric(nmapScan.Seconds()*1000/n, "nmap-scan-ms")
				b.ReportMetric(float64(nmapConns)/n, "nmap-conns")
				b.ReportMetric(float64(kNmap)/n, "kernel-nmap-conns")
				b.ReportMetric(probeTime.Seconds()/nmapTime.Seconds(), "ratio")
			}
		})
	}
}

func with(c Config, f func(*Config)) Config {
	f(&c)
	return c
}

// activeOpens reads the kernel's count of connect() calls (RFC 2012
// tcpActiveOpens) for the current network namespace.
func activeOpens() int64 {
	f, err := os.Open("/proc/net/snmp")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var header []string
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || fields[0] != "Tcp:" {
			continue
		}
		if header == nil {
			header = fields
			continue
		}
		for i, h := range header {
			if h == "ActiveOpens" && i < len(fields) {
				v, _ := strconv.ParseInt(fields[i], 10, 64)
				return v
			}
		}
	}
	return 0
}

// nmapScanTime reads "scanned in 0.15 seconds" from nmap's summary line.
func nmapScanTime(out []byte) time.Duration {
	_, rest, ok := bytes.Cut(out, []byte("scanned in "))
	if !ok {
		return 0
	}
	f, _, _ := bytes.Cut(rest, []byte(" "))
	sec, err := strconv.ParseFloat(string(f), 64)
	if err != nil {
		return 0
	}
	return time.Duration(sec * float64(time.Second))
}
