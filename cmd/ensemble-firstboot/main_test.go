package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ensemble-jitsi/ensemble/internal/firstboot/status"
)

const userdataDir = "../../internal/firstboot/userdata/testdata"

// node is one node's file system under a temp dir; run points the command at it.
type node struct {
	dir string
}

func newNode(t *testing.T, userData string) *node {
	t.Helper()
	dir := t.TempDir()
	tmpl, _ := filepath.Abs("testdata/node.conf.tmpl")
	list, _ := json.Marshal([]map[string]string{{"template": tmpl, "dest": filepath.Join(dir, "etc/node.conf"), "mode": "0640", "group": "root"}})
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "outputs.json"), list, 0o644); err != nil {
		t.Fatal(err)
	}
	n := &node{dir: dir}
	n.setUserData(t, userData)
	return n
}

func (n *node) setUserData(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(n.dir, "user-data.txt"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (n *node) run(t *testing.T, extra ...string) (int, string) {
	t.Helper()
	args := append([]string{
		"--user-data.cloud-init-file=" + filepath.Join(n.dir, "user-data.txt"),
		"--outputs.file=" + filepath.Join(n.dir, "outputs.json"),
		"--tls.cert-file=" + filepath.Join(n.dir, "ssl/node.crt"),
		"--tls.key-file=" + filepath.Join(n.dir, "ssl/node.key"),
		"--tls.key-group=root",
		"--status.file=" + filepath.Join(n.dir, "run/firstboot.json"),
		"--acme.dir=" + filepath.Join(n.dir, "acme"),
	}, extra...)
	var stderr bytes.Buffer
	code := run(args, io.Discard, &stderr)
	return code, stderr.String()
}

func (n *node) status(t *testing.T) status.Status {
	t.Helper()
	s, err := status.Read(filepath.Join(n.dir, "run/firstboot.json"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestApply(t *testing.T) {
	n := newNode(t, userdataDir+"/good/provided.yaml")
	code, stderr := n.run(t)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	s := n.status(t)
	if !s.OK || s.PublicName != "meet-0003.example.org" || len(s.Changed) != 3 {
		t.Fatalf("status %+v", s)
	}
	conf, _ := os.ReadFile(filepath.Join(n.dir, "etc/node.conf"))
	want := "name = \"meet-0003.example.org\"\nagent_token = \"3f6a2a8e-5b1c-4d7e-9f10-2a3b4c5d6e7f\"\nsources = 172.16.0.10/32 172.16.0.11/32\n"
	if string(conf) != want {
		t.Fatalf("node.conf:\n%s\nwant:\n%s", conf, want)
	}
	for path, content := range map[string]string{"ssl/node.crt": "wildcard.pem", "ssl/node.key": "wildcard.key"} {
		got, _ := os.ReadFile(filepath.Join(n.dir, path))
		exp, _ := os.ReadFile(filepath.Join(userdataDir, "pki", content))
		if !bytes.Equal(got, exp) {
			t.Errorf("%s differs from %s", path, content)
		}
	}
	if st, _ := os.Stat(filepath.Join(n.dir, "ssl/node.key")); st.Mode().Perm() != 0o640 {
		t.Errorf("key mode %v", st.Mode())
	}

	// A reboot with the same user-data changes nothing.
	if code, stderr := n.run(t); code != 0 || len(n.status(t).Changed) != 0 {
		t.Fatalf("second run: exit %d, changed %v: %s", code, n.status(t).Changed, stderr)
	}

	// Broken user-data: exit 1, one error line naming the field, the verdict says why, and
	// the files of the previous boot stay as they were.
	n.setUserData(t, userdataDir+"/bad/no-agent-token.yaml")
	code, stderr = n.run(t)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	s = n.status(t)
	const reason = "user-data: ensemble.consul.agent_token is required"
	if s.OK || s.Error != reason {
		t.Fatalf("status %+v", s)
	}
	if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 || !strings.Contains(lines[0], reason) || !strings.Contains(lines[0], "level=ERROR") {
		t.Fatalf("want one error line naming the field, got:\n%s", stderr)
	}
	if conf2, _ := os.ReadFile(filepath.Join(n.dir, "etc/node.conf")); !bytes.Equal(conf, conf2) {
		t.Fatal("node.conf changed after a failed run")
	}
}

func TestApplyRotation(t *testing.T) {
	n := newNode(t, userdataDir+"/good/provided.yaml")
	if code, stderr := n.run(t); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, _ := os.ReadFile(userdataDir + "/good/provided.yaml")
	rotated := strings.Replace(string(b), "3f6a2a8e-5b1c-4d7e-9f10-2a3b4c5d6e7f", "0e1d2c3b-4a59-4687-9786-a5b4c3d2e1f0", 1)
	if err := os.WriteFile(filepath.Join(n.dir, "user-data.txt"), []byte(rotated), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, stderr := n.run(t); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	s := n.status(t)
	if len(s.Changed) != 1 || s.Changed[0] != filepath.Join(n.dir, "etc/node.conf") {
		t.Fatalf("changed %v, want only node.conf", s.Changed)
	}
	if conf, _ := os.ReadFile(filepath.Join(n.dir, "etc/node.conf")); !strings.Contains(string(conf), "0e1d2c3b-4a59-4687-9786-a5b4c3d2e1f0") {
		t.Fatalf("token not rotated:\n%s", conf)
	}
}

func TestApplyMissingUserData(t *testing.T) {
	n := newNode(t, userdataDir+"/good/provided.yaml")
	_ = os.Remove(filepath.Join(n.dir, "user-data.txt"))
	code, stderr := n.run(t)
	if s := n.status(t); code != 1 || s.OK || !strings.Contains(s.Error, "no user-data") || !strings.Contains(stderr, "no user-data") {
		t.Fatalf("exit %d, status %+v, stderr %s", code, s, stderr)
	}
}

func TestRenewProvided(t *testing.T) {
	n := newNode(t, userdataDir+"/good/provided.yaml")
	if code, stderr := n.run(t); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	code, stderr := n.run(t, "renew", "--acme.reload-command=false")
	if code != 0 || !strings.Contains(stderr, "nothing to renew") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--no-such-flag"},
		{"--user-data.source=ec2"},
		{"--acme.renew-before=-1h"},
		{"--outputs.file="},
		{"frobnicate"},
	} {
		var stderr bytes.Buffer
		if code := run(args, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "error") {
			t.Errorf("%v: exit %d, %s", args, code, stderr.String())
		}
	}
}

// TestSystemdUnits checks the units with systemd-analyze and the settings the boot order
// depends on.
func TestSystemdUnits(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze not found (Debian package systemd): ", err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var locals []string
	units := map[string][]byte{}
	for _, name := range []string{"ensemble-firstboot.service", "ensemble-acme-renew.service", "ensemble-acme-renew.timer"} {
		unit, err := os.ReadFile(filepath.Join("..", "..", "deploy", "systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		units[name] = unit
		// verify insists that ExecStart exists; any executable stands in for the binary.
		local := filepath.Join(dir, name)
		if err := os.WriteFile(local, bytes.ReplaceAll(unit, []byte("/usr/local/bin/ensemble-firstboot"), []byte(self)), 0o644); err != nil {
			t.Fatal(err)
		}
		locals = append(locals, local)
	}
	cmd := exec.Command(analyze, append([]string{"verify"}, locals...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	fb := settings(units["ensemble-firstboot.service"])
	for k, want := range map[string]string{
		"Type": "oneshot", "RemainAfterExit": "yes", "ProtectSystem": "true", "NoNewPrivileges": "yes",
		"After":  "cloud-init.service network-online.target",
		"Before": "consul.service nginx.service jitsi-videobridge2.service coturn.service ensemble-sidecar.service",
	} {
		if got := fb[k]; len(got) != 1 || got[0] != want {
			t.Errorf("ensemble-firstboot.service %s = %v, want %s", k, got, want)
		}
	}
	if !strings.Contains(strings.Join(fb["CapabilityBoundingSet"], " "), "CAP_CHOWN") {
		t.Error("ensemble-firstboot.service cannot chown")
	}
	if got := settings(units["ensemble-acme-renew.service"])["ExecStart"]; len(got) != 1 || !strings.HasSuffix(got[0], " renew") {
		t.Errorf("renew ExecStart = %v", got)
	}
	if got := settings(units["ensemble-acme-renew.timer"])["Persistent"]; len(got) != 1 || got[0] != "true" {
		t.Errorf("timer Persistent = %v", got)
	}
}

func settings(unit []byte) map[string][]string {
	m := map[string][]string{}
	for line := range strings.SplitSeq(string(unit), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			m[k] = append(m[k], v)
		}
	}
	return m
}

// TestApplyScaleway wires --user-data.source=scaleway to a local metadata server that, like
// Scaleway's, serves user-data only to privileged source ports.
func TestApplyScaleway(t *testing.T) {
	doc, err := os.ReadFile(userdataDir + "/good/provided.yaml")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, port, _ := net.SplitHostPort(r.RemoteAddr)
		if p, _ := strconv.Atoi(port); p >= 1024 || r.URL.Path != "/user_data/cloud-init" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		_, _ = w.Write(doc)
	}))
	defer srv.Close()
	n := newNode(t, userdataDir+"/bad/no-agent-token.yaml") // the copy on disk is not read
	code, stderr := n.run(t, "--user-data.source=scaleway", "--user-data.scaleway-url="+srv.URL)
	if s := n.status(t); code != 0 || !s.OK || s.Source != "scaleway metadata API" {
		t.Fatalf("exit %d, status %+v: %s", code, s, stderr)
	}
}
