package status

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestVerdict(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "run", "firstboot.json")
	if err := Verdict(p); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing file: %v", err)
	}
	at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := Write(p, Status{OK: false, Error: "user-data: ensemble.consul.agent_token is required", Time: at}); err != nil {
		t.Fatal(err)
	}
	if err := Verdict(p); err == nil || err.Error() != "user-data: ensemble.consul.agent_token is required" {
		t.Fatalf("failed verdict: %v", err)
	}
	if err := Write(p, Status{OK: true, PublicName: "meet.example.org", Changed: []string{"/etc/x"}, Time: at}); err != nil {
		t.Fatal(err)
	}
	if err := Verdict(p); err != nil {
		t.Fatalf("ok verdict: %v", err)
	}
	s, err := Read(p)
	if err != nil || s.PublicName != "meet.example.org" || len(s.Changed) != 1 || !s.Time.Equal(at) {
		t.Fatalf("Read = %+v, %v", s, err)
	}
	for name, content := range map[string]string{
		"garbage":   "not json",
		"no reason": `{"ok":false}`,
		"too large": `{"ok":true,"error":"` + strings.Repeat("x", 70<<10) + `"}`,
	} {
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := Verdict(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
