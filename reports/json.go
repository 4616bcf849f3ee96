package reports

import (
	"encoding/json"
	"io"
)

// writeJSON writes the report document, indented, as described by
// schema/report.schema.json.
func writeJSON(w io.Writer, d *Document) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Cloud-provided names may hold <, > and &; the default escaping keeps
	// the document safe to embed in HTML.
	return enc.Encode(d)
}
