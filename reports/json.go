package reports

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// writeJSON writes the report document, indented, as described by
// schema/report.schema.json.
//
// It writes exactly what json.Encoder with SetIndent("", "  ") writes for
// the Document, but one top-level field and one list element at a time:
// the encoder would first marshal the whole document into one buffer and
// then indent it into a second (hundreds of megabytes each for an estate
// of 100k interfaces). Fields are taken from the Document type itself, so
// a field added there is written without a change here.
func writeJSON(w io.Writer, d *Document) error {
	jw := &jsonWriter{w: bufio.NewWriterSize(w, 64<<10)}
	if err := streamObject(jw, reflect.ValueOf(d).Elem()); err != nil {
		return err
	}
	if jw.err != nil {
		return jw.err
	}
	return jw.w.Flush()
}

// jsonWriter latches the first write error: after it every write is
// skipped and writeJSON returns that error, so the many small writes of
// streamObject need no check each.
type jsonWriter struct {
	w   *bufio.Writer
	err error
}

func (j *jsonWriter) byte(c byte) {
	if j.err == nil {
		j.err = j.w.WriteByte(c)
	}
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

// streamObject writes a struct as an indented JSON object at depth 1,
// its slice fields element by element. It stops at the first write
// error (latched in w) or encoding error.
func streamObject(w *jsonWriter, v reflect.Value) error {
	t := v.Type()
	w.byte('{')
	n := 0
	for i := 0; i < t.NumField() && w.err == nil; i++ {
		sf := t.Field(i)
		name, omitEmpty, omitZero, ok := jsonField(sf)
		if !ok {
			continue
		}
		fv := v.Field(i)
		if (omitEmpty && isEmptyJSON(fv)) || (omitZero && fv.IsZero()) {
			continue
		}
		if n > 0 {
			w.byte(',')
		}
		n++
		key, err := json.Marshal(name)
		if err != nil {
			return fmt.Errorf("encode field name %s: %w", name, err)
		}
		w.str("\n  ")
		w.bytes(key)
		w.str(": ")
		if streamable(fv) {
			w.byte('[')
			for j := 0; j < fv.Len() && w.err == nil; j++ {
				b, err := json.MarshalIndent(fv.Index(j).Interface(), "    ", "  ")
				if err != nil {
					return fmt.Errorf("encode %s[%d]: %w", name, j, err)
				}
				if j > 0 {
					w.byte(',')
				}
				w.str("\n    ")
				w.bytes(b)
			}
			w.str("\n  ]")
			continue
		}
		b, err := json.MarshalIndent(fv.Interface(), "  ", "  ")
		if err != nil {
			return fmt.Errorf("encode %s: %w", name, err)
		}
		w.bytes(b)
	}
	if n > 0 {
		w.byte('\n')
	}
	w.str("}\n")
	return nil
}

var marshalerType = reflect.TypeFor[json.Marshaler]()

// streamable says whether a field is a list written element by element:
// a non-empty slice that encoding/json writes as an array of its elements
// (not []byte, which it writes as base64, nor a type with its own
// MarshalJSON).
func streamable(v reflect.Value) bool {
	return v.Kind() == reflect.Slice && v.Len() > 0 && v.Type().Elem().Kind() != reflect.Uint8 &&
		!v.Type().Implements(marshalerType) && !reflect.PointerTo(v.Type()).Implements(marshalerType)
}

// jsonField reads a field's json tag as encoding/json does for the
// Document's (exported, non-embedded) fields.
func jsonField(sf reflect.StructField) (name string, omitEmpty, omitZero, ok bool) {
	if !sf.IsExported() || sf.Anonymous {
		return "", false, false, false
	}
	tag := sf.Tag.Get("json")
	if tag == "-" {
		return "", false, false, false
	}
	name, opts, _ := strings.Cut(tag, ",")
	if name == "" {
		name = sf.Name
	}
	for _, o := range strings.Split(opts, ",") {
		switch o {
		case "omitempty":
			omitEmpty = true
		case "omitzero":
			omitZero = true
		}
	}
	return name, omitEmpty, omitZero, true
}

// isEmptyJSON is encoding/json's notion of empty for omitempty.
func isEmptyJSON(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}
