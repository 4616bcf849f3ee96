package aws

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// errNotStreamable says that a document type is not one decodeStream
// handles; the caller decodes the whole file instead.
var errNotStreamable = errors.New("not a streamable document type")

// decodeStream decodes a snapshot document, {"Key": [item, …], …}, into v
// (a pointer to a struct whose fields are all untagged slices, the shape
// of every AWS list output) one list item at a time, so that a file of
// hundreds of megabytes is never held whole in memory: json.Decoder.Decode
// and json.Unmarshal both buffer the entire value they decode. Keys match
// fields as encoding/json matches them (exact name first, then case-
// insensitively); other keys are skipped.
//
// Any error, including data after the document, is returned as is: the
// caller decodes the file again with json.Unmarshal for the same result
// and the error message it has always given (with its line).
func decodeStream(r io.Reader, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return errNotStreamable
	}
	st := rv.Elem()
	t := st.Type()
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); !f.IsExported() || f.Tag != "" || f.Anonymous || f.Type.Kind() != reflect.Slice {
			return errNotStreamable
		}
	}
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("object key %v is not a string", tok)
		}
		field := fieldFor(st, key)
		if !field.IsValid() {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
			continue
		}
		if err := decodeList(dec, field); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the document")
	}
	return nil
}

// fieldFor finds the field a key decodes into, as encoding/json does.
func fieldFor(st reflect.Value, key string) reflect.Value {
	if f := st.FieldByName(key); f.IsValid() {
		return f
	}
	t := st.Type()
	for i := 0; i < t.NumField(); i++ {
		if strings.EqualFold(t.Field(i).Name, key) {
			return st.Field(i)
		}
	}
	return reflect.Value{}
}

// decodeList decodes a JSON array (or null) into a slice, item by item.
// Like json.Unmarshal, a key given twice keeps the last list.
func decodeList(dec *json.Decoder, field reflect.Value) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		field.SetZero()
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("want a list, got %v", tok)
	}
	list := reflect.MakeSlice(field.Type(), 0, 16)
	elem := field.Type().Elem()
	for dec.More() {
		item := reflect.New(elem)
		if err := dec.Decode(item.Interface()); err != nil {
			return err
		}
		list = reflect.Append(list, item.Elem())
	}
	if _, err := dec.Token(); err != nil { // ]
		return err
	}
	field.Set(list)
	return nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("want %v, got %v", want, tok)
	}
	return nil
}
