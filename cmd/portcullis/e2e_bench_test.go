package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/internal/estategen"
	"github.com/portcullis-sec/portcullis/rules"
)

// e2eFormats are the formats the end-to-end benchmark writes.
var e2eFormats = []string{"table", "json", "csv", "sarif", "html"}

// e2eSizes are the estates the end-to-end benchmark audits, in thousands
// of interfaces: -e2e.sizes 1,10,30,100 adds an intermediate size to see
// how a stage grows without waiting on the largest.
var e2eSizes = flag.String("e2e.sizes", "1,10,100", "estate sizes of BenchmarkAuditEndToEnd, in thousands of interfaces")

// BenchmarkAuditEndToEnd measures what a user runs: `portcullis audit
// --snapshot DIR --format F --output FILE` on a synthetic AWS snapshot in
// the AWS CLI's shapes (internal/estategen) of 1k, 10k and 100k interfaces
// (10 rules per interface), through the CLI's own code path: read and
// normalize, analyze, evaluate, build the report document, write it. The
// stages' durations come from the audit's own -v log. Beside it, in the
// same run, the baseline: a rule-by-rule scan of the same snapshot's
// security groups (ruleScan). Peak RSS is the process's high-water mark
// (VmHWM), reset before each run.
//
// It ends by printing the end-to-end table of docs/benchmarks.md.
// Run with: make bench, or
//
//	go test -c -o bin/portcullis.test ./cmd/portcullis
//	bin/portcullis.test -test.run '^$' -test.bench AuditEndToEnd -test.benchtime 1x
//
// (-test.bench 'AuditEndToEnd/interfaces=10k/' picks one size.)
func BenchmarkAuditEndToEnd(b *testing.B) {
	var rows []e2eRow
	top := b
	var sizes []int
	for _, f := range strings.Split(*e2eSizes, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || k < 1 {
			b.Fatalf("-e2e.sizes: %q is not a number of thousands of interfaces", f)
		}
		sizes = append(sizes, k*1000)
	}
	for _, n := range sizes {
		size := fmt.Sprintf("%dk", n/1000)
		var dir string
		var st estategen.Stats
		snapshot := func(b *testing.B) string {
			if dir == "" {
				b.StopTimer()
				d, err := os.MkdirTemp("", "portcullis-estate-")
				if err != nil {
					b.Fatal(err)
				}
				top.Cleanup(func() { os.RemoveAll(d) })
				if st, err = estategen.Write(d, n); err != nil {
					b.Fatal(err)
				}
				dir = d
				b.StartTimer()
			}
			return dir
		}
		var baseline, baselineCPU time.Duration
		b.Run("interfaces="+size+"/rulescan", func(b *testing.B) {
			snap := snapshot(b)
			out := filepath.Join(b.TempDir(), "flagged.tsv")
			risky := riskyPorts(b)
			var flagged int
			var peak int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				resetPeakRSS(b)
				var err error
				cpu0 := cpuTime()
				if flagged, err = ruleScan(snap, out, risky); err != nil {
					b.Fatal(err)
				}
				baselineCPU = cpuTime() - cpu0
				peak = max(peak, peakRSS(b))
			}
			baseline = b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(flagged), "flagged-rules")
			b.ReportMetric(float64(peak)/(1<<20), "MiB-peak-rss")
			b.ReportMetric(baselineCPU.Seconds(), "s-cpu")
			rows = append(rows, e2eRow{n: n, format: "rule scan", stats: st, wall: baseline, cpu: baselineCPU, peak: peak, items: flagged})
		})
		for _, format := range e2eFormats {
			b.Run("interfaces="+size+"/format="+format, func(b *testing.B) {
				snap := snapshot(b)
				out := filepath.Join(b.TempDir(), "report."+format)
				var r e2eRow
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					resetPeakRSS(b)
					start, cpu0 := time.Now(), cpuTime()
					var stderr bytes.Buffer
					e := &env{stdout: &bytes.Buffer{}, stderr: &stderr, getenv: func(string) string { return "" }}
					code := run(context.Background(), []string{"audit", "--snapshot", snap, "--format", format, "--output", out, "--fail-on", "critical", "-v"}, e)
					wall, cpu := time.Since(start), cpuTime()-cpu0
					if code != exitOK && code != exitFindings {
						b.Fatalf("audit exited %d: %s", code, stderr.String())
					}
					r = e2eRow{n: n, format: format, stats: st, wall: wall, cpu: cpu, peak: peakRSS(b), stages: parseStages(b, stderr.String())}
					if fi, err := os.Stat(out); err == nil {
						r.written = fi.Size()
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/interface")
				for _, s := range r.stages {
					b.ReportMetric(s.d.Seconds(), "s-"+s.name)
				}
				b.ReportMetric(float64(r.peak)/(1<<20), "MiB-peak-rss")
				b.ReportMetric(float64(r.maxHeap()), "MiB-heap-max")
				b.ReportMetric(float64(r.written)/1e6, "MB-written")
				if format == "json" {
					b.StopTimer()
					if n := reportExposures(b, out); n > 0 {
						b.ReportMetric(float64(r.written)/float64(n), "bytes/exposure")
					}
					b.StartTimer()
				}
				b.ReportMetric(r.cpu.Seconds(), "s-cpu")
				if baseline > 0 {
					r.ratio = float64(r.wall) / float64(baseline)
					r.cpuRatio = float64(r.cpu) / float64(baselineCPU)
					b.ReportMetric(r.ratio, "x-rulescan-wall")
					b.ReportMetric(r.cpuRatio, "x-rulescan-cpu")
				}
				rows = append(rows, r)
			})
		}
	}
	if len(rows) > 0 {
		b.Log("\n" + e2eTable(rows))
	}
}

// e2eRow is one measured run.
type e2eRow struct {
	n        int
	format   string
	stats    estategen.Stats
	wall     time.Duration
	cpu      time.Duration // user + system, all threads
	peak     int64         // bytes
	written  int64
	items    int
	ratio    float64 // wall / the rule scan's wall
	cpuRatio float64 // CPU / the rule scan's CPU
	stages   []stage
}

type stage struct {
	name    string
	d       time.Duration
	cpu     time.Duration // the process's CPU time during the stage (0: not logged)
	heapMiB int64
	attrs   map[string]string
}

func (r e2eRow) maxHeap() int64 {
	var m int64
	for _, s := range r.stages {
		m = max(m, s.heapMiB)
	}
	return m
}

func (r e2eRow) stage(name string) (stage, bool) {
	for _, s := range r.stages {
		if s.name == name {
			return s, true
		}
	}
	return stage{}, false
}

// e2eTable formats the rows as the Markdown table of docs/benchmarks.md.
func e2eTable(rows []e2eRow) string {
	var sb strings.Builder
	sb.WriteString("| interfaces / rules | snapshot | format | wall | CPU | read+normalize (CPU) | analyze (CPU) | evaluate (CPU) | document (CPU) | write (CPU) | peak RSS | max heap | written | × rule scan (wall, CPU) |\n")
	sb.WriteString("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range rows {
		// Stages by CPU time where the log has it (the wall time of a
		// stage on a shared machine is mostly the other jobs'); the
		// snapshot is read as it is normalized, so the two are one column.
		dur := func(names ...string) string {
			var sum time.Duration
			found := false
			for _, name := range names {
				if s, ok := r.stage(name); ok {
					found = true
					if s.cpu > 0 {
						sum += s.cpu
					} else {
						sum += s.d
					}
				}
			}
			if !found {
				return "—"
			}
			return fmtDur(sum)
		}
		ratio, heap, written := "—", "—", "—"
		if r.ratio > 0 {
			ratio = fmt.Sprintf("%.2f, %.2f", r.ratio, r.cpuRatio)
		}
		if h := r.maxHeap(); h > 0 {
			heap = fmt.Sprintf("%d MiB", h)
		}
		if r.written > 0 {
			written = fmt.Sprintf("%.1f MB", float64(r.written)/1e6)
		}
		if r.format == "rule scan" {
			written = fmt.Sprintf("%d rules flagged", r.items)
		}
		fmt.Fprintf(&sb, "| %d / %d | %.0f MB | %s | %s | %s | %s | %s | %s | %s | %s | %d MiB | %s | %s | %s |\n",
			r.n, r.stats.Rules, float64(r.stats.Bytes)/1e6, r.format, fmtDur(r.wall), fmtDur(r.cpu),
			dur("read", "normalize"), dur("analyze"), dur("evaluate"), dur("document"), dur("write"),
			r.peak>>20, heap, written, ratio)
	}
	return sb.String()
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

// stageLine matches the audit's "stage done" log lines (slog text).
var stageAttr = regexp.MustCompile(`([a-z_]+)=("(?:[^"\\]|\\.)*"|\S+)`)

func parseStages(b *testing.B, log string) []stage {
	var out []stage
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, `msg="stage done"`) {
			continue
		}
		s := stage{attrs: map[string]string{}}
		for _, m := range stageAttr.FindAllStringSubmatch(line, -1) {
			v := m[2]
			if uq, err := strconv.Unquote(v); err == nil {
				v = uq
			}
			s.attrs[m[1]] = v
		}
		s.name = s.attrs["stage"]
		d, err := time.ParseDuration(s.attrs["duration"])
		if err != nil {
			b.Fatalf("stage line %q: %v", line, err)
		}
		s.d = d
		if c, err := time.ParseDuration(s.attrs["cpu"]); err == nil {
			s.cpu = c
		}
		s.heapMiB, _ = strconv.ParseInt(s.attrs["heap_mib"], 10, 64)
		out = append(out, s)
	}
	if len(out) == 0 {
		b.Fatalf("no stage lines in the audit's log:\n%s", log)
	}
	return out
}

// reportExposures is the number of exposures of a JSON report, from its
// summary: what the report's bytes per exposure divide by.
func reportExposures(b *testing.B, path string) int {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var doc struct {
		Summary struct {
			Exposures struct {
				Total int `json:"total"`
			} `json:"exposures"`
		} `json:"summary"`
	}
	if err := json.NewDecoder(bufio.NewReader(f)).Decode(&doc); err != nil {
		b.Fatalf("read the summary of %s: %v", path, err)
	}
	return doc.Summary.Exposures.Total
}

// riskyPorts are the catalog's risky TCP and UDP ports: what the rule scan
// flags when a rule opens one of them to the world.
func riskyPorts(b *testing.B) map[string][]int {
	cat, err := rules.LoadCatalog()
	if err != nil {
		b.Fatal(err)
	}
	out := map[string][]int{}
	for proto, ports := range cat.RiskyPorts() {
		var name string
		switch proto {
		case exposure.ProtocolTCP:
			name = "tcp"
		case exposure.ProtocolUDP:
			name = "udp"
		default:
			continue
		}
		for _, p := range ports {
			out[name] = append(out[name], int(p))
		}
		slices.Sort(out[name])
	}
	return out
}

// ruleScan is the baseline: what a rule-at-a-time checker does with the
// same snapshot. It decodes every region's ec2-describe-security-groups.json
// and writes one line per ingress rule open to 0.0.0.0/0 or ::/0 on a risky
// port (or on every port: protocol -1). No path, no evidence, no
// normalization: the least work that answers "which rules are open".
func ruleScan(snapshot, out string, risky map[string][]int) (int, error) {
	type perm struct {
		IpProtocol string
		FromPort   *int
		ToPort     *int
		IpRanges   []struct{ CidrIp string }
		Ipv6Ranges []struct{ CidrIpv6 string }
	}
	var doc struct {
		SecurityGroups []struct {
			GroupId       string
			IpPermissions []perm
		}
	}
	files, err := fs.Glob(os.DirFS(snapshot), "aws/*/*/ec2-describe-security-groups.json")
	if err != nil {
		return 0, err
	}
	f, err := os.Create(out)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	flagged := 0
	for _, name := range files {
		in, err := os.Open(filepath.Join(snapshot, name))
		if err != nil {
			return 0, err
		}
		doc.SecurityGroups = nil
		err = json.NewDecoder(bufio.NewReader(in)).Decode(&doc)
		in.Close()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		for _, g := range doc.SecurityGroups {
			for _, p := range g.IpPermissions {
				open := ""
				for _, r := range p.IpRanges {
					if r.CidrIp == "0.0.0.0/0" {
						open = r.CidrIp
					}
				}
				for _, r := range p.Ipv6Ranges {
					if r.CidrIpv6 == "::/0" {
						open = r.CidrIpv6
					}
				}
				if open == "" {
					continue
				}
				if p.IpProtocol == "-1" {
					fmt.Fprintf(w, "%s\tall\t%s\n", g.GroupId, open)
					flagged++
					continue
				}
				if p.FromPort == nil || p.ToPort == nil {
					continue
				}
				for _, port := range risky[p.IpProtocol] {
					if port >= *p.FromPort && port <= *p.ToPort {
						fmt.Fprintf(w, "%s\t%s/%d\t%s\n", g.GroupId, p.IpProtocol, port, open)
						flagged++
					}
				}
			}
		}
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	return flagged, f.Close()
}

// cpuTime is the user and system CPU time of the process so far: on a
// shared machine the wall time of a run depends on the other jobs, its
// CPU time much less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS returns freed memory to the OS and resets the process's
// peak RSS (VmHWM), so that peakRSS measures one run. See proc(5),
// /proc/pid/clear_refs: "5 ... Reset the peak resident set size".
func resetPeakRSS(b *testing.B) {
	b.StopTimer()
	defer b.StartTimer()
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("cannot reset the peak RSS (%v): it covers the whole process", err)
	}
}

// peakRSS is the process's peak resident set size in bytes (0 when /proc
// is not there).
func peakRSS(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				b.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	return 0
}
