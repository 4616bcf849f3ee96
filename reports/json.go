package reports

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// writeJSON writes the report document in the compact form of schema 2.0
// (schema/report.schema.json, docs/report-format.md): the top-level
// fields indented as json.Encoder would, every element of a list or
// table on a line of its own, and what exposures and findings share
// (rule text, targets, source sets, evidence) listed once in tables they
// reference by ID.
//
// It streams: each element is encoded and written on its own, so nothing
// holds every exposure's rendered form at once (the encoder would first
// marshal the whole document into one buffer). The tables are indexed in
// one pass over the document before writing (tables: pointers into the
// document and a few integers per exposure).
func writeJSON(w io.Writer, d *Document) error {
	t := newTables(d)
	jw := &jsonWriter{w: bufio.NewWriterSize(w, 64<<10)}
	jw.str("{")
	jw.value("schemaVersion", SchemaVersion)
	jw.value("tool", d.Tool)
	jw.value("generatedAt", d.GeneratedAt)
	jw.value("scope", d.Scope)
	jw.value("partial", d.Partial)
	jw.value("summary", d.Summary)
	jw.object("rules", len(t.rules), func(i int) (string, any) { return t.rules[i], t.ruleEntry(t.rules[i]) })
	jw.list("findings", len(d.Findings), func(i int) any { return t.findingV2(d.Findings[i]) })
	jw.object("targets", len(t.targets), func(i int) (string, any) { return targetRef(i), t.targets[i] })
	jw.object("sourceSets", len(t.sources), func(i int) (string, any) { return sourcesRef(i), nonNil(t.sources[i]) })
	jw.object("evidence", len(t.evidence), func(i int) (string, any) { return evidenceRef(i), t.evidence[i] })
	jw.list("exposures", len(d.Exposures), func(i int) any { return t.exposureV2(i, d.Exposures[i]) })
	jw.list("compliance", len(d.Compliance), func(i int) any { return d.Compliance[i] })
	jw.list("exceptions", len(d.Exceptions), func(i int) any { return d.Exceptions[i] })
	jw.list("misconfigurations", len(d.Misconfigurations), func(i int) any { return d.Misconfigurations[i] })
	jw.list("errors", len(d.Errors), func(i int) any { return d.Errors[i] })
	if d.Changes != nil {
		jw.value("changes", d.Changes)
	}
	jw.str("\n}\n")
	if jw.err != nil {
		return jw.err
	}
	return jw.w.Flush()
}

// jsonWriter latches the first error, of writing or of encoding: after it
// every write is skipped and writeJSON returns that error, so the many
// small writes need no check each.
type jsonWriter struct {
	w      *bufio.Writer
	err    error
	fields int
}

func (j *jsonWriter) str(s string) {
	if j.err == nil {
		_, j.err = j.w.WriteString(s)
	}
}

func (j *jsonWriter) bytes(b []byte) {
	if j.err == nil {
		_, j.err = j.w.Write(b)
	}
}

// key starts a top-level field.
func (j *jsonWriter) key(name string) {
	if j.fields > 0 {
		j.str(",")
	}
	j.fields++
	j.str("\n  ")
	j.quoted(name)
	j.str(": ")
}

func (j *jsonWriter) quoted(s string) {
	b, err := json.Marshal(s)
	if err != nil && j.err == nil {
		j.err = fmt.Errorf("encode %q: %w", s, err)
	}
	j.bytes(b)
}

// value writes a top-level field indented, as json.Encoder with a
// two-space indent would.
func (j *jsonWriter) value(name string, v any) {
	j.key(name)
	if j.err != nil {
		return
	}
	b, err := json.MarshalIndent(v, "  ", "  ")
	if err != nil {
		j.err = fmt.Errorf("encode %s: %w", name, err)
		return
	}
	j.bytes(b)
}

// element writes one element of a list or table on its own line.
func (j *jsonWriter) element(name string, i int, v any) {
	if j.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		j.err = fmt.Errorf("encode %s[%d]: %w", name, i, err)
		return
	}
	j.bytes(b)
}

// list writes a top-level array, one element a line.
func (j *jsonWriter) list(name string, n int, elem func(int) any) {
	j.key(name)
	if n == 0 {
		j.str("[]")
		return
	}
	j.str("[")
	for i := 0; i < n && j.err == nil; i++ {
		if i > 0 {
			j.str(",")
		}
		j.str("\n    ")
		j.element(name, i, elem(i))
	}
	j.str("\n  ]")
}

// object writes a top-level table, an object of one entry a line.
func (j *jsonWriter) object(name string, n int, entry func(int) (string, any)) {
	j.key(name)
	if n == 0 {
		j.str("{}")
		return
	}
	j.str("{")
	for i := 0; i < n && j.err == nil; i++ {
		if i > 0 {
			j.str(",")
		}
		k, v := entry(i)
		j.str("\n    ")
		j.quoted(k)
		j.str(": ")
		j.element(name, i, v)
	}
	j.str("\n  }")
}
