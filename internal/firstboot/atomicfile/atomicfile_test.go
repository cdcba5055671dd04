package atomicfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
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
