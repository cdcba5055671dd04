package outputs

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad: any outputs.json either loads into entries that are safe to write (absolute,
// clean, distinct destinations, valid modes) or is refused; it never panics.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/bad/*.json")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`[{"template":"t","dest":"/etc/x","mode":"0640","owner":"root","group":"consul"}]`))
	f.Add([]byte(`[{"template":"/t","dest":"/etc/../x","mode":"4755"}]`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "outputs.json")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		list, err := Load(p)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, o := range list {
			if !filepath.IsAbs(o.Dest) || filepath.Clean(o.Dest) != o.Dest || seen[o.Dest] || !filepath.IsAbs(o.Template) {
				t.Fatalf("unsafe entry accepted: %+v", o)
			}
			seen[o.Dest] = true
			if _, err := parseMode(o.Mode); err != nil {
				t.Fatalf("bad mode accepted: %+v", o)
			}
		}
	})
}
