package reports

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// CSVOptions controls the CSV writer.
type CSVOptions struct {
	// Exposures writes one row per exposure instead of one per finding, so
	// that exposures no rule matched appear too.
	Exposures bool
}

// WriteCSV writes the report as CSV with the given options.
func WriteCSV(w io.Writer, r *Report, opts CSVOptions) error {
	if r == nil {
		return fmt.Errorf("write csv report: no report")
	}
	if err := writeCSV(w, NewDocument(r), opts); err != nil {
		return fmt.Errorf("write csv report: %w", err)
	}
	return nil
}

var findingCSVHeader = []string{
	"finding_id", "severity", "rule_id", "title", "level", "suppressed",
	"provider", "account", "region", "address", "protocol", "port", "from_port", "to_port",
	"backend_from_port", "backend_to_port", "backend_id", "sources_summary", "source_breadth", "sources",
	"target_kind", "target_id", "target_name", "target_owner", "evidence",
	"probe_state", "probe_port", "probe_service", "compliance", "remediation",
	"suppression_reason", "suppression_owner", "suppression_expires", "exposure_id",
	"matched_by", "exception_expired",
}

var exposureCSVHeader = []string{
	"exposure_id", "level", "max_severity", "rules",
	"provider", "account", "region", "address", "protocol", "from_port", "to_port",
	"backend_from_port", "backend_to_port", "backend_id", "sources_summary", "source_breadth", "sources",
	"target_kind", "target_id", "target_name", "target_owner", "evidence",
	"probe_state", "probe_port", "probe_service",
}

func writeCSV(out io.Writer, d *Document, opts CSVOptions) error {
	w := csv.NewWriter(out)
	write := func(cells []string) error {
		for i, c := range cells {
			cells[i] = csvCell(c)
		}
		return w.Write(cells)
	}
	if opts.Exposures {
		if err := write(append([]string(nil), exposureCSVHeader...)); err != nil {
			return err
		}
		rulesOf := map[*Exposure][]string{}
		for _, f := range d.Findings {
			if !f.Suppressed {
				rulesOf[f.Exposure] = append(rulesOf[f.Exposure], f.RuleID)
			}
		}
		for _, e := range d.Exposures {
			sev := ""
			if e.HasFindings {
				sev = e.MaxSeverity.String()
			}
			row := []string{e.ID, string(e.Level), sev, strings.Join(rulesOf[e], " "),
				e.Provider, e.Account, e.Region, e.Address, e.Protocol.String(), itoa(e.FromPort), itoa(e.ToPort)}
			row = append(row, exposureCSVCells(e, e.Probe)...)
			if err := write(row); err != nil {
				return err
			}
		}
	} else {
		if err := write(append([]string(nil), findingCSVHeader...)); err != nil {
			return err
		}
		for _, f := range d.Findings {
			e := f.Exposure
			var comp []string
			for _, c := range f.Compliance {
				comp = append(comp, c.Framework+" "+c.Control)
			}
			port := ""
			if f.Port != 0 {
				port = itoa(f.Port)
			}
			row := []string{f.ID, f.Severity.String(), f.RuleID, f.Title, string(f.Level), strconv.FormatBool(f.Suppressed),
				e.Provider, e.Account, e.Region, e.Address, e.Protocol.String(), port, itoa(e.FromPort), itoa(e.ToPort)}
			row = append(row, exposureCSVCells(e, f.ProbeView())...)
			row = append(row, strings.Join(comp, "; "), f.Remediation)
			if x := f.Suppression; x != nil {
				row = append(row, x.Reason, x.Owner, x.Expires)
			} else {
				row = append(row, "", "", "")
			}
			row = append(row, e.ID, f.MatchedBy)
			if x := f.ExpiredException; x != nil {
				row = append(row, x.Expires)
			} else {
				row = append(row, "")
			}
			if err := write(row); err != nil {
				return err
			}
		}
	}
	w.Flush()
	return w.Error()
}

// exposureCSVCells are the columns from backend_from_port to probe_service.
func exposureCSVCells(e *Exposure, probe *Probe) []string {
	var bFrom, bTo, bID string
	if b := e.Backend; b != nil {
		bFrom, bTo, bID = itoa(b.FromPort), itoa(b.ToPort), b.ID
	}
	var ev []string
	for _, x := range e.Evidence {
		s := x.LayerKind + " " + x.Layer
		if x.Rule != "" {
			s += " rule " + x.Rule
		}
		s += " " + x.Action
		if len(x.Sources) > 0 {
			s += " from " + strings.Join(x.Sources, " ")
		}
		ev = append(ev, s)
	}
	var pState, pPort, pService string
	if p := probe; p != nil {
		pState, pPort, pService = string(p.State), itoa(p.Port), p.Service
	}
	return []string{bFrom, bTo, bID, e.SourcesLabel, string(e.SourceBreadth), strings.Join(e.Sources, " "),
		e.Target.Kind, e.Target.ID, e.Target.Name, e.Target.Owner, strings.Join(ev, "; "),
		pState, pPort, pService}
}

func itoa(n int) string { return strconv.Itoa(n) }

// csvCell defuses spreadsheet formula injection: resource names and tags
// come from the cloud and anyone who can tag a resource chooses them. Per
// OWASP ("CSV Injection"), a cell that a spreadsheet would read as a formula
// (starting with = + - @, tab or carriage return) is prefixed with a single
// quote so that it is shown as text. Leading spaces are looked through, and
// the full-width forms of the trigger characters are included because some
// spreadsheet locales normalize them.
// https://owasp.org/www-community/attacks/CSV_Injection
func csvCell(s string) string {
	t := strings.TrimLeft(s, " ")
	if t == "" {
		return s
	}
	switch t[0] {
	case '=', '+', '-', '@', '\t', '\r', '\n':
		return "'" + s
	}
	for _, p := range []string{"＝", "＋", "－", "＠"} {
		if strings.HasPrefix(t, p) {
			return "'" + s
		}
	}
	return s
}
