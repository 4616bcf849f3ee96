package reports

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/portcullis-sec/portcullis/exposure"
)

func TestSourcesLabel(t *testing.T) {
	for _, c := range []struct {
		cidrs []string
		want  string
	}{
		{nil, "none"},
		{[]string{"10.0.0.0/8"}, "none"}, // private: nobody on the internet
		{[]string{"0.0.0.0/0", "::/0"}, "anyone"},
		{[]string{"0.0.0.0/0"}, "anyone (IPv4)"},
		{[]string{"::/0"}, "anyone (IPv6)"},
		{[]string{"0.0.0.0/0", "2001:db8::/32"}, "anyone (IPv4) + 2001:db8::/32"},
		{[]string{"::/0", "198.51.100.0/24", "203.0.113.0/24"}, "anyone (IPv6) + 2 IPv4 ranges"},
		{[]string{"198.51.100.0/24"}, "198.51.100.0/24"},
		{[]string{"198.51.100.7"}, "198.51.100.7/32"},
		{[]string{"198.51.100.0/24", "2001:db8::/48", "10.0.0.0/8"}, "2 ranges"},
	} {
		s, err := exposure.ParseSources(c.cidrs...)
		if err != nil {
			t.Fatal(err)
		}
		if c.cidrs == nil {
			s = nil
		}
		// The label is computed from the published sources, as a reader
		// of the JSON report sees them.
		got, err := sourcesLabel(exposure.DisplaySources(s))
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("sources %v: label %q, want %q", c.cidrs, got, c.want)
		}
	}
}

func TestPortLabel(t *testing.T) {
	for _, c := range []struct {
		e    Exposure
		want string
	}{
		{Exposure{Protocol: exposure.ProtocolTCP, FromPort: 22, ToPort: 22}, "22"},
		{Exposure{Protocol: exposure.ProtocolUDP, FromPort: 1024, ToPort: 65535}, "1024-65535"},
		{Exposure{Protocol: exposure.ProtocolAll, FromPort: 0, ToPort: 65535}, "all"},
		{Exposure{Protocol: exposure.ProtocolICMP, FromPort: 8, ToPort: 8}, "type 8"},
		{Exposure{Protocol: exposure.ProtocolTCP, FromPort: 443, ToPort: 443,
			Backend: &Backend{Protocol: exposure.ProtocolTCP, FromPort: 8443, ToPort: 8443}}, "443→8443"},
		// A forward that keeps the port is not a translation.
		{Exposure{Protocol: exposure.ProtocolTCP, FromPort: 80, ToPort: 80,
			Backend: &Backend{Protocol: exposure.ProtocolTCP, FromPort: 80, ToPort: 80}}, "80"},
	} {
		if got := c.e.PortLabel(); got != c.want {
			t.Errorf("PortLabel(%+v) = %q, want %q", c.e, got, c.want)
		}
	}
}

func TestEvidenceLabel(t *testing.T) {
	e := Exposure{Evidence: []exposure.Evidence{
		{Layer: "rtb-1", LayerKind: exposure.LayerRoute, Rule: "0.0.0.0/0"},
		{Layer: "acl-1", LayerKind: exposure.LayerNetworkACL, Rule: "100"},
		{Layer: "sg-1", LayerKind: exposure.LayerSecurityGroup, Rule: "sgr-1"},
		{Layer: "sg-1", LayerKind: exposure.LayerSecurityGroup, Rule: "sgr-2"},
		{Layer: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg-web",
			LayerKind: exposure.LayerNSG, Rule: "allow-https"},
		{Layer: lstARN, LayerKind: exposure.LayerListener, LayerName: "web-nlb:443"},
	}}
	want := "acl-1#100, sg-1, nsg-web#allow-https, web-nlb:443"
	if got := e.EvidenceLabel(); got != want {
		t.Errorf("EvidenceLabel = %q, want %q", got, want)
	}
}

func TestMatchProbe(t *testing.T) {
	obs := indexObservations([]exposure.Observation{
		{Endpoint: "203.0.113.10", Protocol: exposure.ProtocolTCP, Port: 8001, State: exposure.ProbeClosed},
		{Endpoint: "203.0.113.10", Protocol: exposure.ProtocolTCP, Port: 8005, State: exposure.ProbeOpen, Service: "http"},
		{Endpoint: "203.0.113.10", Protocol: exposure.ProtocolTCP, Port: 8003, State: exposure.ProbeOpen, Service: "http"},
		{Endpoint: "203.0.113.10", Protocol: exposure.ProtocolUDP, Port: 53, State: exposure.ProbeOpen, Service: "dns"},
		{Endpoint: "2001:DB8::0:1", Protocol: exposure.ProtocolTCP, Port: 443, State: exposure.ProbeFiltered},
		{Endpoint: "LB.Example.com.", Protocol: exposure.ProtocolTCP, Port: 443, State: exposure.ProbeOpen, Service: "tls"},
	})
	ip := func(s string) exposure.Endpoint { return exposure.Endpoint{IP: netip.MustParseAddr(s)} }
	for _, c := range []struct {
		name      string
		endpoint  exposure.Endpoint
		proto     exposure.Protocol
		ports     exposure.PortRange
		wantState exposure.ProbeState
		wantPort  int
	}{
		{"open beats closed, lowest open port", ip("203.0.113.10"), exposure.ProtocolTCP, exposure.PortRange{From: 8000, To: 8010}, exposure.ProbeOpen, 8003},
		{"only ports in range", ip("203.0.113.10"), exposure.ProtocolTCP, exposure.PortRange{From: 8000, To: 8002}, exposure.ProbeClosed, 8001},
		{"other protocol ignored", ip("203.0.113.10"), exposure.ProtocolTCP, exposure.Port(53), "", 0},
		{"protocol all (the protocols not reported separately) matches no TCP or UDP probe", ip("203.0.113.10"), exposure.ProtocolAll, exposure.Port(53), "", 0},
		{"IPv6 written differently", ip("2001:db8::1"), exposure.ProtocolTCP, exposure.Port(443), exposure.ProbeFiltered, 443},
		{"DNS name, case and trailing dot", exposure.Endpoint{Host: "lb.example.com"}, exposure.ProtocolTCP, exposure.Port(443), exposure.ProbeOpen, 443},
		{"other address", ip("203.0.113.11"), exposure.ProtocolTCP, exposure.AllPorts, "", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := matchProbe(obs, &exposure.Exposure{Site: &exposure.Site{Endpoint: c.endpoint}, Protocol: c.proto, Ports: c.ports})
			if c.wantState == "" {
				if p != nil {
					t.Errorf("matched %+v, want nothing", p)
				}
				return
			}
			if p == nil || p.State != c.wantState || p.Port != c.wantPort {
				t.Errorf("matched %+v, want %s on %d", p, c.wantState, c.wantPort)
			}
		})
	}
}

func TestNaturalCompare(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"5.2", "5.10", -1}, {"5.10", "5.2", 1}, {"AC-3", "AC-17", -1}, {"1.3.1", "1.3.1", 0},
		{"5", "5.1", -1}, {"a", "b", -1}, {"007", "7", 0},
	} {
		if got := naturalCompare(c.a, c.b); got != c.want {
			t.Errorf("naturalCompare(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestWrapAndTruncate(t *testing.T) {
	// Wrapping never cuts: every character of the text is still there,
	// and no line is wider than asked (in display cells: 漢 takes two).
	long := strings.Repeat("word ", 40) + strings.Repeat("x", 50) + " " + strings.Repeat("漢", 20)
	wrapped := wrapText(long, 30, "  ")
	for _, line := range strings.Split(wrapped, "\n") {
		if n := displayWidth(line); n > 30 {
			t.Errorf("wrapped line is %d cells wide: %q", n, line)
		}
	}
	if got := strings.Join(strings.Fields(wrapped), ""); got != strings.Join(strings.Fields(long), "") {
		t.Errorf("wrapping lost text:\n got %q\nwant %q", got, strings.Join(strings.Fields(long), ""))
	}
}

func TestTermText(t *testing.T) {
	for in, want := range map[string]string{
		"web-1":             "web-1",
		"a\x1b[2Jb":         `a\x1b[2Jb`,
		"line\r\nbreak":     `line\x0d\x0abreak`,
		"rtl\u202eevil":     `rtl\u202eevil`,
		"zero\u200bwidth":   `zero\u200bwidth`,
		"日本語":               "日本語",
		"bad\xffutf8":       `bad\ufffdutf8`,
		"tab\there":         `tab\x09here`,
		"sep\u2028line":     `sep\u2028line`,
		"emoji 🔥 stays put": "emoji 🔥 stays put",
	} {
		if got := termText(in); got != want {
			t.Errorf("termText(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHTMLPolicyHashes proves the page's own style and script are the ones
// its Content-Security-Policy allows: if they drift apart, a browser would
// render the report unstyled and without its filters.
func TestHTMLPolicyHashes(t *testing.T) {
	doc, err := html.Parse(bytes.NewReader(render(t, "html", fixtureReport())))
	if err != nil {
		t.Fatal(err)
	}
	var csp string
	bodies := map[string]string{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "meta":
				var equiv, content string
				for _, a := range n.Attr {
					switch a.Key {
					case "http-equiv":
						equiv = a.Val
					case "content":
						content = a.Val
					}
				}
				if strings.EqualFold(equiv, "Content-Security-Policy") {
					csp = content
				}
			case "style", "script":
				if n.FirstChild != nil {
					bodies[n.Data] = n.FirstChild.Data
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("CSP = %q, want default-src 'none'", csp)
	}
	for _, el := range []string{"style", "script"} {
		sum := sha256.Sum256([]byte(bodies[el]))
		h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		if !strings.Contains(csp, el+"-src "+h) {
			t.Errorf("the <%s> element's hash %s is not in the CSP %q", el, h, csp)
		}
	}
}

// FuzzEscaping feeds arbitrary resource names to the human formats: the
// table never carries control characters, Markdown never an unescaped
// pipe, raw tag or newline, and every format still renders.
func FuzzEscaping(f *testing.F) {
	for _, s := range []string{hostileScript, hostileAttr, hostileMD, hostileTerm, hostileCSV, "|", "\\|", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		r := fixtureReport()
		r.Exposures[0].Target.Name = name
		r.Exposures[0].Target.Tags = map[string]string{name: name}
		for _, format := range Formats() {
			var buf bytes.Buffer
			if err := Write(&buf, format, r); err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			out := buf.String()
			switch format {
			case "table":
				for _, r := range out {
					if r != '\n' && unsafeRune(r) {
						t.Fatalf("table carries %U", r)
					}
				}
			case "markdown":
				md := mdText(name)
				if strings.ContainsAny(md, "<>\n\r") || strings.Count(md, "|") != strings.Count(md, `\|`) {
					t.Fatalf("mdText(%q) = %q", name, md)
				}
			}
		}
	})
}
