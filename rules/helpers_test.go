package rules

import (
	"flag"
	"net/netip"
	"os"
	"testing"
	"time"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// testNow is the clock of every test that involves exception expiry.
var testNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

// expSpec describes an exposure compactly for tests.
type expSpec struct {
	Provider  string   `yaml:"provider"`
	Account   string   `yaml:"account"`
	Region    string   `yaml:"region"`
	Level     string   `yaml:"level"`
	Protocol  string   `yaml:"protocol"`
	Ports     string   `yaml:"ports"`
	Backend   string   `yaml:"backend"`
	Sources   []string `yaml:"sources"`
	LayerKind string   `yaml:"layerKind"`
	Layer     string   `yaml:"layer"`
	Target    string   `yaml:"target"`
	Endpoint  string   `yaml:"endpoint"`
	// EvidenceSources are the sources as the layer wrote them; default:
	// Sources.
	EvidenceSources []string          `yaml:"evidenceSources"`
	Tags            map[string]string `yaml:"tags"`
}

// build turns a spec into an exposure, filling the defaults: aws account
// 111122223333 in eu-west-1, effective, tcp, 0.0.0.0/0, admitted by
// security group sg-1 on target eni-1 at 192.0.2.10.
func (s expSpec) build(t testing.TB) *exposure.Exposure {
	t.Helper()
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&s.Provider, "aws")
	def(&s.Account, "111122223333")
	def(&s.Region, "eu-west-1")
	def(&s.Level, string(exposure.Effective))
	def(&s.Protocol, "tcp")
	def(&s.LayerKind, exposure.LayerSecurityGroup)
	def(&s.Layer, "sg-1")
	def(&s.Target, "eni-1")
	def(&s.Endpoint, "192.0.2.10")
	if len(s.Sources) == 0 {
		s.Sources = []string{"0.0.0.0/0"}
	}
	if s.EvidenceSources == nil {
		s.EvidenceSources = s.Sources
	}
	proto, err := exposure.ParseProtocol(s.Protocol)
	if err != nil {
		t.Fatal(err)
	}
	ports, err := exposure.ParsePortRange(s.Ports)
	if err != nil {
		t.Fatal(err)
	}
	srcs, err := exposure.ParseSources(s.Sources...)
	if err != nil {
		t.Fatal(err)
	}
	e := &exposure.Exposure{
		Level:    exposure.Level(s.Level),
		Site:     &exposure.Site{Scope: exposure.Scope{Provider: s.Provider, Account: s.Account, Region: s.Region}},
		Protocol: proto,
		Ports:    ports,
		Sources:  srcs,
		Evidence: []*exposure.Evidence{{Layer: s.Layer, LayerKind: s.LayerKind, Rule: "r1", Action: "allow", Sources: s.EvidenceSources}},
	}
	if e.Level == exposure.Latent {
		e.Target = exposure.TargetRef{ID: s.Layer, Kind: s.LayerKind, Tags: s.Tags}
	} else {
		e.Target = exposure.TargetRef{ID: s.Target, Kind: exposure.KindInterface, Owner: "i-" + s.Target, Tags: s.Tags}
		e.Endpoint = exposure.Endpoint{IP: netip.MustParseAddr(s.Endpoint)}
	}
	if s.Backend != "" {
		bp, err := exposure.ParsePortRange(s.Backend)
		if err != nil {
			t.Fatal(err)
		}
		e.Backend = &exposure.Backend{ID: "i-backend", Forward: "listener-1", Protocol: proto, Ports: bp}
	}
	return e
}

func mustCatalog(t testing.TB) *Catalog {
	t.Helper()
	c, err := LoadCatalog()
	if err != nil {
		t.Fatalf("LoadCatalog: %v", err)
	}
	return c
}

func mustEngine(t testing.TB, opts Options) *Engine {
	t.Helper()
	if opts.Now.IsZero() {
		opts.Now = testNow
	}
	e, err := NewEngine(mustCatalog(t), opts)
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	return e
}

func findingsOf(res *Result, ruleID string) []Finding {
	var out []Finding
	for _, f := range res.Findings {
		if f.RuleID == ruleID {
			out = append(out, f)
		}
	}
	return out
}

func hasRef(f Finding, fw, ctl string) bool {
	for _, r := range f.Compliance {
		if r.Framework == fw && r.Control == ctl {
			return true
		}
	}
	return false
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeBytes(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }

func complementOf(s *netipx.IPSet) *netipx.IPSet {
	var b netipx.IPSetBuilder
	b.AddPrefix(netip.MustParsePrefix("0.0.0.0/0"))
	b.AddPrefix(netip.MustParsePrefix("::/0"))
	b.RemoveSet(s)
	out, _ := b.IPSet()
	return out
}
