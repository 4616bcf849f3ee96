// Package reports turns the result of an audit into the formats people and
// tools read: a terminal table, a JSON document with a published schema,
// CSV, Markdown, a self-contained HTML page, SARIF, OCSF and AWS Security
// Finding Format.
//
// There is one report model (Report) and one writer per format, chosen
// through a single registry. Every writer renders the same normalized view
// of the report (see view.go): ordering, probe matching, counts and labels
// are decided once, so the formats never disagree with each other.
package reports

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

// SchemaVersion is the version of the JSON report format. The minor number
// grows when fields are added; the major number when a field changes
// meaning or disappears.
const SchemaVersion = "1.0"

// Report is everything one audit run produced.
type Report struct {
	Tool        Tool
	GeneratedAt time.Time
	Scope       Scope
	// Partial is set when part of the scope could not be audited (see Errors).
	Partial bool
	// Exposures are the effective and latent exposures.
	Exposures []*exposure.Exposure
	// Findings are catalog rules applied to exposures; Finding.Exposure
	// points into Exposures.
	Findings []rules.Finding
	// Observations are probe results, matched to effective exposures by
	// endpoint address, protocol and a port within the exposure's ports.
	Observations []exposure.Observation
	// Compliance is the state of each control of the selected framework(s).
	Compliance []Control
	// Exceptions are suppressions that need attention.
	Exceptions []ExceptionStatus
	// Misconfigurations are findings about configuration that is not an
	// exposure by itself (e.g. a default security group that allows traffic).
	Misconfigurations []Misconfiguration
	// Errors are the partial failures of the run.
	Errors []exposure.Error
	// FailOn is the severity at and above which findings fail the run
	// (the CLI's --fail-on); the summary counts them.
	FailOn rules.Severity
}

// Tool names the program that produced the report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Scope is what the run covered.
type Scope struct {
	Providers []string `json:"providers"`
	Accounts  []string `json:"accounts"`
	Regions   []string `json:"regions"`
	// Snapshot is the snapshot directory of an offline audit.
	Snapshot string `json:"snapshot,omitempty"`
	// Framework is the compliance framework the report was asked for.
	Framework string `json:"framework,omitempty"`
}

// ControlStatus is the outcome of one compliance control.
type ControlStatus string

const (
	ControlPass          ControlStatus = "pass"
	ControlFail          ControlStatus = "fail"
	ControlNotApplicable ControlStatus = "not-applicable"
)

// Control is the state of one control of a compliance framework.
type Control struct {
	Framework string        `json:"framework"`
	ID        string        `json:"id"`
	Title     string        `json:"title"`
	Status    ControlStatus `json:"status"`
	// Evidence holds finding IDs, exposure IDs or free text.
	Evidence []string `json:"evidence"`
}

// ExceptionKind says why an exception needs attention.
type ExceptionKind string

const (
	// ExceptionExpired: the exception's expiry date has passed, so the
	// findings it covered are reported again.
	ExceptionExpired ExceptionKind = "expired"
	// ExceptionStale: the exception matched nothing in this run.
	ExceptionStale ExceptionKind = "stale"
)

// ExceptionStatus is one suppression that needs attention.
type ExceptionStatus struct {
	Kind     ExceptionKind `json:"kind"`
	Rule     string        `json:"rule"`
	Resource string        `json:"resource"`
	Reason   string        `json:"reason"`
	Owner    string        `json:"owner,omitempty"`
	Expires  string        `json:"expires,omitempty"` // YYYY-MM-DD
	// Source is where the exception is written (file:line).
	Source string `json:"source,omitempty"`
}

// Misconfiguration is a configuration problem that is not an exposure by
// itself.
type Misconfiguration struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Resource string `json:"resource"`
	Detail   string `json:"detail"`
	exposure.Scope
	Severity    rules.Severity `json:"severity"`
	Remediation string         `json:"remediation,omitempty"`
}

// A writer renders the normalized view of a report in one format.
type writer func(w io.Writer, v *view) error

// writers is the only dispatch from format name to writer. It is never
// modified after initialization.
var writers = map[string]writer{
	"table":    func(w io.Writer, v *view) error { return writeTable(w, v, TableOptions{}) },
	"json":     writeJSON,
	"csv":      func(w io.Writer, v *view) error { return writeCSV(w, v, CSVOptions{}) },
	"markdown": writeMarkdown,
	"html":     writeHTML,
	"sarif":    writeSARIF,
	"ocsf":     writeOCSF,
	"asff":     writeASFF,
}

// Formats returns the names of the supported formats, sorted.
func Formats() []string {
	names := make([]string, 0, len(writers))
	for n := range writers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Write renders r in the named format (see Formats). "table" writes
// without colour at 120 columns; use WriteTable for a terminal.
func Write(w io.Writer, format string, r *Report) error {
	fn, ok := writers[strings.ToLower(strings.TrimSpace(format))]
	if !ok {
		return fmt.Errorf("unknown report format %q (want one of %s)", format, strings.Join(Formats(), ", "))
	}
	if r == nil {
		return fmt.Errorf("write %s report: no report", format)
	}
	if err := fn(w, newView(r)); err != nil {
		return fmt.Errorf("write %s report: %w", format, err)
	}
	return nil
}
