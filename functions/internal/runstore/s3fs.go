package runstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/portcullis-sec/portcullis/providers"
)

// Snapshot returns a run's snapshot as an fs.FS: the objects under
// runs/<run-id>/snapshot/ (listed once, each read from S3 when opened) plus
// an errors.json that merges every work item's partial failures (see
// Errors). The FS reads with ctx, which bounds every GetObject it makes.
func (s *Store) Snapshot(ctx context.Context, run string) (fs.FS, error) {
	errs, err := s.Errors(ctx, run)
	if err != nil {
		return nil, err
	}
	eb, err := json.MarshalIndent(errs, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode merged errors: %w", err)
	}
	return s.snapshot(ctx, run, map[string][]byte{providers.ErrorsFile: eb})
}

// SnapshotFiles is Snapshot without the merged errors: it reads nothing
// but the objects under runs/<run-id>/snapshot/. That is all the probe
// stage needs to plan its probes, and all its role may read.
func (s *Store) SnapshotFiles(ctx context.Context, run string) (fs.FS, error) {
	return s.snapshot(ctx, run, nil)
}

// snapshot lists a run's snapshot objects into an FS that also serves the
// local files from memory.
func (s *Store) snapshot(ctx context.Context, run string, local map[string][]byte) (fs.FS, error) {
	prefix := Key(run, snapshotDir) + "/"
	objs, err := s.list(ctx, prefix)
	if err != nil {
		return nil, err
	}
	f := &snapshotFS{ctx: ctx, store: s, prefix: prefix, files: map[string]int64{},
		dirs: map[string][]string{".": nil}, local: local}
	for _, o := range objs {
		name := strings.TrimPrefix(o.key, prefix)
		// Keys are written by PutSnapshot from valid snapshot paths; anything
		// else in the prefix (a console upload, "dir/" markers) is skipped,
		// and errors.json is only ever the merged one.
		if !fs.ValidPath(name) || name == "." || name == providers.ErrorsFile {
			continue
		}
		f.files[name] = o.size
	}
	for name, b := range local {
		f.files[name] = int64(len(b))
	}
	for name := range f.files {
		f.addToDirs(name)
	}
	for d := range f.dirs {
		slices.Sort(f.dirs[d])
		f.dirs[d] = slices.Compact(f.dirs[d])
	}
	return f, nil
}

// snapshotFS is a read-only tree built from one S3 listing.
type snapshotFS struct {
	ctx    context.Context
	store  *Store
	prefix string
	files  map[string]int64    // name → size
	dirs   map[string][]string // dir → child base names
	local  map[string][]byte   // files served from memory (the merged errors.json)
}

func (f *snapshotFS) addToDirs(name string) {
	for {
		dir, base := path.Split(name)
		dir = strings.TrimSuffix(dir, "/")
		if dir == "" {
			dir = "."
		}
		_, seen := f.dirs[dir]
		f.dirs[dir] = append(f.dirs[dir], base)
		if seen || dir == "." {
			return
		}
		name = dir
	}
}

func (f *snapshotFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if _, ok := f.dirs[name]; ok {
		return &dirFile{fsys: f, name: name}, nil
	}
	if _, ok := f.files[name]; !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &lazyFile{fsys: f, name: name}, nil
}

// ReadFile reads a file in one GetObject.
func (f *snapshotFS) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrInvalid}
	}
	if b, ok := f.local[name]; ok {
		return bytes.Clone(b), nil
	}
	if _, ok := f.files[name]; !ok {
		if _, dir := f.dirs[name]; dir {
			return nil, &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("is a directory")}
		}
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
	}
	b, err := f.store.Get(f.ctx, f.prefix+name)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return b, nil
}

// ReadDir lists a directory, sorted by name.
func (f *snapshotFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	children, ok := f.dirs[name]
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	out := make([]fs.DirEntry, 0, len(children))
	for _, c := range children {
		out = append(out, fs.FileInfoToDirEntry(f.info(path.Join(name, c))))
	}
	return out, nil
}

// Stat answers from the listing, without a request.
func (f *snapshotFS) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	_, file := f.files[name]
	_, dir := f.dirs[name]
	if !file && !dir {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return f.info(name), nil
}

func (f *snapshotFS) info(name string) fileInfo {
	if _, dir := f.dirs[name]; dir {
		return fileInfo{name: path.Base(name), dir: true}
	}
	return fileInfo{name: path.Base(name), size: f.files[name]}
}

type fileInfo struct {
	name string
	size int64
	dir  bool
}

func (i fileInfo) Name() string { return i.name }
func (i fileInfo) Size() int64  { return i.size }
func (i fileInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (i fileInfo) ModTime() time.Time { return time.Time{} }
func (i fileInfo) IsDir() bool        { return i.dir }
func (i fileInfo) Sys() any           { return nil }

// lazyFile fetches its object on the first Read.
type lazyFile struct {
	fsys *snapshotFS
	name string
	r    *bytes.Reader
}

func (l *lazyFile) Stat() (fs.FileInfo, error) { return l.fsys.info(l.name), nil }
func (l *lazyFile) Close() error               { return nil }
func (l *lazyFile) Read(p []byte) (int, error) {
	if l.r == nil {
		b, err := l.fsys.ReadFile(l.name)
		if err != nil {
			return 0, err
		}
		l.r = bytes.NewReader(b)
	}
	return l.r.Read(p)
}

type dirFile struct {
	fsys *snapshotFS
	name string
	pos  int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.fsys.info(d.name), nil }
func (d *dirFile) Close() error               { return nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: fmt.Errorf("is a directory")}
}

// ReadDir implements fs.ReadDirFile.
func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	all, err := d.fsys.ReadDir(d.name)
	if err != nil {
		return nil, err
	}
	rest := all[d.pos:]
	if n <= 0 {
		d.pos = len(all)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if n > len(rest) {
		n = len(rest)
	}
	d.pos += n
	return rest[:n], nil
}
