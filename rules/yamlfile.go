package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// yamlFile is one YAML document being loaded: the strict decoding of its
// content and its node tree, kept to say on which line an entry sits.
type yamlFile struct {
	name string
	root *yaml.Node // the document's top-level mapping; nil when empty
}

// yamlLineError matches yaml.v3's "line N: message" error lines.
var yamlLineError = regexp.MustCompile(`^\s*(?:yaml: )?line (\d+): (.*)$`)

// decodeYAML decodes data strictly into v: unknown fields, duplicate keys
// and type mismatches are errors, each reported as "name:line: reason".
func decodeYAML(name string, data []byte, v any) (*yamlFile, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: file is empty", name)
		}
		return nil, yamlError(name, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(name, err)
	}
	f := &yamlFile{name: name}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		f.root = doc.Content[0]
	}
	return f, nil
}

// yamlError rewrites yaml.v3's errors as "name:line: reason" lines.
func yamlError(name string, err error) error {
	var te *yaml.TypeError
	lines := []string{err.Error()}
	if errors.As(err, &te) {
		lines = te.Errors
	}
	var out []error
	for _, l := range lines {
		l = strings.TrimPrefix(strings.TrimSpace(l), "yaml: ")
		if m := yamlLineError.FindStringSubmatch(l); m != nil {
			out = append(out, fmt.Errorf("%s:%s: %s", name, m[1], m[2]))
			continue
		}
		out = append(out, fmt.Errorf("%s: %s", name, l))
	}
	return errors.Join(out...)
}

// items returns the entries of the sequence under the top-level key.
func (f *yamlFile) items(key string) []*yaml.Node {
	if f == nil {
		return nil
	}
	n := mapValue(f.root, key)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

// mapValue returns the value node of key in mapping n, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// pos names a node's place in the file: "name:line".
func (f *yamlFile) pos(n *yaml.Node) string {
	if f == nil {
		return ""
	}
	if n == nil {
		return f.name
	}
	return f.name + ":" + strconv.Itoa(n.Line)
}

// itemPos returns the position of entry i of the sequence under key, or the
// file name when the entry cannot be found.
func (f *yamlFile) itemPos(key string, i int) string {
	items := f.items(key)
	if i < len(items) {
		return f.pos(items[i])
	}
	if f == nil {
		return ""
	}
	return f.name
}

// fieldPos returns the position of field key of entry i under list.
func (f *yamlFile) fieldPos(list string, i int, key string) string {
	items := f.items(list)
	if i < len(items) {
		if v := mapValue(items[i], key); v != nil {
			return f.pos(v)
		}
		return f.pos(items[i])
	}
	if f == nil {
		return ""
	}
	return f.name
}
