package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/internal/atomicfile"
)

// Dir stores baselines as files DIR/<provider>/<account>[/<region>].json.
//
// Each file holds the baseline and a generation number, the Version. Save
// takes a lock file beside the baseline (created exclusively, so only one
// process holds it; see createLock), compares the stored generation with the one
// loaded, writes the next generation through internal/atomicfile (temporary
// file, fsync, rename, fsync of the directory) and releases the lock. A
// reader never takes the lock: it sees the previous file until the rename,
// and the rename happens only once the new file is durable.
//
// The lock is held for one Save, milliseconds. A lock left by a process
// that died (SIGKILL, power loss) is stale and broken by the next Save: when
// its process ID is no longer alive on this host, or when it is older than
// StaleLockAge (a lock from another host, as on a shared file system).
type Dir struct {
	root string
	// LockWait is how long Save waits for another process's lock before
	// returning ErrLocked.
	LockWait time.Duration
	// StaleLockAge is the age after which a lock is broken whatever its
	// process.
	StaleLockAge time.Duration
}

// NewDir opens (and creates, private to the user) a directory store.
func NewDir(root string) (*Dir, error) {
	if err := os.MkdirAll(root, 0o700); err != nil { //nolint:gosec // G703: root is the state directory the user chose; creating it is the point
		return nil, fmt.Errorf("open state directory %s: %w", root, err)
	}
	return &Dir{root: root, LockWait: 30 * time.Second, StaleLockAge: 2 * time.Minute}, nil
}

// dirFile is the content of one baseline file.
type dirFile struct {
	Generation uint64          `json:"generation"`
	Baseline   json.RawMessage `json:"baseline"`
}

func (d *Dir) path(s exposure.Scope) (string, error) {
	if err := validScope(s); err != nil {
		return "", err
	}
	parts := append([]string{d.root}, scopeParts(s)...)
	return filepath.Join(parts...) + ".json", nil
}

// Load implements Store.
func (d *Dir) Load(ctx context.Context, s exposure.Scope) (*Baseline, Version, error) {
	s = Partition(s)
	p, err := d.path(s)
	if err != nil {
		return nil, "", fmt.Errorf("load state: %w", err)
	}
	b, gen, err := readDirFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return NewBaseline(s), "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("load state %s: %w", p, err)
	}
	if b.Scope != s {
		return nil, "", fmt.Errorf("load state %s: holds scope %s", p, ScopeString(b.Scope))
	}
	return b, Version(strconv.FormatUint(gen, 10)), nil
}

func readDirFile(p string) (*Baseline, uint64, error) {
	data, err := os.ReadFile(p) //nolint:gosec // G304: p is under the state directory the user chose, and a scope validScope keeps to safe components
	if err != nil {
		return nil, 0, err
	}
	var f dirFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, 0, fmt.Errorf("decode state file: %w", err)
	}
	if f.Generation == 0 {
		return nil, 0, errors.New("decode state file: no generation")
	}
	b, err := Decode(f.Baseline)
	if err != nil {
		return nil, 0, err
	}
	return b, f.Generation, nil
}

// Save implements Store.
func (d *Dir) Save(ctx context.Context, b *Baseline, v Version) (Version, error) {
	data, err := checkSave(b)
	if err != nil {
		return "", err
	}
	p, err := d.path(b.Scope)
	if err != nil {
		return "", fmt.Errorf("save state: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil { //nolint:gosec // G703: p is under the state directory the user chose, and a scope validScope keeps to safe components
		return "", fmt.Errorf("save state %s: %w", p, err)
	}
	unlock, err := d.lock(ctx, p+".lock")
	if err != nil {
		return "", fmt.Errorf("save state %s: %w", p, err)
	}
	defer unlock()
	// Temporary files of this baseline can only be a dead writer's while
	// we hold the lock: clear them so crashes do not pile them up.
	if left, err := filepath.Glob(filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+".tmp-*")); err == nil {
		for _, f := range left {
			// Best effort: a file left behind only takes space, and the
			// next Save tries again.
			_ = os.Remove(f) //nolint:gosec // G703: f is a temporary file Glob found beside a baseline under the state directory the user chose, and a scope validScope keeps to safe components
		}
	}

	var stored uint64
	if _, gen, err := readDirFile(p); err == nil {
		stored = gen
	} else if !errors.Is(err, fs.ErrNotExist) {
		// An unreadable file is not overwritten: someone must look at it.
		return "", fmt.Errorf("save state %s: read the stored baseline: %w", p, err)
	}
	if want := string(v); (want == "" && stored != 0) || (want != "" && want != strconv.FormatUint(stored, 10)) {
		return "", fmt.Errorf("save state %s: loaded version %q, stored %d: %w", p, v, stored, ErrConflict)
	}
	next := stored + 1
	out, err := json.Marshal(dirFile{Generation: next, Baseline: data})
	if err != nil {
		return "", fmt.Errorf("save state %s: %w", p, err)
	}
	if err := atomicfile.WriteFile(p, out, 0o600); err != nil {
		return "", fmt.Errorf("save state: %w", err)
	}
	return Version(strconv.FormatUint(next, 10)), nil
}

// Scopes implements Store.
func (d *Dir) Scopes(ctx context.Context) ([]exposure.Scope, error) {
	var out []exposure.Scope
	err := filepath.WalkDir(d.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			return nil
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		if s, ok := parseScopeKey(filepath.ToSlash(strings.TrimSuffix(rel, ".json"))); ok {
			out = append(out, s)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list state directory %s: %w", d.root, err)
	}
	slices.SortFunc(out, compareScope)
	return out, nil
}

// lockInfo is what a lock file says about its holder.
type lockInfo struct {
	PID  int       `json:"pid"`
	Host string    `json:"host"`
	Time time.Time `json:"time"`
}

// lock takes the lock file at p, waiting up to LockWait, and returns its
// release.
func (d *Dir) lock(ctx context.Context, p string) (func(), error) {
	host, _ := os.Hostname()
	mine, err := json.Marshal(lockInfo{PID: os.Getpid(), Host: host, Time: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(d.LockWait)
	for {
		err := createLock(p, mine)
		if err == nil {
			return func() {
				// Release only our own lock: if it was broken as stale and
				// someone else holds it now, theirs stays.
				if cur, err := os.ReadFile(p); err == nil && bytes.Equal(cur, mine) { //nolint:gosec // G304: p is the lock beside a baseline under the state directory the user chose, and a scope validScope keeps to safe components
					// Nothing to return it to: a lock that stays names
					// this process and is broken as stale once it is gone.
					_ = os.Remove(p) //nolint:gosec // G703: p is the lock beside a baseline under the state directory the user chose, and a scope validScope keeps to safe components
				}
			}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create lock %s: %w", p, err)
		}
		if d.breakStale(p, host) {
			continue
		}
		if time.Now().After(deadline) {
			return nil, ErrLocked
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// createLock creates the lock file p holding content, failing with
// fs.ErrExist when it exists. The content is written to a file of its own
// first and hard-linked to p: link(2), like open(2) with O_CREAT|O_EXCL,
// fails if p exists, and unlike it never shows p empty, so a process killed
// while taking the lock leaves either no lock or one that names it (and is
// then broken as soon as its PID is gone). On a file system without hard
// links, O_CREATE|O_EXCL is used.
func createLock(p string, content []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".new-*")
	if err != nil {
		return fmt.Errorf("create lock %s: %w", p, err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(content)
	if err := errors.Join(werr, tmp.Close()); err != nil {
		return fmt.Errorf("write lock %s: %w", p, err)
	}
	err = os.Link(tmp.Name(), p)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600) //nolint:gosec // G304: p is the lock beside a baseline under the state directory the user chose, and a scope validScope keeps to safe components
	if err != nil {
		return err
	}
	_, werr = f.Write(content)
	if err := errors.Join(werr, f.Close()); err != nil {
		// A torn lock left behind would hold others off until it is stale.
		return fmt.Errorf("write lock %s: %w", p, errors.Join(err, os.Remove(p))) //nolint:gosec // G703: p is the lock beside a baseline under the state directory the user chose, and a scope validScope keeps to safe components
	}
	return nil
}

// breakStale removes the lock at p if its holder is gone, and reports
// whether it did. To not remove a lock that another process took in the
// meantime (two processes breaking the same stale lock), the lock is first
// renamed aside and checked again there; a lock found fresh after all is
// put back unless a new one already exists.
func (d *Dir) breakStale(p, host string) bool {
	if !d.stale(p, host) {
		return false
	}
	aside := fmt.Sprintf("%s.stale-%d-%d", p, os.Getpid(), time.Now().UnixNano())
	if err := os.Rename(p, aside); err != nil { //nolint:gosec // G703: p is the lock beside a baseline under the state directory the user chose, and a scope validScope keeps to safe components
		return errors.Is(err, fs.ErrNotExist) // gone already: try again
	}
	defer os.Remove(aside)
	if !d.stale(aside, host) {
		_ = os.Link(aside, p) // fails, rightly, if a new lock exists
		return false
	}
	return true
}

func (d *Dir) stale(p, host string) bool {
	fi, err := os.Stat(p) //nolint:gosec // G703: p is a lock beside a baseline under the state directory the user chose, and a scope validScope keeps to safe components
	if err != nil {
		return false
	}
	data, err := os.ReadFile(p) //nolint:gosec // G304: as above
	if err != nil {
		return false
	}
	var li lockInfo
	if json.Unmarshal(data, &li) != nil || li.PID <= 0 {
		// Empty or torn (only possible on the O_EXCL fallback): a process
		// died between creating and writing it, or is writing it now.
		// Judge by the file's age.
		return time.Since(fi.ModTime()) > d.StaleLockAge
	}
	if li.Host == host && !processAlive(li.PID) {
		return true
	}
	return time.Since(li.Time) > d.StaleLockAge
}
