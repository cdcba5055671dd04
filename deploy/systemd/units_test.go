// Package systemd holds only tests: they score the shipped units with systemd-analyze.
package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestUnitHardening runs `systemd-analyze security --offline=yes` on the sidecar unit and the
// selector role's unit template and checks the exposure score and the directives of the
// security review (L11). It does not boot the units: see docs/security.md.
func TestUnitHardening(t *testing.T) {
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze not found (Debian's systemd package): %v", err)
	}
	for _, tc := range []struct {
		src, name string
		max       float64
		want      []string
	}{
		{"ensemble-sidecar.service", "ensemble-sidecar.service", 1.2,
			[]string{"ProtectProc=invisible", "PrivateUsers=yes", "MemoryMax=", "TasksMax=", "SystemCallErrorNumber=EPERM"}},
		{"../../ansible/roles/selector/templates/ensemble-selector.service.j2", "ensemble-selector.service", 1.2,
			[]string{"ProtectProc=invisible", "ProcSubset=pid", "PrivateUsers=yes", "MemoryMax=", "TasksMax=", "SystemCallErrorNumber=EPERM"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := os.ReadFile(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			unit := strings.ReplaceAll(string(b), "{{ ansible_managed }}", "managed")
			for _, w := range tc.want {
				if !strings.Contains(unit, "\n"+w) {
					t.Errorf("%s lacks %s", tc.src, w)
				}
			}
			path := filepath.Join(t.TempDir(), tc.name)
			if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
				t.Fatal(err)
			}
			out, _ := exec.CommandContext(t.Context(), bin, "security", "--offline=yes", "--no-pager", path).CombinedOutput()
			m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
			if m == nil {
				t.Fatalf("no exposure level in:\n%s", out)
			}
			score, _ := strconv.ParseFloat(string(m[1]), 64)
			t.Logf("measured exposure=%v unit=%s", score, tc.name)
			if score > tc.max {
				t.Errorf("exposure %v above %v:\n%s", score, tc.max, out)
			}
		})
	}
}
