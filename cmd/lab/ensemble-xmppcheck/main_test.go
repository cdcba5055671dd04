package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
	"github.com/ensemble-jitsi/ensemble/internal/lab/xmppcheck"
)

// TestRun drives the command against Debian's prosody (directly, without nginx: the
// package's own test covers the nginx routes) and checks the exit codes and the JSON.
func TestRun(t *testing.T) {
	cfg, err := os.ReadFile(filepath.Join("..", "..", "..", "internal", "lab", "xmppcheck", "testdata", "prosody.cfg.lua"))
	if err != nil {
		t.Fatal(err)
	}
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Config: string(cfg)})
	secret := filepath.Join(t.TempDir(), "turn-secret")
	if err := os.WriteFile(secret, []byte("s3cret-turn\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ws := "--websocket-url=" + strings.Replace(p.URL, "http://", "ws://", 1) + "/xmpp-websocket"
	bosh := "--bosh-url=" + p.URL + "/http-bind"
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"round trip", []string{ws, bosh, "--expect-turn-host=meet-0003.example.org", "--turn-secret-file=" + secret, "--timeout=15s"}, 0},
		{"wrong host", []string{ws, bosh, "--expect-turn-host=other.example.org", "--timeout=15s"}, 1},
		{"no url", []string{"--domain=meet.jitsi"}, 2},
		{"missing secret file", []string{bosh, "--turn-secret-file=/nonexistent"}, 2},
		{"unknown flag", []string{"--nope"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, &stdout, &stderr)
			}
			if tc.code == 2 {
				return
			}
			var rep xmppcheck.Report
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || len(rep.Legs) != 2 || rep.OK != (tc.code == 0) {
				t.Fatalf("report %+v, %v\n%s", rep, err, &stdout)
			}
			if tc.code == 0 && !strings.Contains(stdout.String(), `"type": "turns"`) {
				t.Errorf("no turns service in %s", &stdout)
			}
		})
	}
}
