package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/internal/lab/jvbemu"
	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
	"github.com/ensemble-jitsi/ensemble/sidecar"
)

func TestBadFlags(t *testing.T) {
	for _, line := range testenv.Lines(t, "testdata/bad-flags.txt") {
		argText, want, ok := strings.Cut(line, " | ")
		if !ok {
			t.Fatalf("bad test line %q", line)
		}
		args := strings.Fields(argText)
		t.Run(argText, func(t *testing.T) {
			var stderr testenv.Buffer
			start := time.Now()
			code := run(append(args, "--runtime.gomaxprocs=0"), io.Discard, &stderr)
			if code != 2 {
				t.Errorf("exit code %d, want 2; stderr:\n%s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("rejecting the flags took %v; nothing should have started", took)
			}
		})
	}
}

// TestSignals runs the command in this process: SIGTERM drains (maintenance, wait for the
// meeting), a second SIGTERM ends the wait, and the exit code is 0. With ACLs the token comes
// from CONSUL_HTTP_TOKEN_FILE, as the systemd unit passes it, and never shows in the logs.
func TestSignals(t *testing.T) {
	for _, acl := range []bool{false, true} {
		t.Run(fmt.Sprintf("acl=%v", acl), func(t *testing.T) { testSignals(t, acl) })
	}
}

func testSignals(t *testing.T, acl bool) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{ACLDefaultDeny: acl})
	client := consul.Client(t)
	nginx := testenv.StartNginx(t, testenv.NginxOptions{})
	emu := jvbemu.New(jvbemu.Options{})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	t.Setenv("CONSUL_HTTP_ADDR", consul.Addr)
	if acl {
		tokenFile := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(tokenFile, []byte(consul.Token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("CONSUL_HTTP_TOKEN_FILE", tokenFile)
	}

	var stderr testenv.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{
			"--web.listen-address=127.0.0.1:0", "--web.control-address=127.0.0.1:0", "--runtime.gomaxprocs=0",
			"--consul.service-id=node-cmd", "--consul.check-interval=1s", "--consul.check-timeout=500ms",
			"--consul.check-success-before-passing=1",
			"--node.public-url=https://node-cmd.example.org", "--node.address=127.0.0.1", "--node.region=test",
			"--collector.jvb.url=" + srv.URL, "--collector.nginx.scrape-uri=" + nginx.StubStatusURL,
			"--drain.poll-interval=100ms", "--log.level=debug",
		}, io.Discard, &stderr)
	}()
	exited := false
	t.Cleanup(func() {
		if !exited {
			_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
			_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
			<-done
		}
	})
	listening := regexp.MustCompile(`msg=listening address=(\S+)`)
	var addr string
	testenv.WaitFor(t, 10*time.Second, func() error {
		m := listening.FindStringSubmatch(stderr.String())
		if m == nil {
			return fmt.Errorf("no listening line yet:\n%s", stderr.String())
		}
		addr = m[1]
		return nil
	})
	passing := func(want bool) func() error {
		return func() error {
			entries, _, err := client.Health().Service("jitsi", "", true, nil)
			if err != nil {
				return err
			}
			if got := len(entries) == 1 && entries[0].Service.ID == "node-cmd"; got != want {
				return fmt.Errorf("node-cmd passing = %v, want %v", got, want)
			}
			return nil
		}
	}
	testenv.WaitFor(t, 10*time.Second, passing(true))

	// The exporter's collectors are wired in next to the sidecar's own metrics.
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"ensemble_jvb_up 1", "ensemble_nginx_up 1", "ensemble_sidecar_consul_registered 1"} {
		if !strings.Contains(body.String(), m) {
			t.Errorf("/metrics lacks %q", m)
		}
	}

	emu.StartConference(2)
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, passing(false))
	checks, err := client.Agent().Checks()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := checks["_service_maintenance:node-cmd"]; !ok {
		t.Errorf("no maintenance check after SIGTERM: %v", keys(checks))
	}
	select {
	case code := <-done:
		t.Fatalf("exited (%d) while a meeting was running", code)
	case <-time.After(300 * time.Millisecond):
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		exited = true
		if code != 0 {
			t.Errorf("exit code %d, want 0; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after the second SIGTERM")
	}
	svcs, err := client.Agent().Services()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := svcs["node-cmd"]; ok {
		t.Error("still registered after the drain")
	}
	if !strings.Contains(stderr.String(), "second signal") {
		t.Errorf("no log of the second signal:\n%s", stderr.String())
	}
	if acl && strings.Contains(stderr.String(), consul.Token) {
		t.Error("the ACL token appears in the logs")
	}
}

func keys(m map[string]*api.AgentCheck) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestSystemdUnit checks the unit with systemd-analyze and against the flag defaults.
func TestSystemdUnit(t *testing.T) {
	unitPath := filepath.Join("..", "..", "deploy", "systemd", "ensemble-sidecar.service")
	unit, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze not found (Debian package systemd): ", err)
	}
	// verify insists that ExecStart exists; any executable stands in for the installed binary.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	local := filepath.Join(dir, "ensemble-sidecar.service")
	if err := os.WriteFile(local, bytes.ReplaceAll(unit, []byte("/usr/local/bin/ensemble-sidecar"), []byte(self)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(analyze, "verify", local)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	settings := map[string][]string{}
	for line := range strings.SplitSeq(string(unit), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			settings[k] = append(settings[k], v)
		}
	}
	for k, want := range map[string]string{
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"Restart": "always", "KillMode": "mixed", "DynamicUser": "yes",
	} {
		if got := settings[k]; len(got) != 1 || got[0] != want {
			t.Errorf("%s = %v, want %s", k, got, want)
		}
	}
	if len(settings["RestrictAddressFamilies"]) == 0 {
		t.Error("RestrictAddressFamilies missing")
	}
	stop, err := time.ParseDuration(strings.ReplaceAll(strings.Join(settings["TimeoutStopSec"], ""), "min", "m"))
	if err != nil {
		t.Fatalf("TimeoutStopSec: %v", err)
	}
	if d := sidecar.DefaultOptions().DrainTimeout; stop <= d {
		t.Errorf("TimeoutStopSec %v does not outlast the default drain timeout %v", stop, d)
	}
}

// TestEnvExample checks that every variable in the example environment file is one the
// command reads.
func TestEnvExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "systemd", "ensemble-sidecar.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	o := sidecar.DefaultOptions()
	known := map[string]bool{"CONSUL_HTTP_ADDR": true, "CONSUL_HTTP_TOKEN_FILE": true, "CONSUL_HTTP_TOKEN": true}
	app, _ := newApp(&o, io.Discard, io.Discard)
	// Kingpin derives the variable names while parsing.
	if _, err := app.Parse([]string{"--node.public-url=https://meet.example.org"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range app.Model().Flags {
		known[f.Envar] = true
	}
	vars := regexp.MustCompile(`(?m)^#?([A-Z][A-Z0-9_]+)=`).FindAllStringSubmatch(string(b), -1)
	if len(vars) < 5 {
		t.Fatalf("only %d variables found", len(vars))
	}
	for _, v := range vars {
		if !known[v[1]] {
			t.Errorf("%s is not read by ensemble-sidecar", v[1])
		}
	}
}
