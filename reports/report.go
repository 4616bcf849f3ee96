// Package reports turns the result of an audit into the formats people and
// tools read: a terminal table, a JSON document with a published schema,
// CSV, Markdown, a self-contained HTML page, SARIF, OCSF and AWS Security
// Finding Format.
//
// There is one report model (Report) and one writer per format, chosen
// through a single registry. Every writer renders the report's Document
// (document.go), the JSON report itself: NewDocument (view.go) decides
// ordering, probe matching and counts once, and the labels the human
// formats show (labels.go) are computed from Document fields alone. So the
// formats never disagree with each other, and a JSON report read back with
// Read renders every format exactly as the run that wrote it.
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
// meaning or disappears. 2.0 is the compact form (compact.go); Read also
// reads 1.x.
const SchemaVersion = "2.0"

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
	// Compliance is the state of each control of the selected framework(s),
	// as the rules engine decided it.
	Compliance []rules.ControlResult
	// Exceptions are suppressions that need attention (expired, stale).
	Exceptions []rules.ExceptionStatus
	// Misconfigurations are findings about configuration that is not an
	// exposure by itself (e.g. a default security group that allows traffic).
	Misconfigurations []rules.Misconfiguration
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
	// Units are the collection units the run covered (AWS account and
	// region, GCP project, Azure subscription), whether or not anything
	// was found in them; those that failed are named in the errors.
	Units []exposure.Scope `json:"units,omitempty"`
}

// A writer renders a Document in one format.
type writer func(w io.Writer, d *Document) error

// writers is the only dispatch from format name to writer. It is never
// modified after initialization.
var writers = map[string]writer{
	"table":    func(w io.Writer, d *Document) error { return writeTable(w, d, TableOptions{}) },
	"json":     writeJSON,
	"csv":      func(w io.Writer, d *Document) error { return writeCSV(w, d, CSVOptions{}) },
	"markdown": writeMarkdown,
	"html":     writeHTML,
	"sarif":    writeSARIF,
	"ocsf":     writeOCSF,
	"asff":     writeASFF,
}

// projectURL is where the tool is described, for the formats that name it.
const projectURL = "https://github.com/portcullis-sec/portcullis"

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
	var d *Document
	if r != nil {
		d = NewDocument(r)
	}
	return Render(w, format, d)
}

// Render renders a Document in the named format (see Formats): one built
// with NewDocument or read back with Read.
func Render(w io.Writer, format string, d *Document) error {
	fn, ok := writers[strings.ToLower(strings.TrimSpace(format))]
	if !ok {
		return fmt.Errorf("unknown report format %q (want one of %s)", format, strings.Join(Formats(), ", "))
	}
	if d == nil {
		return fmt.Errorf("write %s report: no report", format)
	}
	if err := fn(w, d); err != nil {
		return fmt.Errorf("write %s report: %w", format, err)
	}
	return nil
}
