// Package scripts holds the repository's shell scripts; its tests check the scripts that judge
// the code, so that a rule removed from one of them fails make test.
package scripts

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/ensemble-jitsi/ensemble"

// plant is a Go file added to the module through a go list overlay: it imports what its
// package must not link.
type plant struct {
	dir, file, pkg, imports string
	// want is the line check-imports.sh must print for this plant alone.
	want string
}

// TestCheckImportsCatchesEveryRule runs scripts/check-imports.sh on the tree as it is (it must
// pass) and with one forbidden import planted per rule (it must fail and name each). Each
// plant imports a package that links nothing else forbidden, so each message can only come
// from its own rule.
func TestCheckImportsCatchesEveryRule(t *testing.T) {
	plants := []plant{
		// A test file, since the sidecar rule counts test imports; selector/load, since the
		// selector itself gets a plant of its own that imports the sidecar (a cycle).
		{"sidecar", "planted_test.go", "sidecar", mod + "/selector/load", "check-imports: the sidecar links selector:"},
		{"selector", "planted.go", "selector", mod + "/sidecar", "check-imports: the selector links sidecar:"},
		{"cmd/ensemble-firstboot", "planted.go", "main", mod + "/exporter", "check-imports: ensemble-firstboot (runs as root at boot) links exporter:"},
	}
	for _, cmd := range []string{"ensemble-sidecar", "ensemble-selector", "ensemble-exporter", "ensemble-firstboot"} {
		plants = append(plants, plant{"cmd/" + cmd, "planted_lab.go", "main", mod + "/internal/lab",
			"check-imports: " + cmd + " (shipped) links internal/lab:"})
	}

	if out, err := checkImports(t, nil); err != nil {
		t.Fatalf("check-imports.sh fails on the tree as it is: %v\n%s", err, out)
	}
	out, err := checkImports(t, plants)
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 1 {
		t.Fatalf("check-imports.sh with forbidden imports planted: %v, want exit status 1\n%s", err, out)
	}
	for _, p := range plants {
		if !slices.Contains(listed(out, p.want), p.imports) {
			t.Errorf("check-imports.sh did not catch %s importing %s; output:\n%s", p.dir, p.imports, out)
		}
	}
}

// TestCheckImportsKeepsCmdShipped: a main that does not ship, put directly under cmd/, fails the
// check and is named; the same main under cmd/lab/ passes.
func TestCheckImportsKeepsCmdShipped(t *testing.T) {
	const header = "check-imports: mains directly under cmd/ that do not ship (move them to cmd/lab/ or cmd/tools/):"
	out, err := checkImports(t, []plant{{"cmd/ensemble-planted", "main.go", "main", "fmt", ""}})
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 1 || !slices.Contains(listed(out, header), mod+"/cmd/ensemble-planted") {
		t.Fatalf("check-imports.sh with a lab main under cmd/: %v, want exit status 1 naming it\n%s", err, out)
	}
	if out, err := checkImports(t, []plant{{"cmd/lab/ensemble-planted", "main.go", "main", "fmt", ""}}); err != nil {
		t.Fatalf("check-imports.sh with a lab main under cmd/lab/: %v\n%s", err, out)
	}
}

// TestCheckImportsFailsWhenGoListFails: a broken import must not hide the packages a rule checks.
func TestCheckImportsFailsWhenGoListFails(t *testing.T) {
	out, err := checkImports(t, []plant{{"sidecar", "planted.go", "sidecar", mod + "/nosuch", ""}})
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 1 || !strings.Contains(out, "check-imports: go list failed for the sidecar") {
		t.Fatalf("check-imports.sh with a broken import: %v, want exit status 1 and the go list failure\n%s", err, out)
	}
}

// listed returns the packages the script lists under header.
func listed(out, header string) []string {
	_, after, ok := strings.Cut(out, header+"\n")
	if !ok {
		return nil
	}
	var pkgs []string
	for line := range strings.SplitSeq(after, "\n") {
		pkg, ok := strings.CutPrefix(line, "  ")
		if !ok {
			break
		}
		pkgs = append(pkgs, pkg)
	}
	return pkgs
}

// checkImports runs the script with the plants added through a go list overlay and returns
// its output.
func checkImports(t *testing.T, plants []plant) (string, error) {
	t.Helper()
	cmd := exec.Command("./check-imports.sh")
	cmd.Env = os.Environ()
	if len(plants) > 0 {
		cmd.Env = append(cmd.Env, "GOFLAGS=-overlay="+writeOverlay(t, plants))
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// writeOverlay writes the plants and the overlay file naming them; it returns the file's path.
func writeOverlay(t *testing.T, plants []plant) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	overlay := map[string]map[string]string{"Replace": {}}
	for i, p := range plants {
		src := filepath.Join(dir, fmt.Sprintf("plant%d.go", i))
		code := fmt.Sprintf("package %s\n\nimport _ %q\n", p.pkg, p.imports)
		if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
		overlay["Replace"][filepath.Join(root, p.dir, p.file)] = src
	}
	b, err := json.Marshal(overlay)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}
