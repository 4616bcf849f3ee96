package state

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"testing"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

// estate is n exposures of one scope, shaped like a real account-region:
// effective and latent, a few ports each, sources from the whole internet
// or an office range, a finding on most; every 100th row is widened when
// widen is set.
func estate(n int, widen bool) []Observed {
	out := make([]Observed, 0, n)
	srcs := [][]string{{"0.0.0.0/0"}, {"203.0.113.0/24"}, {"0.0.0.0/0", "::/0"}, {"198.51.100.0/24", "203.0.113.0/25"}}
	for i := range n {
		level := exposure.Effective
		if i%4 == 3 {
			level = exposure.Latent
		}
		port := uint16(1000 + i%50)
		ports := pr(port, port)
		if widen && i%100 == 0 {
			ports.To += 10
		}
		o := observed(scopeA, fmt.Sprintf("eni-%017x", i/2), level, ports, srcs[i%len(srcs)]...)
		o.Key.Protocol = []exposure.Protocol{exposure.ProtocolTCP, exposure.ProtocolUDP}[i%2]
		if level == exposure.Effective {
			o.Key.Endpoint = fmt.Sprintf("192.0.2.%d", i%250)
		}
		o.ID = fmt.Sprintf("%016x", i)
		if i%3 != 0 {
			o.Findings = []Finding{{RuleID: "AWS-EC2-PORT-" + fmt.Sprint(port), Severity: rules.High}}
		}
		if i%5 == 0 {
			o.Probe = exposure.ProbeOpen
		}
		out = append(out, o)
	}
	return out
}

// BenchmarkDiff10k diffs a 10k-exposure baseline against a run where 1%
// widened, and reports the baseline's encoded size (JSON as the dir and S3
// stores keep it, gzip as DynamoDB does).
func BenchmarkDiff10k(b *testing.B) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	prev, _ := Diff(nil, &Run{Scope: scopeA, Exposures: estate(10000, false)}, now)
	cur := &Run{Scope: scopeA, Exposures: estate(10000, true)}
	if len(prev.Entries) != 10000 {
		b.Fatalf("%d entries, want 10000", len(prev.Entries))
	}
	b.ReportAllocs()
	var widened int
	for b.Loop() {
		_, ch := Diff(prev, cur, now.Add(time.Hour))
		widened = 0
		for _, c := range ch {
			if c.Kind == Widened {
				widened++
			}
		}
	}
	if widened != 100 {
		b.Fatalf("%d widened, want 100", widened)
	}
	data, err := prev.Encode()
	if err != nil {
		b.Fatal(err)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(data)
	zw.Close()
	b.ReportMetric(float64(len(data)), "json-bytes/10k")
	b.ReportMetric(float64(z.Len()), "gzip-bytes/10k")
}

// BenchmarkDecode10k is what Load costs beyond the I/O.
func BenchmarkDecode10k(b *testing.B) {
	prev, _ := Diff(nil, &Run{Scope: scopeA, Exposures: estate(10000, false)}, time.Now())
	data, err := prev.Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
