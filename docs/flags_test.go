package docs

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

var updateFlags = flag.Bool("update", false, "rewrite README.md's flag tables from the binaries (make docs)")

// flagTable matches one generated table of README.md, from its opening
// marker (naming the binary) to its closing one.
var flagTable = regexp.MustCompile(`(?s)(<!-- flags: (ensemble-[a-z]+) [^\n]*-->\n)(.*?)(<!-- /flags -->)`)

// TestREADMEFlagTables: every flag table in README.md is what the binary
// itself prints with --help-flags-markdown, so the README cannot drift
// from the flags (make docs rewrites them).
func TestREADMEFlagTables(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go toolchain not on PATH: %v", err)
	}
	readme := filepath.Join("..", "README.md")
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	tables := flagTable.FindAllSubmatch(b, -1)
	if len(tables) != 4 {
		t.Fatalf("README.md has %d generated flag tables, want 4 (sidecar, firstboot, selector, exporter)", len(tables))
	}
	// One go build for all the binaries: it compiles and links them in parallel.
	dir := t.TempDir()
	build := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, sm := range tables {
		build = append(build, "github.com/ensemble-jitsi/ensemble/cmd/"+string(sm[2]))
	}
	if out, err := exec.Command(goBin, build...).CombinedOutput(); err != nil {
		t.Fatalf("go %v: %v\n%s", build, err, out)
	}
	got := flagTable.ReplaceAllFunc(b, func(m []byte) []byte {
		sm := flagTable.FindSubmatch(m)
		name := string(sm[2])
		bin := filepath.Join(dir, name)
		cmd := exec.Command(bin, "--help-flags-markdown")
		// No ENSEMBLE_* variables: they would show as defaults.
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
		table, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s --help-flags-markdown: %v", name, err)
		}
		if len(table) < 100 {
			t.Fatalf("%s printed no table: %q", name, table)
		}
		return append(append(append([]byte{}, sm[1]...), table...), sm[4]...)
	})
	if *updateFlags {
		if err := os.WriteFile(readme, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if string(got) != string(b) {
		t.Errorf("README.md's flag tables differ from the binaries' flags: run make docs and review the diff")
	}
}
