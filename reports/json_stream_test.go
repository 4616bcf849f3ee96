package reports

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestJSONStreamMatchesEncoder checks that the streaming JSON writer
// writes byte for byte what json.Encoder with a two-space indent writes
// for the same Document: the fixture, a document with changes (the
// omitempty field present), an empty report (empty and nil lists), and one
// whose cloud-provided strings need escaping.
func TestJSONStreamMatchesEncoder(t *testing.T) {
	withChanges := fixtureChanges(t)
	empty := NewDocument(&Report{})
	nilLists := &Document{SchemaVersion: SchemaVersion}
	escaped := NewDocument(fixtureReport())
	escaped.Tool.Name = `<script>&"x"</script>` + "\u2028"
	escaped.Errors = append(escaped.Errors, escaped.Errors...)
	for name, d := range map[string]*Document{
		"fixture":   NewDocument(fixtureReport()),
		"changes":   withChanges,
		"empty":     empty,
		"nil lists": nilLists,
		"escaped":   escaped,
	} {
		t.Run(name, func(t *testing.T) {
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetIndent("", "  ")
			if err := enc.Encode(d); err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := writeJSON(&got, d); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Errorf("streamed JSON differs from the encoder's:\n%s", firstDiff(got.Bytes(), want.Bytes()))
			}
		})
	}
}
