// Package atomicfile replaces files so that a reader (or a crash) sees either the old or the
// new content, never a mix, and leaves files alone that already hold what is wanted.
package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
// or owner differs is fixed in place, through the descriptor that read it.
//
// Write never follows a symlink at path and never opens anything but a regular file there:
// whoever can write the directory could otherwise point path at another file (which would
// get this file's mode and owner), a FIFO (open blocks forever) or a device (/dev/zero reads
// until memory runs out). Such an entry is replaced like a file with other content.
func Write(f File) (changed bool, err error) {
	same, err := sameRegular(f)
	if err != nil {
		return false, err
	}
	if same != nil {
		defer same.Close()
		return fixMeta(same, f)
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
	// rename(2) replaces a symlink, FIFO or device node itself, never what it points to.
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

// sameRegular returns path opened for reading when it is a regular file holding f.Data, and
// nil when it must be (re)written: missing, other content, or not a regular file.
// O_NOFOLLOW fails on a symlink and O_NONBLOCK keeps open from waiting on a FIFO that
// replaced the file between Lstat and open; Fstat then judges what was opened.
func sameRegular(f File) (*os.File, error) {
	st, err := os.Lstat(f.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("checking %s: %w", f.Path, err)
	case !st.Mode().IsRegular():
		return nil, nil
	}
	file, err := os.OpenFile(f.Path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ELOOP) {
			return nil, nil // replaced since Lstat; rewrite it
		}
		return nil, fmt.Errorf("reading %s: %w", f.Path, err)
	}
	st, err = file.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() != int64(len(f.Data)) {
		_ = file.Close()
		if err != nil {
			return nil, fmt.Errorf("checking %s: %w", f.Path, err)
		}
		return nil, nil
	}
	old, err := io.ReadAll(io.LimitReader(file, int64(len(f.Data))+1))
	if err != nil || !bytes.Equal(old, f.Data) {
		_ = file.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f.Path, err)
		}
		return nil, nil
	}
	return file, nil
}

// fixMeta sets the mode and owner of the open file, which holds the right content.
func fixMeta(file *os.File, f File) (bool, error) {
	st, err := file.Stat()
	if err != nil {
		return false, fmt.Errorf("checking %s: %w", f.Path, err)
	}
	changed := false
	if st.Mode().Perm() != f.Mode.Perm() || st.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != f.Mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) {
		if err := file.Chmod(f.Mode); err != nil {
			return false, fmt.Errorf("chmod %s: %w", f.Path, err)
		}
		changed = true
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && (f.UID >= 0 && int(sys.Uid) != f.UID || f.GID >= 0 && int(sys.Gid) != f.GID) {
		if err := file.Chown(f.UID, f.GID); err != nil {
			return false, fmt.Errorf("chown %s: %w", f.Path, err)
		}
		changed = true
	}
	return changed, nil
}
