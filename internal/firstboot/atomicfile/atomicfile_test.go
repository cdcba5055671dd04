package atomicfile

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "node.hcl")
	f := File{Path: p, Data: []byte("a = 1\n"), Mode: 0o640, UID: -1, GID: -1}
	steps := []struct {
		name    string
		prepare func()
		file    File
		changed bool
	}{
		{"create", nil, f, true},
		{"same again", nil, f, false},
		{"new content", nil, File{Path: p, Data: []byte("a = 2\n"), Mode: 0o640, UID: -1, GID: -1}, true},
		{"mode drift", func() { _ = os.Chmod(p, 0o666) }, File{Path: p, Data: []byte("a = 2\n"), Mode: 0o640, UID: -1, GID: -1}, true},
		{"owner", nil, File{Path: p, Data: []byte("a = 2\n"), Mode: 0o640, UID: 0, GID: 4242}, os.Getuid() == 0},
		{"owner again", nil, File{Path: p, Data: []byte("a = 2\n"), Mode: 0o640, UID: 0, GID: 4242}, false},
	}
	for _, s := range steps {
		if s.name == "owner" || s.name == "owner again" {
			if os.Getuid() != 0 {
				continue // chown to another group needs root; CI runs as root
			}
		}
		if s.prepare != nil {
			s.prepare()
		}
		changed, err := Write(s.file)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if changed != s.changed {
			t.Errorf("%s: changed = %v, want %v", s.name, changed, s.changed)
		}
		b, _ := os.ReadFile(p)
		if string(b) != string(s.file.Data) {
			t.Errorf("%s: content %q", s.name, b)
		}
		st, _ := os.Stat(p)
		if st.Mode().Perm() != s.file.Mode {
			t.Errorf("%s: mode %v", s.name, st.Mode())
		}
		if s.file.GID >= 0 {
			if gid := st.Sys().(*syscall.Stat_t).Gid; int(gid) != s.file.GID {
				t.Errorf("%s: gid %d", s.name, gid)
			}
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestWriteMissingDir(t *testing.T) {
	_, err := Write(File{Path: filepath.Join(t.TempDir(), "no", "such"), Data: []byte("x"), Mode: 0o600, UID: -1, GID: -1})
	if err == nil {
		t.Fatal("want an error")
	}
}

// TestWriteNeverFollows: an output path that someone replaced with a symlink, a FIFO or a
// device is replaced by a regular file; what it pointed to keeps its content, mode and owner,
// and Write neither blocks nor reads without end.
func TestWriteNeverFollows(t *testing.T) {
	want := []byte("secret key\n")
	for _, tc := range []struct {
		name string
		// plant puts something at path and returns a check of what must stay untouched.
		plant func(t *testing.T, path string) func(t *testing.T)
	}{
		{"symlink to outside, other content", func(t *testing.T, path string) func(t *testing.T) {
			return outsideTarget(t, path, []byte("outside\n"))
		}},
		{"symlink to outside, same content", func(t *testing.T, path string) func(t *testing.T) {
			return outsideTarget(t, path, want)
		}},
		{"fifo", func(t *testing.T, path string) func(t *testing.T) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
			return func(*testing.T) {}
		}},
		{"symlink to /dev/zero", func(t *testing.T, path string) func(t *testing.T) {
			if err := os.Symlink("/dev/zero", path); err != nil {
				t.Fatal(err)
			}
			return func(t *testing.T) {
				if st, err := os.Stat("/dev/zero"); err != nil || st.Mode()&os.ModeCharDevice == 0 || st.Mode().Perm() != 0o666 {
					t.Errorf("/dev/zero changed: %v %v", st.Mode(), err)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "node.key")
			untouched := tc.plant(t, path)
			done := make(chan error, 1)
			go func() {
				_, err := Write(File{Path: path, Data: want, Mode: 0o640, UID: -1, GID: os.Getgid()})
				done <- err
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Write blocked") // the goroutine stays; the test binary ends anyway
			}
			st, err := os.Lstat(path)
			if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o640 {
				t.Fatalf("path after Write: %v, %v; want a regular file 0640", st, err)
			}
			if b, _ := os.ReadFile(path); !bytes.Equal(b, want) {
				t.Errorf("content %q", b)
			}
			untouched(t)
		})
	}
}

// outsideTarget makes path a symlink to a 0604 file in another directory holding content and
// returns a check that the file kept its content and mode.
func outsideTarget(t *testing.T, path string, content []byte) func(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(outside, content, 0o604); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, path); err != nil {
		t.Fatal(err)
	}
	return func(t *testing.T) {
		st, err := os.Stat(outside)
		if err != nil || st.Mode().Perm() != 0o604 {
			t.Errorf("outside file: %v, %v; want mode 0604 kept", st, err)
		}
		if b, _ := os.ReadFile(outside); !bytes.Equal(b, content) {
			t.Errorf("outside file content %q, want %q", b, content)
		}
	}
}
