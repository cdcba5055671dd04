package procfile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestReadGrowsAndSerialises(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("cpu0 1 2 3 4 5 6 7 8 9 10\n"), 2000) // > the 8 KiB first buffer
	small := []byte("0.52 0.61 0.58 2/713 12345\n")
	files := map[string][]byte{"big": big, "small": small}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	readers := map[string]*File{"big": NewFile(filepath.Join(dir, "big")), "small": NewFile(filepath.Join(dir, "small"))}
	var wg sync.WaitGroup
	for range 8 { // concurrent readers must never see each other's bytes
		wg.Go(func() {
			for _, name := range []string{"big", "small", "big"} {
				err := readers[name].Read(func(got []byte) error {
					if !bytes.Equal(got, files[name]) {
						t.Errorf("%s: read %d bytes, want %d", name, len(got), len(files[name]))
					}
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}

// A kept descriptor still sees new contents, and a file that comes and
// goes is opened again.
func TestReadRereadsAndReopens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loadavg")
	f := NewFile(path)
	read := func() (string, error) {
		var s string
		err := f.Read(func(b []byte) error { s = string(b); return nil })
		return s, err
	}
	if _, err := read(); !os.IsNotExist(err) {
		t.Fatalf("missing file: err = %v", err)
	}
	for _, want := range []string{"first contents\n", "second\n"} {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := read(); err != nil || got != want {
			t.Fatalf("read %q, %v; want %q", got, err, want)
		}
	}
}

// A proc file kept open regenerates on every read: /proc/self/io counts
// the bytes this process has read, so the second read shows more.
func TestReadProcRegenerates(t *testing.T) {
	f := NewFile("/proc/self/io")
	rchar := func() int {
		t.Helper()
		n := -1
		err := f.Read(func(b []byte) error {
			for line := range strings.Lines(string(b)) {
				if v, ok := strings.CutPrefix(line, "rchar: "); ok {
					var err error
					n, err = strconv.Atoi(strings.TrimSpace(v))
					return err
				}
			}
			return fmt.Errorf("no rchar in %q", b)
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	first := rchar()
	if second := rchar(); second <= first {
		t.Errorf("rchar %d then %d: the kept descriptor returned stale contents", first, second)
	}
}
