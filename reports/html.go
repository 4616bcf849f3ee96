package reports

import (
	"bufio"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"io"
	"slices"
	"strings"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

//go:embed assets/report.html.tmpl assets/report.css assets/report.js
var htmlAssets embed.FS

// htmlPage is what the HTML template renders.
type htmlPage struct {
	Doc        *Document
	Groups     []*targetGroup
	Frameworks []*frameworkControls
	Summary    string
	CSS        template.CSS
	JS         template.JS
	CSP        string
}

// targetGroup is the exposures of one target (or, for latent exposures, one
// layer), shown together with their path evidence.
type targetGroup struct {
	Level             exposure.Level
	Provider, Account string
	Region            string
	Target            Target
	Label             string
	Owner             string
	Tags              []string
	MaxSeverity       rules.Severity
	HasFindings       bool
	Exposures         []*Exposure
}

// writeHTML writes one self-contained page: inline CSS and script, no
// external fetches, readable offline and without JavaScript. It uses
// html/template, which escapes every value for the context it lands in
// (element text, attribute, URL, script), so cloud-provided strings cannot
// inject markup. A Content-Security-Policy allows only the page's own
// script and style (by hash), as a second line of defence.
func writeHTML(out io.Writer, d *Document) error {
	src, err := htmlAssets.ReadFile("assets/report.html.tmpl")
	if err != nil {
		return err
	}
	css, err := htmlAssets.ReadFile("assets/report.css")
	if err != nil {
		return err
	}
	js, err := htmlAssets.ReadFile("assets/report.js")
	if err != nil {
		return err
	}
	tmpl, err := template.New("report").Funcs(template.FuncMap{
		"join":   strings.Join,
		"plural": plural,
		"add":    func(a, b int) int { return a + b },
		"short":  shortID,
	}).Parse(string(src))
	if err != nil {
		return err
	}
	page := &htmlPage{
		Doc:        d,
		Groups:     groupByTarget(d.Exposures),
		Frameworks: complianceByFramework(d.Compliance),
		Summary:    summaryLine(d),
		CSS:        template.CSS(css),
		JS:         template.JS(js),
		CSP: "default-src 'none'; style-src " + cspHash(css) + "; script-src " + cspHash(js) +
			"; img-src data:; base-uri 'none'; form-action 'none'",
	}
	w := bufio.NewWriter(out)
	if err := tmpl.Execute(w, page); err != nil {
		return err
	}
	return w.Flush()
}

func cspHash(b []byte) string {
	sum := sha256.Sum256(b)
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// groupByTarget groups exposures by level and target, keeping the order of
// the sorted exposures so the most severe targets come first.
func groupByTarget(exps []*Exposure) []*targetGroup {
	var out []*targetGroup
	index := map[string]*targetGroup{}
	for _, e := range exps {
		key := strings.Join([]string{string(e.Level), e.Provider, e.Account, e.Region, e.Target.ID}, "\x00")
		g := index[key]
		if g == nil {
			g = &targetGroup{Level: e.Level, Provider: e.Provider, Account: e.Account, Region: e.Region,
				Target: e.Target, Label: e.TargetLabel()}
			if e.Target.Owner != e.Target.ID {
				g.Owner = e.Target.Owner
			}
			for k, val := range e.Target.Tags {
				g.Tags = append(g.Tags, k+"="+val)
			}
			slices.Sort(g.Tags)
			index[key] = g
			out = append(out, g)
		}
		g.Exposures = append(g.Exposures, e)
		if e.HasFindings && (!g.HasFindings || e.MaxSeverity > g.MaxSeverity) {
			g.MaxSeverity, g.HasFindings = e.MaxSeverity, true
		}
	}
	return out
}
