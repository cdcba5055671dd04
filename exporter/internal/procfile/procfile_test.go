package procfile

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestReadGrowsAndReuses(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("cpu0 1 2 3 4 5 6 7 8 9 10\n"), 2000) // > the 8 KiB first buffer
	small := []byte("0.52 0.61 0.58 2/713 12345\n")
	for name, b := range map[string][]byte{"big": big, "small": small} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var r Reader
	var wg sync.WaitGroup
	for range 8 { // concurrent readers must never see each other's bytes
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, tt := range []struct {
				name string
				want []byte
			}{{"big", big}, {"small", small}, {"big", big}} {
				err := r.Read(filepath.Join(dir, tt.name), func(got []byte) error {
					if !bytes.Equal(got, tt.want) {
						t.Errorf("%s: read %d bytes, want %d", tt.name, len(got), len(tt.want))
					}
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if err := r.Read(filepath.Join(dir, "missing"), func([]byte) error { return nil }); !os.IsNotExist(err) {
		t.Errorf("missing file: err = %v", err)
	}
}
