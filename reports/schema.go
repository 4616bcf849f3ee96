package reports

import (
	_ "embed"
	"slices"
)

//go:embed schema/report.schema.json
var reportSchema []byte

// Schema returns the JSON Schema (draft 2020-12) of the JSON report.
func Schema() []byte { return slices.Clone(reportSchema) }
