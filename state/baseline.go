// Package state keeps the baseline of the last run, one per scope, and
// computes what changed since: new, widened, narrowed, unchanged, resolved,
// reopened and newly confirmed exposures. Baselines live behind one small
// Store interface with three backends (a local directory, S3, DynamoDB);
// docs/state.md states the identity, the guarantees and the rules.
package state

import (
	"cmp"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

// SchemaVersion is the version of the baseline encoding. A reader refuses
// a baseline of a later version instead of dropping what it does not know.
const SchemaVersion = 1

// DefaultRetention is how long a resolved entry stays in the baseline, so
// that its reappearance is "reopened" rather than "new".
const DefaultRetention = 30 * 24 * time.Hour

// Baseline is what the last run saw in one scope (see Partition).
type Baseline struct {
	SchemaVersion int            `json:"schemaVersion"`
	Scope         exposure.Scope `json:"scope"`
	RunID         string         `json:"runId,omitempty"`
	Updated       time.Time      `json:"updated,omitzero"`
	// Entries are sorted by Key (exposure.Key.Compare), one per Key.
	Entries []Entry `json:"entries"`
	// History holds the totals of the scope's last runs, oldest first (at
	// most MaxHistory), for the report's trend chart.
	History []Totals `json:"history,omitempty"`
}

// MaxHistory is how many runs a baseline's History keeps.
const MaxHistory = 60

// Totals are one run's counts of active exposure keys in a scope.
type Totals struct {
	RunID     string    `json:"runId,omitempty"`
	At        time.Time `json:"at"`
	Effective int       `json:"effective"`
	Latent    int       `json:"latent"`
	// BySeverity counts active keys with findings by their highest active
	// severity (rules.Severity's name).
	BySeverity map[string]int `json:"bySeverity,omitempty"`
}

// NewBaseline is the empty baseline of a scope: what Load returns when
// nothing is stored.
func NewBaseline(s exposure.Scope) *Baseline {
	return &Baseline{SchemaVersion: SchemaVersion, Scope: Partition(s), Entries: []Entry{}}
}

// Entry is one exposure Key as last seen, active or resolved.
type Entry struct {
	Key exposure.Key `json:"key"`
	// Ports is the port set last seen, merged (sorted, disjoint, not
	// adjacent).
	Ports []exposure.PortRange `json:"ports"`
	// Segments say which sources were admitted on which ports: the exact
	// set of (port, source) pairs, so that a rule opened from
	// 203.0.113.0/24 to 0.0.0.0/0 on the same port is "widened". Canonical:
	// sorted, disjoint port ranges, neighbours with different sources.
	Segments []Segment `json:"segments"`
	// Severity is the highest severity of the active (unsuppressed)
	// findings; meaningful only when Findings is not empty.
	Severity rules.Severity `json:"severity"`
	// Findings are the rule IDs of the active findings, sorted.
	Findings []string `json:"findings,omitempty"`
	// Suppressed is true when the exposure has findings and every one of
	// them is suppressed by an exception.
	Suppressed bool `json:"suppressed,omitempty"`
	// Confirmed is true when the last probe of the exposure saw it open.
	Confirmed bool `json:"confirmed,omitempty"`
	// ExposureIDs are the report IDs (exposure.ID) of the rows last seen.
	ExposureIDs []string `json:"exposureIds,omitempty"`
	// FindingIDs are the report IDs of the findings on those rows
	// (suppressed ones included), sorted: what the run exported (Security
	// Hub Ids derive from them), so that what a later run no longer has
	// can be retired there. Empty in entries written before they were
	// kept; after a partial run, the union with what was kept before.
	FindingIDs []string  `json:"findingIds,omitempty"`
	FirstSeen  time.Time `json:"firstSeen"`
	LastSeen   time.Time `json:"lastSeen"`
	// ResolvedAt is set while the exposure is gone; zero while active.
	ResolvedAt time.Time `json:"resolvedAt,omitzero"`
	Outbox     Outbox    `json:"outbox,omitzero"`
}

// Active reports whether the entry was seen in the last complete run.
func (e *Entry) Active() bool { return e.ResolvedAt.IsZero() }

// Outbox makes alerting at-least-once: a change is recorded as pending and
// the baseline saved before anything is sent, and marked sent (and saved)
// after. A crash in between repeats an alert; none is ever lost.
type Outbox struct {
	Pending  []Pending `json:"pending,omitempty"`
	Attempts int       `json:"attempts,omitempty"`
	// LastError is why the last attempt failed, with URLs cut to scheme
	// and host (see Failed): the state never holds a secret.
	LastError      string    `json:"lastError,omitempty"`
	FirstPendingAt time.Time `json:"firstPendingAt,omitzero"`
	LastAttempt    time.Time `json:"lastAttempt,omitzero"`
	SentAt         time.Time `json:"sentAt,omitzero"`
	// Delivered are the channels (Notifier names) that already delivered
	// the pending changes, so that a retry after a partial failure sends
	// only through the channels that failed.
	Delivered []string `json:"delivered,omitempty"`
}

// Pending is one change still to be announced.
type Pending struct {
	Kind  ChangeKind `json:"kind"`
	RunID string     `json:"runId,omitempty"`
	At    time.Time  `json:"at"`
	// Detail is what the change added, for the message ("ports 23",
	// "sources on 22"); empty when the kind says it all.
	Detail string `json:"detail,omitempty"`
}

// Add records a change as pending (once per kind and run).
func (o *Outbox) Add(kind ChangeKind, runID string, now time.Time) {
	for _, p := range o.Pending {
		if p.Kind == kind && p.RunID == runID {
			return
		}
	}
	if len(o.Pending) == 0 {
		o.FirstPendingAt = now
	}
	o.Pending = append(o.Pending, Pending{Kind: kind, RunID: runID, At: now})
}

// Sent marks every pending change delivered.
func (o *Outbox) Sent(now time.Time) {
	*o = Outbox{SentAt: now}
}

// Failed records a failed delivery; the changes stay pending for the next
// run. The reason is kept without secrets: every URL in it is cut to its
// scheme and host (a Slack webhook's path and an SMTP URL's password are
// secrets), and it is capped at 300 bytes.
func (o *Outbox) Failed(reason string, now time.Time) {
	o.Attempts++
	o.LastError = redact(reason)
	o.LastAttempt = now
}

// Expire drops the pending changes recorded before cutoff and returns them.
func (o *Outbox) Expire(cutoff time.Time) []Pending {
	var dropped []Pending
	kept := o.Pending[:0]
	for _, p := range o.Pending {
		if p.At.Before(cutoff) {
			dropped = append(dropped, p)
		} else {
			kept = append(kept, p)
		}
	}
	if len(kept) == 0 {
		sent := o.SentAt
		*o = Outbox{SentAt: sent}
		return dropped
	}
	o.Pending = kept
	o.FirstPendingAt = kept[0].At
	return dropped
}

var urlPattern = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>]+`)

func redact(s string) string {
	s = urlPattern.ReplaceAllStringFunc(s, func(u string) string {
		scheme, rest, _ := strings.Cut(u, "://")
		host := rest
		if i := strings.IndexAny(host, "/?#"); i >= 0 {
			host = host[:i]
		}
		if i := strings.LastIndexByte(host, '@'); i >= 0 {
			host = host[i+1:]
		}
		return scheme + "://" + host + "/[redacted]"
	})
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// Clone returns a deep copy of b, for an Update step that changes a
// baseline without modifying the one loaded (marking alerts sent). The
// segments' source prefix lists are shared: they are never modified in
// place.
func (b *Baseline) Clone() *Baseline {
	c := *b
	c.History = slices.Clone(b.History)
	c.Entries = make([]Entry, len(b.Entries))
	for i := range b.Entries {
		c.Entries[i] = cloneEntry(&b.Entries[i])
	}
	return &c
}

// Find returns the entry of k, or nil.
func (b *Baseline) Find(k exposure.Key) *Entry {
	i, ok := slices.BinarySearchFunc(b.Entries, k, func(e Entry, k exposure.Key) int { return e.Key.Compare(k) })
	if !ok {
		return nil
	}
	return &b.Entries[i]
}

// Pending returns the entries with changes still to be announced.
func (b *Baseline) Pending() []*Entry {
	var out []*Entry
	for i := range b.Entries {
		if len(b.Entries[i].Outbox.Pending) > 0 {
			out = append(out, &b.Entries[i])
		}
	}
	return out
}

// Expired is a pending change given up on.
type Expired struct {
	Key exposure.Key
	Pending
}

// ExpirePending drops the pending changes older than maxAge (the
// --notify-expire period) and returns them, for the run to report.
func (b *Baseline) ExpirePending(maxAge time.Duration, now time.Time) []Expired {
	var out []Expired
	cutoff := now.Add(-maxAge)
	for i := range b.Entries {
		e := &b.Entries[i]
		for _, p := range e.Outbox.Expire(cutoff) {
			out = append(out, Expired{Key: e.Key, Pending: p})
		}
	}
	return out
}

// Encode is the baseline's JSON encoding, as every backend stores it.
func (b *Baseline) Encode() ([]byte, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(b)
}

// Decode reads a baseline encoded by Encode and checks it.
func Decode(data []byte) (*Baseline, error) {
	var b Baseline
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("decode baseline: %w", err)
	}
	if b.SchemaVersion > SchemaVersion || b.SchemaVersion < 1 {
		return nil, fmt.Errorf("decode baseline: schema version %d, this release reads 1 to %d", b.SchemaVersion, SchemaVersion)
	}
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("decode baseline: %w", err)
	}
	if b.Entries == nil {
		b.Entries = []Entry{}
	}
	return &b, nil
}

// Validate checks what Diff and the stores rely on: a valid scope, entries
// of that scope sorted by Key without duplicates, canonical segments.
func (b *Baseline) Validate() error {
	if err := validScope(b.Scope); err != nil {
		return err
	}
	for i := range b.Entries {
		e := &b.Entries[i]
		if Partition(e.Key.Scope) != b.Scope {
			return fmt.Errorf("entry %s is not in scope %s", e.Key, ScopeString(b.Scope))
		}
		if i > 0 && b.Entries[i-1].Key.Compare(e.Key) >= 0 {
			return fmt.Errorf("entries not sorted by key or duplicated at %s", e.Key)
		}
		for j, s := range e.Segments {
			if s.Ports.From > s.Ports.To {
				return fmt.Errorf("entry %s: segment %d has reversed ports %d-%d", e.Key, j, s.Ports.From, s.Ports.To)
			}
			if j > 0 && e.Segments[j-1].Ports.To >= s.Ports.From {
				return fmt.Errorf("entry %s: segments not sorted and disjoint", e.Key)
			}
			for _, p := range s.Sources {
				if !p.IsValid() {
					return fmt.Errorf("entry %s: invalid source prefix", e.Key)
				}
			}
		}
	}
	return nil
}

// ScopeString renders a scope as provider/account[/region].
func ScopeString(s exposure.Scope) string {
	return strings.Join(scopeParts(s), "/")
}

func scopeParts(s exposure.Scope) []string {
	p := []string{s.Provider, s.Account}
	if s.Region != "" {
		p = append(p, s.Region)
	}
	return p
}

// Partition is the scope a baseline is kept for: the unit of collection.
// An AWS account is collected region by region, so each region has its
// baseline; a GCP project and an Azure subscription are collected whole,
// so their regions share one.
func Partition(s exposure.Scope) exposure.Scope {
	if s.Provider == exposure.ProviderAWS {
		return s
	}
	return exposure.Scope{Provider: s.Provider, Account: s.Account}
}

// component is what a provider, account or region may be made of: it ends
// up in file names and object keys, so nothing that could climb out of the
// state directory or prefix ("..", "/") gets through.
var component = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

func validScope(s exposure.Scope) error {
	// Only the model's providers: that keeps Scopes from reading another
	// tool's objects under a shared S3 prefix (runs/2026/report.json is not
	// provider/account/region).
	if !slices.Contains(exposure.Providers(), s.Provider) {
		return fmt.Errorf("invalid scope provider %q: want one of %s", s.Provider, strings.Join(exposure.Providers(), ", "))
	}
	if !component.MatchString(s.Account) {
		return fmt.Errorf("invalid scope account %q: want letters, digits, '.', '_' or '-'", s.Account)
	}
	if s.Region != "" && !component.MatchString(s.Region) {
		return fmt.Errorf("invalid scope region %q: want letters, digits, '.', '_' or '-'", s.Region)
	}
	if Partition(s) != s {
		return fmt.Errorf("scope %s is not a baseline scope: %s baselines are per account", ScopeString(s), s.Provider)
	}
	return nil
}

func compareScope(a, b exposure.Scope) int {
	return cmp.Or(strings.Compare(a.Provider, b.Provider), strings.Compare(a.Account, b.Account), strings.Compare(a.Region, b.Region))
}
