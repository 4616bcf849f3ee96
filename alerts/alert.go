// Package alerts composes and delivers the messages of the monitor: one
// message per account per run, over Slack, email or a dry run.
//
// Deciding what changed is the state package's work; alerts takes a
// render-ready Message (plain strings, already chosen and summarized) and
// only formats and sends it. Every string of an Item may come from a cloud
// API (names, tags, descriptions) and is escaped by each channel for its
// own output. An error from Notify means "not delivered": the caller keeps
// the alert pending and retries it on the next run.
package alerts

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

// Environment variables the CLI and the notify function read the channels'
// secrets from. Each holds the secret itself or a reference to it
// (ssm:/parameter-name, secretsmanager:secret-id; see internal/secret).
// alerts itself never reads the environment.
const (
	EnvSlackWebhookURL = "PORTCULLIS_SLACK_WEBHOOK_URL"
	EnvSMTPURL         = "PORTCULLIS_SMTP_URL" // smtp://user:pass@host:port or smtps://…
)

// Kind is what happened to an exposure since the last run.
type Kind string

const (
	KindNew       Kind = "new"
	KindWidened   Kind = "widened"   // more ports than before on the same exposure key
	KindReopened  Kind = "reopened"  // resolved before, exposed again
	KindConfirmed Kind = "confirmed" // newly confirmed by a probe
	KindResolved  Kind = "resolved"
)

// kindOrder orders the kinds within one severity: what is new first.
var kindOrder = map[Kind]int{KindNew: 0, KindReopened: 1, KindWidened: 2, KindConfirmed: 3, KindResolved: 4}

// FindingRef is one active finding on an exposure.
type FindingRef struct {
	RuleID   string
	Title    string
	Severity rules.Severity
}

// Item is one exposure to announce, with every field ready to print.
type Item struct {
	Kind     Kind
	Severity rules.Severity // highest active finding
	Level    exposure.Level
	Address  string // IP or DNS name; empty for latent exposures
	Protocol string // tcp, udp, icmp, all
	Ports    string // "22", "8000-8080", "22, 443"
	// BackendPorts is what the target listens on when a forward
	// translates ("8443"); empty otherwise.
	BackendPorts string
	NewPorts     string // for widened: the ports added since the last run
	Findings     []FindingRef
	Sources      string // "anyone", "203.0.113.0/24", "3 ranges"
	TargetName   string
	TargetID     string
	Path         string // one line: "igw-1 → rtb-1 → acl-1#100 → sg-web"
	Probe        string // "open ssh (OpenSSH_9.6)"; empty when not probed
	ExposureID   string
	Actor        string // optional: "opened by arn:… at 10:02"
}

// InitialSummary replaces per-exposure items on the first run over an
// empty state: the baseline is announced once, not one alert per exposure.
type InitialSummary struct {
	Exposures  int
	BySeverity map[rules.Severity]int
}

// Period marks a digest: the changes of a period rather than of one run.
type Period struct {
	Label    string // "daily", "weekly"
	From, To time.Time
}

// Message is what one notifier sends at once: one account's changes of
// one run (or one digest period).
type Message struct {
	RunID     string
	ReportURL string         // link to the run's report; empty for none
	Scope     exposure.Scope // the account; Region may be empty (one message per account)
	// Items are the new, widened, reopened and confirmed exposures. The
	// notifiers order them by severity, then kind, then address.
	Items []Item
	// Resolved are summarized in one line unless ListResolved is set
	// (--notify-resolved), when they are listed like Items.
	Resolved     []Item
	ListResolved bool
	Initial      *InitialSummary
	Digest       *Period
}

// Notifier delivers messages on one channel. An error means "not
// delivered": the caller keeps the alert pending and the next run retries.
type Notifier interface {
	Name() string // "slack", "email", "dry-run"
	Notify(ctx context.Context, m Message) error
}

// ordered returns the items sorted for display without touching m.
func ordered(items []Item) []Item {
	out := slices.Clone(items)
	slices.SortStableFunc(out, func(a, b Item) int {
		return cmp.Or(
			cmp.Compare(b.Severity, a.Severity),
			cmp.Compare(kindOrder[a.Kind], kindOrder[b.Kind]),
			compareAddress(a.Address, b.Address),
			cmp.Compare(a.Protocol, b.Protocol),
			cmp.Compare(a.Ports, b.Ports),
			cmp.Compare(a.TargetID, b.TargetID),
		)
	})
	return out
}

// compareAddress orders IP addresses numerically (IPv4 before IPv6),
// anything else (DNS names) after them, by text.
func compareAddress(a, b string) int {
	pa, errA := netip.ParseAddr(a)
	pb, errB := netip.ParseAddr(b)
	switch {
	case errA == nil && errB == nil:
		return pa.Compare(pb)
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return cmp.Compare(a, b)
}

// scopeName is "aws 111122223333" or "aws 111122223333 eu-west-1".
func scopeName(s exposure.Scope) string {
	return strings.Join(slices.DeleteFunc([]string{s.Provider, s.Account, s.Region}, func(x string) bool { return x == "" }), " ")
}

// severityCounts is "2 critical, 1 high": the non-zero counts, highest first.
func severityCounts(by map[rules.Severity]int) string {
	var parts []string
	for s := rules.Critical; s >= rules.Info; s-- {
		if n := by[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	return strings.Join(parts, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// Headline is the one-line summary of m, used as the Slack header and the
// email subject: "3 new exposures in aws 111122223333 (2 critical, 1 high)".
// It is built from the scope and counts only; the result is plain text
// that each channel still escapes.
func Headline(m Message) string {
	where := scopeName(m.Scope)
	prefix := ""
	if m.Digest != nil {
		label := m.Digest.Label
		if label == "" {
			label = "period"
		}
		prefix = strings.ToUpper(label[:1]) + label[1:] + " digest: "
	}
	if m.Initial != nil {
		s := fmt.Sprintf("%sBaseline established for %s: %s", prefix, where, plural(m.Initial.Exposures, "exposure", "exposures"))
		if c := severityCounts(m.Initial.BySeverity); c != "" {
			s += " (" + c + ")"
		}
		return s
	}
	if len(m.Items) == 0 {
		if len(m.Resolved) == 0 {
			return prefix + "No exposure changes in " + where
		}
		return fmt.Sprintf("%s%s resolved in %s", prefix, plural(len(m.Resolved), "exposure", "exposures"), where)
	}
	kinds := map[Kind]int{}
	sev := map[rules.Severity]int{}
	for _, it := range m.Items {
		kinds[it.Kind]++
		sev[it.Severity]++
	}
	var s string
	if len(kinds) == 1 {
		k := m.Items[0].Kind
		noun := "exposures"
		if len(m.Items) == 1 {
			noun = "exposure"
		}
		s = fmt.Sprintf("%s%d %s %s in %s", prefix, len(m.Items), k, noun, where)
		if k == KindConfirmed {
			s = fmt.Sprintf("%s%s confirmed by a probe in %s", prefix, plural(len(m.Items), "exposure", "exposures"), where)
		}
	} else {
		var parts []string
		for _, k := range []Kind{KindNew, KindReopened, KindWidened, KindConfirmed} {
			if kinds[k] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", kinds[k], k))
			}
		}
		s = fmt.Sprintf("%s%s in %s: %s", prefix, plural(len(m.Items), "exposure change", "exposure changes"), where, strings.Join(parts, ", "))
	}
	if c := severityCounts(sev); c != "" {
		s += " (" + c + ")"
	}
	if n := len(m.Resolved); n > 0 {
		s += fmt.Sprintf(", %d resolved", n)
	}
	return s
}

// endpoint is "203.0.113.10:22/tcp", "[2001:db8::1]:443/tcp", or for a
// latent exposure (no address) "22/tcp".
func endpoint(it Item) string {
	pp := it.Ports
	if it.Protocol != "" {
		if pp != "" {
			pp += "/" + it.Protocol
		} else {
			pp = it.Protocol
		}
	}
	switch {
	case it.Address == "":
		return pp
	case strings.Contains(it.Address, ":"): // IPv6
		return "[" + it.Address + "]:" + pp
	}
	return it.Address + ":" + pp
}

// target is "web-1 (i-0abc)", or whichever of the two is known.
func target(it Item) string {
	switch {
	case it.TargetName != "" && it.TargetID != "" && it.TargetName != it.TargetID:
		return it.TargetName + " (" + it.TargetID + ")"
	case it.TargetID != "":
		return it.TargetID
	}
	return it.TargetName
}

// findingLine is "SSH open to the internet (aws-sg-ssh, critical)" for
// each finding, joined with "; ".
func findingLine(it Item) string {
	var parts []string
	for _, f := range it.Findings {
		title := f.Title
		if title == "" {
			title = f.RuleID
		}
		meta := f.Severity.String()
		if f.RuleID != "" && f.RuleID != title {
			meta = f.RuleID + ", " + meta
		}
		parts = append(parts, title+" ("+meta+")")
	}
	return strings.Join(parts, "; ")
}

// clean makes a cloud-provided string safe to place in any of the
// outputs before their own escaping: invalid UTF-8 and control, format
// (bidirectional overrides, zero-width) and other invisible characters
// become U+FFFD, line breaks and tabs a space, and it is cut to max bytes
// (on a rune boundary, with "…").
func clean(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029':
			b.WriteRune('\uFFFD')
		default:
			b.WriteRune(r)
		}
	}
	return truncate(b.String(), limit)
}

// truncate cuts s to at most max bytes on a rune boundary, ending in "…".
func truncate(s string, limit int) string {
	if limit <= 0 || len(s) <= limit {
		return s
	}
	const ell = "…"
	cut := limit - len(ell)
	if cut < 0 {
		cut = 0
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ell
}

// Field lengths before escaping: a name is rarely longer than 128 (AWS
// Name tags take 256), a path summary can be long.
const (
	maxShort = 256
	maxLong  = 600
)

// cleanItem applies clean to every field of it.
func cleanItem(it Item) Item {
	it.Address = clean(it.Address, maxShort)
	it.Protocol = clean(it.Protocol, 16)
	it.Ports = clean(it.Ports, maxShort)
	it.BackendPorts = clean(it.BackendPorts, maxShort)
	it.NewPorts = clean(it.NewPorts, maxShort)
	it.Sources = clean(it.Sources, maxShort)
	it.TargetName = clean(it.TargetName, maxShort)
	it.TargetID = clean(it.TargetID, maxShort)
	it.Path = clean(it.Path, maxLong)
	it.Probe = clean(it.Probe, maxShort)
	it.ExposureID = clean(it.ExposureID, maxShort)
	it.Actor = clean(it.Actor, maxShort)
	fs := make([]FindingRef, len(it.Findings))
	for i, f := range it.Findings {
		fs[i] = FindingRef{RuleID: clean(f.RuleID, 128), Title: clean(f.Title, maxShort), Severity: f.Severity}
	}
	it.Findings = fs
	return it
}

// cleanMessage returns m with every string cleaned and the items ordered.
func cleanMessage(m Message) Message {
	m.RunID = clean(m.RunID, 128)
	m.ReportURL = clean(m.ReportURL, 2000)
	m.Scope = exposure.Scope{Provider: clean(m.Scope.Provider, 32), Account: clean(m.Scope.Account, 128), Region: clean(m.Scope.Region, 64)}
	items := ordered(m.Items)
	for i := range items {
		items[i] = cleanItem(items[i])
	}
	m.Items = items
	res := ordered(m.Resolved)
	for i := range res {
		res[i] = cleanItem(res[i])
	}
	m.Resolved = res
	if m.Digest != nil {
		d := *m.Digest
		d.Label = clean(d.Label, 32)
		m.Digest = &d
	}
	return m
}

// kindBadge is the label of an item's kind in messages.
func kindBadge(k Kind) string {
	if k == "" {
		return "CHANGED"
	}
	return strings.ToUpper(string(k))
}

// resolvedLine summarizes resolved items in one line: "Resolved (3):
// 203.0.113.10:22/tcp, …".
func resolvedLine(res []Item, limit int) string {
	var parts []string
	for i, it := range res {
		if i == limit {
			parts = append(parts, fmt.Sprintf("and %d more", len(res)-limit))
			break
		}
		s := endpoint(it)
		if t := target(it); t != "" {
			s += " on " + t
		}
		parts = append(parts, s)
	}
	return fmt.Sprintf("Resolved (%d): %s", len(res), strings.Join(parts, ", "))
}
