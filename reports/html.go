package reports

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strconv"
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
	Frameworks []*frameworkView
	Summary    string
	Exec       execSummary
	Charts     []chart
	Changes    *changesView
	Misconfigs []MisconfigurationEntry
	CSS        template.CSS
	JS         template.JS
	CSP        string
	short      map[string]string
}

// targetGroup is the exposures of one target (or, for latent exposures, one
// layer), shown together with their path evidence.
type targetGroup struct {
	Anchor            string
	Level             exposure.Level
	Provider, Account string
	Region            string
	Target            Target
	Label             string
	Owner             string
	Tags              []string
	MaxSeverity       rules.Severity
	HasFindings       bool
	Findings          int
	Exposures         []*exposureView
}

// exposureView is one exposure in its target's detail: the path drawn hop
// by hop, the findings on it and their exceptions.
type exposureView struct {
	*Exposure
	Short    string
	Hops     []hop
	Findings []*Finding
	// ProbeEvidence is what the probe recorded (banner, certificate…).
	ProbeEvidence []kv
}

// hop is one box of the path diagram.
type hop struct {
	Kind, Name, Rule, Note string
	Sources                string
	Deny                   bool
	Class                  string
}

type kv struct{ K, V string }

// frameworkView is one framework (and benchmark version) of the
// compliance section.
type frameworkView struct {
	ID, Name, Version         string
	Pass, Fail, NotApplicable int
	Controls                  []controlView
}

type controlView struct {
	ID, Title string
	Status    rules.ControlStatus
	Links     []link
	Notes     []string
}

// link is an anchor to a finding or exposure of the page.
type link struct{ Href, Text, Title string }

// execSummary is the executive summary in words.
type execSummary struct {
	Overview string
	Findings string
	Worst    []worstItem
	Changes  string
	Partial  string
}

type worstItem struct {
	Severity   rules.Severity
	Title      string
	Where      string
	FindingID  string
	Count      int
	ExposureID string
}

// changesView is the changes section.
type changesView struct {
	*Changes
	Line  string
	Items []changeItemView
	Scope []string
}

type changeItemView struct {
	ChangeItem
	Links []link
	Where string
}

// writeHTML writes one self-contained page: inline CSS, SVG charts and
// script, no external fetches, readable offline, printable, and readable
// without JavaScript (sorting and filtering need it). It uses html/template,
// which escapes every value for the context it lands in (element text,
// attribute, URL, script), so cloud-provided strings cannot inject markup;
// the charts are SVG built here with every label escaped. A
// Content-Security-Policy allows only the page's own script and style (by
// hash), as a second line of defence.
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
	page := &htmlPage{
		Doc:     d,
		Summary: summaryLine(d),
		CSS:     template.CSS(css), //nolint:gosec // css is the style sheet embedded at build time (htmlAssets), no cloud data
		JS:      template.JS(js),   //nolint:gosec // js is the script embedded at build time (htmlAssets), no cloud data
		CSP: "default-src 'none'; style-src " + cspHash(css) + "; script-src " + cspHash(js) +
			"; img-src data:; base-uri 'none'; form-action 'none'",
		short: shortIDs(d),
	}
	page.Groups = groupByTarget(d, page.short)
	page.Frameworks = frameworkViews(d)
	page.Exec = executiveSummary(d)
	page.Charts = charts(d)
	page.Changes = changesSection(d, page.short)
	page.Misconfigs = slices.Clone(d.Misconfigurations)
	slices.SortStableFunc(page.Misconfigs, func(a, b MisconfigurationEntry) int { return cmp.Compare(b.Severity, a.Severity) })

	tmpl, err := template.New("report").Funcs(template.FuncMap{
		"join":      strings.Join,
		"plural":    plural,
		"add":       func(a, b int) int { return a + b },
		"short":     shortID,
		"xid":       func(id string) string { return or(page.short[id], id) },
		"admitting": admittingLabel,
		"target":    targetWithBackend,
		"rank":      func(s rules.Severity) int { return int(s) },
		"ports":     portProtoLabel,
		"upper":     strings.ToUpper,
		"firstN":    func(s string, n int) string { return prefix(s, n) },
	}).Parse(string(src))
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, page); err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	writeVisibleControls(w, buf.Bytes())
	return w.Flush()
}

// writeVisibleControls copies the page, writing the C0 control characters
// (but tab, line feed and carriage return) and DEL as \xNN: html/template
// passes them through, and a tag holding ESC [2J would clear the terminal
// of whoever runs cat on the report. The template and its assets hold
// none, so every one comes from a cloud string, inside text or an
// attribute value, where the four characters of the escape are plain text.
func writeVisibleControls(w *bufio.Writer, page []byte) {
	start := 0
	for i, b := range page {
		if (b < 0x20 && b != '\t' && b != '\n' && b != '\r') || b == 0x7f {
			w.Write(page[start:i]) //nolint:gosec // bufio.Writer's error is sticky: the caller returns it from Flush
			fmt.Fprintf(w, `\x%02x`, b)
			start = i + 1
		}
	}
	w.Write(page[start:]) //nolint:gosec // as above: the caller's Flush returns the error
}

func cspHash(b []byte) string {
	sum := sha256.Sum256(b)
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// groupByTarget groups exposures by level and target, keeping the order of
// the sorted exposures so the most severe targets come first.
func groupByTarget(d *Document, short map[string]string) []*targetGroup {
	findings := map[*Exposure][]*Finding{}
	for _, f := range d.Findings {
		findings[f.Exposure] = append(findings[f.Exposure], f)
	}
	var out []*targetGroup
	index := map[string]*targetGroup{}
	for _, e := range d.Exposures {
		key := strings.Join([]string{string(e.Level), e.Provider, e.Account, e.Region, e.Target.ID}, "\x00")
		g := index[key]
		if g == nil {
			g = &targetGroup{Anchor: "t-" + strconv.Itoa(len(out)+1), Level: e.Level, Provider: e.Provider, Account: e.Account,
				Region: e.Region, Target: e.Target, Label: e.TargetLabel()}
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
		v := &exposureView{Exposure: e, Short: or(short[e.ID], e.ID), Hops: pathHops(e), Findings: findings[e]}
		if p := e.Probe; p != nil {
			for _, k := range slices.Sorted(maps.Keys(p.Evidence)) {
				v.ProbeEvidence = append(v.ProbeEvidence, kv{k, p.Evidence[k]})
			}
		}
		g.Exposures = append(g.Exposures, v)
		g.Findings += len(v.Findings)
		if e.HasFindings && (!g.HasFindings || e.MaxSeverity > g.MaxSeverity) {
			g.MaxSeverity, g.HasFindings = e.MaxSeverity, true
		}
	}
	return out
}

// pathHops draws the path of an exposure: the internet (its sources), each
// layer of the evidence in path order (route, ACL, listener, groups), then
// the target and the backend a forward sends to.
func pathHops(e *Exposure) []hop {
	hops := []hop{{Kind: "internet", Name: e.SourcesLabel, Class: "src"}}
	seen := map[string]bool{}
	for _, ev := range e.Evidence {
		h := hop{Kind: ev.LayerKind, Name: shortID(ev.Layer, ev.LayerName), Note: ev.Note, Deny: ev.Action == "deny"}
		if ev.Rule != "" && ev.Rule != h.Name {
			h.Rule = ev.Rule
			if orderedKinds[ev.LayerKind] {
				h.Rule = "rule #" + ev.Rule
			}
		}
		if ev.LayerKind != exposure.LayerRoute && len(ev.Sources) > 0 {
			h.Sources = strings.Join(ev.Sources, ", ")
			if len(ev.Sources) > 4 {
				h.Sources = strings.Join(ev.Sources[:4], ", ") + fmt.Sprintf(", … (%d ranges)", len(ev.Sources))
			}
		}
		key := h.Kind + "\x00" + h.Name + "\x00" + h.Rule + "\x00" + h.Note
		if seen[key] {
			continue
		}
		seen[key] = true
		hops = append(hops, h)
	}
	hops = append(hops, hop{Kind: e.Target.Kind, Name: e.TargetLabel(), Rule: e.Address, Class: "dst"})
	if b := e.Backend; b != nil {
		hops = append(hops, hop{Kind: "backend", Name: or(b.Name, shortID(b.ID, "")),
			Rule: protoPorts(b.Protocol, portRangeLabel(b.Protocol, b.FromPort, b.ToPort)), Note: b.ID, Class: "dst"})
	}
	return hops
}

// frameworkViews groups the controls by framework, names each framework
// and its benchmark version from the catalog, and turns evidence that
// names a finding or an exposure of the page into a link to it.
func frameworkViews(d *Document) []*frameworkView {
	findings := map[string]*Finding{}
	for _, f := range d.Findings {
		findings[f.ID] = f
	}
	exposures := map[string]bool{}
	for _, x := range d.Exposures {
		exposures[x.ID] = true
	}
	names := map[string]rules.Framework{}
	if c, err := rules.LoadCatalog(); err == nil {
		for _, fw := range c.Frameworks() {
			names[fw.ID] = fw
		}
	}
	var out []*frameworkView
	for _, fc := range complianceByFramework(d.Compliance) {
		fv := &frameworkView{ID: fc.Framework, Name: fc.Framework, Pass: fc.Pass, Fail: fc.Fail, NotApplicable: fc.NotApplicable}
		if fw, ok := names[fc.Framework]; ok {
			fv.Name, fv.Version = or(fw.Name, fw.ID), fw.Version
		}
		for _, c := range fc.Controls {
			cv := controlView{ID: c.ID, Title: c.Title, Status: c.Status}
			for _, ev := range c.Evidence {
				switch {
				case findings[ev] != nil:
					f := findings[ev]
					cv.Links = append(cv.Links, link{Href: "#f-" + ev, Text: prefix(ev, 8), Title: f.RuleID + " on " + f.Exposure.TargetLabel()})
				case exposures[ev]:
					cv.Links = append(cv.Links, link{Href: "#x-" + ev, Text: prefix(ev, 8), Title: "exposure " + ev})
				default:
					cv.Notes = append(cv.Notes, ev)
				}
			}
			fv.Controls = append(fv.Controls, cv)
		}
		out = append(out, fv)
	}
	return out
}

// maxWorst is how many of the worst findings the summary names.
const maxWorst = 6

// executiveSummary says in words what is exposed, the worst of it and what
// changed: what an auditor reads out to a client.
func executiveSummary(d *Document) execSummary {
	s := &d.Summary
	var x execSummary
	scope := []string{}
	if n := len(d.Scope.Accounts); n == 1 {
		scope = append(scope, "1 account, project or subscription")
	} else if n > 1 {
		scope = append(scope, fmt.Sprintf("%d accounts, projects or subscriptions", n))
	}
	if n := len(d.Scope.Providers); n > 0 {
		scope = append(scope, "on "+strings.Join(d.Scope.Providers, ", "))
	}
	where := strings.Join(scope, " ")
	if where != "" {
		where = " of " + where
	}
	if s.Exposures.Effective == 0 {
		x.Overview = fmt.Sprintf("This audit%s found nothing reachable from the internet", where)
	} else {
		x.Overview = fmt.Sprintf("This audit%s found %d %s reachable from the internet on %s",
			where, s.Exposures.Effective, pluralWord(s.Exposures.Effective, "opening"), plural(s.Exposures.Targets, "target"))
	}
	if s.Exposures.Latent > 0 {
		x.Overview += fmt.Sprintf(", and %d latent %s: rules that admit internet traffic that no path delivers today, which one route or address change would open",
			s.Exposures.Latent, pluralWord(s.Exposures.Latent, "exposure"))
	}
	x.Overview += "."
	if s.Findings.Active == 0 {
		x.Findings = "No rule of the catalog matched an exposure."
	} else {
		x.Findings = fmt.Sprintf("%s %s (%s)", plural(s.Findings.Active, "finding"), pluralVerb(s.Findings.Active, "needs", "need"),
			severityBreakdown(s.Findings.BySeverity))
		if s.Failing > 0 {
			x.Findings += fmt.Sprintf("; %d %s at or above %s, the level this audit fails on", s.Failing, pluralVerb(s.Failing, "is", "are"), s.FailOn)
		}
		if s.Findings.Suppressed > 0 {
			x.Findings += fmt.Sprintf("; %d more %s accepted by an exception", s.Findings.Suppressed, pluralVerb(s.Findings.Suppressed, "is", "are"))
		}
		x.Findings += "."
	}
	// The worst: the most severe effective findings, one per rule and
	// target, counting the addresses and ports they cover.
	byKey := map[string]*worstItem{}
	var worst []*worstItem
	for _, f := range d.Findings {
		if f.Suppressed || f.Severity < rules.High {
			continue
		}
		e := f.Exposure
		key := f.RuleID + "\x00" + e.Target.ID
		if w := byKey[key]; w != nil {
			w.Count++
			continue
		}
		where := e.TargetLabel()
		if e.Level == exposure.Effective {
			where += " (" + e.AddressLabel() + " " + portProtoLabel(e) + ")"
		} else {
			where += " (latent, " + portProtoLabel(e) + ")"
		}
		w := &worstItem{Severity: f.Severity, Title: or(f.Title, f.RuleID), Where: where, FindingID: f.ID, Count: 1, ExposureID: e.ID}
		byKey[key] = w
		worst = append(worst, w)
	}
	slices.SortStableFunc(worst, func(a, b *worstItem) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(b.Count, a.Count))
	})
	for i, w := range worst {
		if i == maxWorst {
			break
		}
		x.Worst = append(x.Worst, *w)
	}
	if c := d.Changes; c != nil {
		switch {
		case c.Initial:
			x.Changes = "This is the first recorded run of these scopes: it is the baseline later runs are compared with."
		default:
			x.Changes = "Since the last run"
			if c.Since != "" {
				x.Changes += " (" + c.Since + ")"
			}
			x.Changes += ": " + changeCountsLine(c.Counts) + "."
			if n := c.Counts.New + c.Counts.Widened + c.Counts.Reopened; n > 0 {
				x.Changes += fmt.Sprintf(" %d %s opened or widened: see Changes.", n, pluralVerb(n, "exposure was", "exposures were"))
			}
			if len(c.Skipped) > 0 {
				x.Changes += fmt.Sprintf(" %s could not be compared (collection failed or partial).", plural(len(c.Skipped), "scope"))
			}
		}
	}
	if s.Partial {
		x.Partial = fmt.Sprintf("Part of the scope could not be audited (%s): what is missing is not known to be closed.", plural(s.Errors, "error"))
	}
	return x
}

func pluralVerb(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// changesSection shapes the changes since the last run for the page.
func changesSection(d *Document, short map[string]string) *changesView {
	c := d.Changes
	if c == nil {
		return nil
	}
	line := changeCountsLine(c.Counts)
	v := &changesView{Changes: c, Line: strings.ToUpper(line[:1]) + line[1:]}
	for _, sc := range c.Skipped {
		v.Scope = append(v.Scope, strings.Join(nonEmpty(sc.Provider, sc.Account, sc.Region), " "))
	}
	for _, it := range c.Items {
		iv := changeItemView{ChangeItem: it, Where: strings.Join(nonEmpty(it.Key.Provider, it.Key.Account, it.Key.Region), " ")}
		iv.Ports = protoPorts(it.Key.Protocol, it.Ports)
		for _, id := range it.ExposureIDs {
			iv.Links = append(iv.Links, link{Href: "#x-" + id, Text: or(short[id], id), Title: "exposure " + id})
		}
		v.Items = append(v.Items, iv)
	}
	return v
}
