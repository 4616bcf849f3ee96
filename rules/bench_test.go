package rules

import (
	"fmt"
	"testing"

	"github.com/portcullis-sec/portcullis/exposure"
)

// BenchmarkEvaluate measures the engine on an estate of 10,000 exposures
// (every catalog port rule, some wide ranges, a third latent, one custom
// rule): go test ./rules -run - -bench Evaluate -benchtime 3x
func BenchmarkEvaluate(b *testing.B) {
	ports := []string{"22", "443", "3306", "6379", "8080", "0-65535", "1024-65535", "5432", "27017", "9200"}
	var exps []*exposure.Exposure
	for i := range 10000 {
		s := expSpec{Ports: ports[i%len(ports)], Target: fmt.Sprintf("eni-%d", i), Endpoint: fmt.Sprintf("192.0.2.%d", i%250+1)}
		if i%3 == 0 {
			s.Level = "latent"
			s.Layer = fmt.Sprintf("sg-%d", i)
		}
		if i%7 == 0 {
			s.Sources = []string{"198.51.100.0/24", "2001:db8::/48"}
		}
		exps = append(exps, s.build(b))
	}
	path := b.TempDir() + "/custom.yaml"
	if err := writeBytes(path, `rules:
  - id: DEV
    title: dev
    severity: high
    condition: exposure.overlaps(8000, 8999) && exposure.tags.?public.orValue("") != "true"
`); err != nil {
		b.Fatal(err)
	}
	eng := mustEngine(b, Options{CustomRulesFile: path})
	b.ResetTimer()
	for b.Loop() {
		res := eng.Evaluate(exps, nil)
		if len(res.Findings) == 0 {
			b.Fatal("no findings")
		}
	}
}
