// Package atomicfile replaces a file so that a reader (or a crash) sees
// either the old content or the new one, never a mix or a truncated file.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write replaces path with what write produces: it writes to a temporary
// file in the same directory (a rename is atomic only within one file
// system), fsyncs it, renames it over path and fsyncs the directory, so
// that once Write returns the new content survives a power loss, and until
// the rename the old content stays in place. On any error the temporary
// file is removed and path is untouched.
//
// See rename(2) ("If newpath already exists, it will be atomically
// replaced") and fsync(2) ("Calling fsync() does not necessarily ensure that
// the entry in the directory containing the file has also reached disk. For
// that an explicit fsync() on a file descriptor for the directory is also
// needed.").
func Write(path string, perm os.FileMode, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			// The file may already be closed (a failed rename comes after
			// Close), so Close's error says nothing new; a temporary file
			// left behind is worth reporting.
			_ = tmp.Close()
			if rmErr := os.Remove(tmp.Name()); rmErr != nil {
				err = errors.Join(err, fmt.Errorf("remove temporary file %s: %w", tmp.Name(), rmErr))
			}
		}
	}()
	if err := write(tmp); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// CreateTemp makes the file 0600; give it the permissions asked for
	// (before the rename, so the file is never visible with the wrong ones).
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("set permissions of %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	return syncDir(dir)
}

// WriteFile is Write for content already in memory.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir) //nolint:gosec // G304: dir is the directory of the path the caller chose to write; opening it is the point
	if err != nil {
		return fmt.Errorf("open directory %s to sync it: %w", dir, err)
	}
	err = d.Sync()
	// Some file systems cannot fsync a directory (EINVAL); the rename is
	// done and there is nothing more to ask of them.
	if err != nil && !errors.Is(err, os.ErrInvalid) && !isEINVAL(err) {
		return errors.Join(fmt.Errorf("sync directory %s: %w", dir, err), d.Close())
	}
	return d.Close()
}
