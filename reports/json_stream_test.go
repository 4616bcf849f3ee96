package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
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

// failingWriter accepts n bytes, then fails every write.
type failingWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errDiskFull
	}
	w.n -= len(p)
	return len(p), nil
}

// TestJSONStreamReturnsWriteError checks that the first write error is
// returned, whether it comes while streaming (a document larger than the
// 64 KiB buffer) or at the final flush.
func TestJSONStreamReturnsWriteError(t *testing.T) {
	big := NewDocument(fixtureReport())
	for len(big.Errors) < 4096 {
		big.Errors = append(big.Errors, big.Errors...)
	}
	var full bytes.Buffer
	if err := writeJSON(&full, big); err != nil {
		t.Fatal(err)
	}
	if full.Len() <= 2*(64<<10) {
		t.Fatalf("document is %d bytes, want more than two buffers", full.Len())
	}
	for _, n := range []int{0, 100, 64 << 10, full.Len() - 1} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			if err := writeJSON(&failingWriter{n: n}, big); !errors.Is(err, errDiskFull) {
				t.Errorf("writeJSON after %d bytes = %v, want %v", n, err, errDiskFull)
			}
		})
	}
	if err := writeJSON(&failingWriter{n: full.Len()}, big); err != nil {
		t.Errorf("writeJSON with room for the whole document = %v, want nil", err)
	}
}
