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
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := streamObject(bw, reflect.ValueOf(d).Elem()); err != nil {
		return err
	}
	return bw.Flush()
}

// streamObject writes a struct as an indented JSON object at depth 1,
// its slice fields element by element.
func streamObject(w *bufio.Writer, v reflect.Value) error {
	t := v.Type()
	w.WriteByte('{')
	n := 0
	for i := 0; i < t.NumField(); i++ {
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
			w.WriteByte(',')
		}
		n++
		key, err := json.Marshal(name)
		if err != nil {
			return fmt.Errorf("encode field name %s: %w", name, err)
		}
		w.WriteString("\n  ")
		w.Write(key)
		w.WriteString(": ")
		if streamable(fv) {
			w.WriteByte('[')
			for j := 0; j < fv.Len(); j++ {
				b, err := json.MarshalIndent(fv.Index(j).Interface(), "    ", "  ")
				if err != nil {
					return fmt.Errorf("encode %s[%d]: %w", name, j, err)
				}
				if j > 0 {
					w.WriteByte(',')
				}
				w.WriteString("\n    ")
				if _, err := w.Write(b); err != nil {
					return err
				}
			}
			w.WriteString("\n  ]")
			continue
		}
		b, err := json.MarshalIndent(fv.Interface(), "  ", "  ")
		if err != nil {
			return fmt.Errorf("encode %s: %w", name, err)
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	if n > 0 {
		w.WriteByte('\n')
	}
	_, err := w.WriteString("}\n")
	return err
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
