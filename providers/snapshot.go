package providers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"sync"
	"testing/fstest"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
)

// ErrorsFile is the file, at the root of a snapshot, that records the partial
// failures of the collection that wrote it.
const ErrorsFile = "errors.json"

// Snapshot is a set of raw API responses keyed by slash-separated path
// (e.g. "aws/123456789012/eu-west-1/describe-security-groups.json"), plus the
// partial failures met while collecting. It is safe for concurrent use.
type Snapshot struct {
	mu     sync.Mutex
	files  map[string][]byte
	errors []exposure.Error
}

// NewSnapshot returns an empty in-memory snapshot.
func NewSnapshot() *Snapshot { return &Snapshot{files: map[string][]byte{}} }

// Put stores data at name, replacing what was there.
func (s *Snapshot) Put(name string, data []byte) error {
	if !fs.ValidPath(name) || name == "." {
		return fmt.Errorf("snapshot: invalid path %q", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[name] = data
	return nil
}

// PutJSON stores v, indented, at name.
func (s *Snapshot) PutJSON(name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("snapshot: encode %s: %w", name, err)
	}
	return s.Put(name, append(b, '\n'))
}

// AddError records a partial failure.
func (s *Snapshot) AddError(e exposure.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errors = append(s.errors, e)
}

// Errors returns the partial failures recorded so far.
func (s *Snapshot) Errors() []exposure.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]exposure.Error(nil), s.errors...)
}

// Names returns the stored paths in lexical order.
func (s *Snapshot) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.files))
	for n := range s.files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// FS returns a read-only view of the snapshot's files as they are now.
func (s *Snapshot) FS() fs.FS {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(fstest.MapFS, len(s.files))
	for n, b := range s.files {
		m[n] = &fstest.MapFile{Data: b, Mode: 0o644, ModTime: time.Time{}}
	}
	return m
}

// WriteDir writes every file and the errors file under dir. Each file is
// written to a temporary name and renamed, so a reader never sees half a file.
func (s *Snapshot) WriteDir(dir string) error {
	s.mu.Lock()
	files := make(map[string][]byte, len(s.files)+1)
	for n, b := range s.files {
		files[n] = b
	}
	errs := append([]exposure.Error{}, s.errors...)
	s.mu.Unlock()
	b, err := json.MarshalIndent(errs, "", "  ")
	if err != nil {
		return err
	}
	files[ErrorsFile] = append(b, '\n')
	for n, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("write snapshot: %w", err)
		}
		tmp := p + ".tmp"
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			return fmt.Errorf("write snapshot: %w", err)
		}
		if err := os.Rename(tmp, p); err != nil {
			return fmt.Errorf("write snapshot: %w", err)
		}
	}
	return nil
}

// ReadErrors returns the partial failures recorded in a snapshot's errors
// file; a snapshot without one has none.
func ReadErrors(fsys fs.FS) ([]exposure.Error, error) {
	b, err := fs.ReadFile(fsys, ErrorsFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var errs []exposure.Error
	if err := json.Unmarshal(b, &errs); err != nil {
		return nil, fmt.Errorf("%s: %w", ErrorsFile, err)
	}
	return errs, nil
}

// Join joins snapshot path elements.
func Join(elem ...string) string { return path.Join(elem...) }
