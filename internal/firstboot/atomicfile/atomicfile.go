// Package atomicfile replaces files so that a reader (or a crash) sees either the old or the
// new content, never a mix, and leaves files alone that already hold what is wanted.
package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// File is the wanted state of one file.
type File struct {
	Path string
	Data []byte
	Mode fs.FileMode
	// UID and GID own the file; -1 leaves the owner to the process (no chown).
	UID, GID int
}

// Write makes path hold f.Data with f.Mode and owner, and reports whether anything changed.
// New content goes to a temporary file in the same directory, which is synced and renamed
// over the old one, and the directory is synced; a file with the same content whose mode
// or owner differs is fixed in place.
func Write(f File) (changed bool, err error) {
	old, err := os.ReadFile(f.Path)
	switch {
	case err == nil && bytes.Equal(old, f.Data):
		return fixMeta(f)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return false, fmt.Errorf("reading %s: %w", f.Path, err)
	}
	dir := filepath.Dir(f.Path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.Path)+".tmp*")
	if err != nil {
		return false, fmt.Errorf("writing %s: %w", f.Path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	// Mode and owner are set before any byte of a secret is written.
	if err = tmp.Chmod(f.Mode); err != nil {
		return false, fmt.Errorf("writing %s: %w", f.Path, err)
	}
	if f.UID >= 0 || f.GID >= 0 {
		if err = tmp.Chown(f.UID, f.GID); err != nil {
			return false, fmt.Errorf("writing %s: %w", f.Path, err)
		}
	}
	if _, err = tmp.Write(f.Data); err != nil {
		return false, fmt.Errorf("writing %s: %w", f.Path, err)
	}
	if err = tmp.Sync(); err != nil {
		return false, fmt.Errorf("writing %s: %w", f.Path, err)
	}
	if err = tmp.Close(); err != nil {
		return false, fmt.Errorf("writing %s: %w", f.Path, err)
	}
	if err = os.Rename(tmp.Name(), f.Path); err != nil {
		return false, fmt.Errorf("writing %s: %w", f.Path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		// The rename is durable only once the directory is on disk.
		err = d.Sync()
		_ = d.Close()
		if err != nil {
			return true, fmt.Errorf("syncing %s: %w", dir, err)
		}
	}
	return true, nil
}

// fixMeta sets the mode and owner of an existing file with the right content.
func fixMeta(f File) (bool, error) {
	st, err := os.Stat(f.Path)
	if err != nil {
		return false, fmt.Errorf("checking %s: %w", f.Path, err)
	}
	changed := false
	if st.Mode().Perm() != f.Mode.Perm() || st.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != f.Mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) {
		if err := os.Chmod(f.Path, f.Mode); err != nil {
			return false, fmt.Errorf("chmod %s: %w", f.Path, err)
		}
		changed = true
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && (f.UID >= 0 && int(sys.Uid) != f.UID || f.GID >= 0 && int(sys.Gid) != f.GID) {
		if err := os.Chown(f.Path, f.UID, f.GID); err != nil {
			return false, fmt.Errorf("chown %s: %w", f.Path, err)
		}
		changed = true
	}
	return changed, nil
}
