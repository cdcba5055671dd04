// Package e2e runs whole fleets (internal/lab/fleet) on loopback and checks, through
// the selectors' public API, what a user sees when parts of the fleet fail.
// Each scenario logs the time from fault to visible effect as
// "measured scenario=NAME seconds=S" (docs/benchmarks.md, "End to end").
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// binDir holds the binaries TestMain builds once for every scenario.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ensemble-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"./cmd/lab/ensemble-jvbemu", "./cmd/ensemble-sidecar", "./cmd/ensemble-selector")
	cmd.Dir = ".."
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building the binaries failed:", err)
		return 1
	}
	binDir = dir
	return m.Run()
}
