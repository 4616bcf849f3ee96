package audit_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"golang.org/x/net/html"
	"golang.org/x/text/width"

	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/demo"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/rules"
)

// updateFaces rewrites the table goldens, which live with the reports
// package's other goldens (../reports/testdata); the test audits the demo
// estate, so it lives here, above the stages (internal/archtest).
var updateFaces = flag.Bool("update-faces", false, "rewrite ../reports/testdata/demo.table-*.txt")

func updating() bool { return *updateFaces }

// demoDocument audits the embedded demo estate offline (no probes), with
// the example custom rules and exceptions, at a fixed time.
func demoDocument(t testing.TB) *reports.Document {
	t.Helper()
	res, err := audit.Run(context.Background(), audit.Options{
		Snapshot: demo.Estate(), SnapshotDir: "demo",
		Rules: rules.Options{Now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
			CustomRulesFile: "../examples/custom-rules.yaml", ExceptionsFile: "../examples/exceptions.yaml"},
		FailOn: rules.High, Version: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	return reports.NewDocument(res.Report)
}

// withChanges attaches a changes section to d as a state would: the first
// exposure new, the second widened, one key resolved, one scope skipped
// and a trend of three runs.
func withChanges(d *reports.Document) *reports.Document {
	x0, x1 := d.Exposures[0], d.Exposures[1]
	d.AttachChanges(&reports.Changes{
		Since:  "2026-11-30T00:00:00Z",
		Counts: reports.ChangeCounts{New: 1, Widened: 1, Resolved: 1},
		Items: []reports.ChangeItem{
			{Kind: reports.ChangeNew, Key: x0.Key, ExposureIDs: []string{x0.ID}, Ports: "all", Severity: x0.MaxSeverity,
				HasFindings: x0.HasFindings, FirstSeen: "2026-12-01T00:00:00Z", Target: x0.TargetLabel()},
			{Kind: reports.ChangeWidened, Key: x1.Key, ExposureIDs: []string{x1.ID}, Ports: "0-65535", Added: "23",
				Severity: x1.MaxSeverity, HasFindings: x1.HasFindings, Target: x1.TargetLabel()},
			{Kind: reports.ChangeResolved, Key: exposure.Key{Scope: exposure.Scope{Provider: "aws", Account: "111122223333",
				Region: "eu-west-1"}, Level: exposure.Effective, Target: "eni-0removed", Endpoint: "203.0.113.99",
				Protocol: exposure.ProtocolTCP}, Ports: "3306", Severity: rules.Critical, HasFindings: true, Target: "old-db"},
		},
		Skipped: []exposure.Scope{{Provider: "gcp", Account: "shop-dev"}},
		Trend: []reports.TrendPoint{
			{At: "2026-11-28T00:00:00Z", Effective: 90, Latent: 20, BySeverity: reports.SeverityCounts{Critical: 10, High: 30}},
			{At: "2026-11-30T00:00:00Z", Effective: 100, Latent: 22, BySeverity: reports.SeverityCounts{Critical: 14, High: 33}},
			{At: "2026-12-01T00:00:00Z", Effective: d.Summary.Exposures.Effective, Latent: d.Summary.Exposures.Latent,
				BySeverity: d.Summary.Findings.BySeverity},
		},
	})
	return d
}

// cells is the display width of a terminal line, measured independently
// of the package: East Asian wide runes take two cells, combining marks
// none.
func cells(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case unicode.In(r, unicode.Mn, unicode.Me):
		case width.LookupRune(r).Kind() == width.EastAsianWide || width.LookupRune(r).Kind() == width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}

// records splits a section of the table into its records: a line that
// does not start with a space starts one (a row, or a block's head line),
// indented lines continue it.
func records(section string) []string {
	var out []string
	for _, line := range strings.Split(section, "\n") {
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, " ") && len(out) > 0 {
			out[len(out)-1] += "\n" + line
			continue
		}
		out = append(out, line)
	}
	return out
}

// sections splits the table at blank lines.
func sections(table string) []string { return strings.Split(table, "\n\n") }

func TestTableWidths(t *testing.T) {
	d := withChanges(demoDocument(t))
	shortRe := regexp.MustCompile(`^[0-9a-f]{6,16}$`)
	for _, w := range []int{80, 120, 200} {
		t.Run("width="+strconv.Itoa(w), func(t *testing.T) {
			var buf bytes.Buffer
			if err := reports.RenderTable(&buf, d, reports.TableOptions{Width: w}); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			golden(t, filepath.Join("..", "reports", "testdata", "demo.table-"+strconv.Itoa(w)+".txt"), buf.Bytes())
			for i, line := range strings.Split(out, "\n") {
				if n := cells(line); n > w {
					t.Errorf("line %d is %d cells wide (limit %d): %q", i+1, n, w, line)
				}
			}
			if strings.Contains(out, "…") && !strings.Contains(out, "…and ") {
				t.Errorf("something was cut with an ellipsis")
			}
			// Every rule ID is whole on one line, between spaces (or at
			// the line's start or end): copyable into `rules show`.
			tokens := map[string]bool{}
			for _, tok := range strings.Fields(out) {
				tokens[tok] = true
			}
			for _, f := range d.Findings {
				if !tokens[f.RuleID] {
					t.Errorf("rule %s does not appear whole", f.RuleID)
				}
			}
			for _, m := range d.Misconfigurations {
				if !strings.Contains(out, m.ID) {
					t.Errorf("misconfiguration %s does not appear whole", m.ID)
				}
			}
			for _, sec := range sections(out) {
				seen := map[string]bool{}
				for _, r := range records(sec) {
					if seen[r] {
						t.Errorf("two identical rows:\n%s", r)
					}
					seen[r] = true
				}
			}
			// The exposure column holds prefixes that name exactly one
			// exposure and no other exposure's finding (what explain
			// resolves).
			short := map[string]bool{}
			for _, sec := range sections(out) {
				if !strings.HasPrefix(sec, "FINDINGS (") {
					continue
				}
				for _, r := range records(sec)[1:] {
					for _, tok := range strings.Fields(strings.SplitN(r, "\n", 2)[0]) {
						if shortRe.MatchString(tok) {
							short[tok] = true
						}
					}
				}
			}
			if len(short) < len(d.Exposures)/2 {
				t.Fatalf("only %d exposure IDs found in the findings", len(short))
			}
			for p := range short {
				var owners []*reports.Exposure
				for _, x := range d.Exposures {
					if strings.HasPrefix(x.ID, p) {
						owners = append(owners, x)
					}
				}
				if len(owners) != 1 {
					t.Errorf("exposure prefix %s matches %d exposures", p, len(owners))
					continue
				}
				for _, f := range d.Findings {
					if strings.HasPrefix(f.ID, p) && f.Exposure != owners[0] {
						t.Errorf("exposure prefix %s also starts finding %s of another exposure", p, f.ID)
					}
				}
			}
		})
	}
}

func TestTableContent(t *testing.T) {
	d := withChanges(demoDocument(t))
	var buf bytes.Buffer
	if err := reports.RenderTable(&buf, d, reports.TableOptions{Width: 200}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	// GCP bastion-1 is opened by allow-ssh-anywhere; the narrow IAP rule
	// admits only Google's proxy range.
	var bastion string
	for _, r := range records(out) {
		if strings.Contains(r, "203.0.113.21") {
			bastion = r
			break
		}
	}
	if i, j := strings.Index(bastion, "allow-ssh-anywhere"), strings.Index(bastion, "allow-iap-ssh"); i < 0 || (j >= 0 && j < i) {
		t.Errorf("bastion-1's evidence does not name allow-ssh-anywhere first:\n%s", bastion)
	}
	// The load balancer's translation and backend are shown.
	if !strings.Contains(out, "tcp/2222→22") || !strings.Contains(out, "edge-prod → ssh-gateway-1") {
		t.Errorf("the edge-prod NLB's backend is not shown")
	}
	if !strings.Contains(out, "CHANGES SINCE THE LAST RUN (2026-11-30T00:00:00Z)") || !strings.Contains(out, "1 new, 1 widened, 1 resolved") ||
		!strings.Contains(out, "not compared") {
		t.Errorf("the changes section is missing or incomplete")
	}
	if !strings.Contains(out, "NEW") || !strings.Contains(out, "WIDENED") {
		t.Errorf("new and widened exposures are not marked")
	}
	// Misconfigurations most severe first.
	var sevs []rules.Severity
	for _, sec := range sections(out) {
		if strings.HasPrefix(sec, "MISCONFIGURATIONS") {
			for _, r := range records(sec)[2:] {
				s, err := rules.ParseSeverity(strings.ToLower(strings.Fields(r)[0]))
				if err != nil {
					t.Fatalf("misconfiguration row without a severity: %q", r)
				}
				sevs = append(sevs, s)
			}
		}
	}
	for i := 1; i < len(sevs); i++ {
		if sevs[i] > sevs[i-1] {
			t.Errorf("misconfigurations not sorted by severity: %v", sevs)
			break
		}
	}
	// Without a state, no changes section and no change column.
	plain := demoDocument(t)
	buf.Reset()
	if err := reports.RenderTable(&buf, plain, reports.TableOptions{Width: 200}); err != nil {
		t.Fatal(err)
	}
	if s := buf.String(); strings.Contains(s, "CHANGE") {
		t.Errorf("a report without changes shows a change section or column")
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if updating() {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./reports -update)", err)
	}
	if !bytes.Equal(got, want) {
		g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < max(len(g), len(w)); i++ {
			var a, b string
			if i < len(g) {
				a = g[i]
			}
			if i < len(w) {
				b = w[i]
			}
			if a != b {
				t.Errorf("%s differs at line %d (review and run go test ./reports -update):\n got: %s\nwant: %s", path, i+1, a, b)
				return
			}
		}
	}
}

// TestHTMLDemoLinks checks the demo page's links: every in-page link lands
// on an element, every finding and exposure has its anchor, every finding
// ID a compliance control names is a link to the finding, and nothing is
// fetched or linked outside the page.
func TestHTMLDemoLinks(t *testing.T) {
	d := withChanges(demoDocument(t))
	var buf bytes.Buffer
	if err := reports.Render(&buf, "html", d); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	var hrefs []string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				switch a.Key {
				case "id":
					ids[a.Val] = true
				case "href":
					if !strings.HasPrefix(a.Val, "#") {
						t.Errorf("<%s href=%q> links out of the page", n.Data, a.Val)
					}
					hrefs = append(hrefs, strings.TrimPrefix(a.Val, "#"))
				case "src", "srcset", "action":
					t.Errorf("<%s %s=%q> fetches", n.Data, a.Key, a.Val)
				}
			}
			if n.Data == "link" || n.Data == "img" || n.Data == "iframe" || n.Data == "object" {
				t.Errorf("<%s> in a self-contained page", n.Data)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	linked := map[string]bool{}
	for _, h := range hrefs {
		if !ids[h] {
			t.Errorf("link #%s lands nowhere", h)
		}
		linked[h] = true
	}
	for _, f := range d.Findings {
		if !ids["f-"+f.ID] {
			t.Errorf("finding %s has no anchor", f.ID)
		}
	}
	for _, x := range d.Exposures {
		if !ids["x-"+x.ID] {
			t.Errorf("exposure %s has no anchor", x.ID)
		}
		if !linked["x-"+x.ID] && x.Matched {
			t.Errorf("exposure %s has findings but no link to its detail", x.ID)
		}
	}
	findings := map[string]bool{}
	for _, f := range d.Findings {
		findings[f.ID] = true
	}
	n := 0
	for _, c := range d.Compliance {
		for _, ev := range c.Evidence {
			if findings[ev] {
				n++
				if !linked["f-"+ev] {
					t.Errorf("control %s %s names finding %s without a link", c.Framework, c.ID, ev)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("the demo's compliance names no finding: the test checks nothing")
	}
	t.Logf("%d compliance evidence entries link to findings", n)
}
