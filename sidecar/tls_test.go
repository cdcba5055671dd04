package sidecar_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ensemble-jitsi/ensemble/internal/lab/jvbemu"
	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
	"github.com/ensemble-jitsi/ensemble/sidecar"
)

func TestTLSAndBasicAuth(t *testing.T) {
	e := newEnv(t, testenv.ConsulOptions{}, jvbemu.Options{})
	dir := t.TempDir()
	cert := testenv.SelfSigned(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := "tls_server_config:\n  cert_file: " + cert.CertFile + "\n  key_file: " + cert.KeyFile + "\nbasic_auth_users:\n  prom: " + string(hash) + "\n"
	cfgPath := filepath.Join(dir, "web.yml")
	pwPath := filepath.Join(dir, "password")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pwPath, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	o := e.options("node-tls", &testenv.Buffer{})
	o.WebConfigFile = cfgPath
	o.ConsulCheckTLSSkipVerify = true
	o.ConsulCheckBasicAuthUser = "prom"
	o.ConsulCheckBasicAuthPasswordFile = pwPath
	r := start(t, o)
	httpsURL := "https://" + strings.TrimPrefix(r.url, "http://")

	// The Consul check itself gets through TLS and basic auth.
	newPassingWatch(t, e.client, "jitsi").until(t, "node-tls", true, time.Now(), 10*time.Second)
	if got := checkOutput(t, e.client, "node-tls"); !strings.HasPrefix(got, "HTTP GET "+httpsURL+"/health: 200 OK") {
		t.Errorf("check output = %q, want a 200 from %s/health", got, httpsURL)
	}

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cert.Pool}}, Timeout: 5 * time.Second}
	for _, tc := range []struct {
		name     string
		user, pw string
		want     int
	}{
		{"no credentials", "", "", http.StatusUnauthorized},
		{"wrong password", "prom", "nope", http.StatusUnauthorized},
		{"right password", "prom", "s3cret", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/metrics", "/drain"} {
				req, _ := http.NewRequest(http.MethodGet, httpsURL+path, nil)
				if tc.user != "" {
					req.SetBasicAuth(tc.user, tc.pw)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tc.want {
					t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, tc.want)
				}
			}
		})
	}
	// POST /drain is not served here at all: authenticated, it is a 405 (the control listener
	// has it).
	req, _ := http.NewRequest(http.MethodPost, httpsURL+"/drain", nil)
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("prom", "s3cret")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("authenticated POST /drain on the metrics listener = %d, want 405", resp.StatusCode)
	}
	// Plain HTTP is not served.
	if code, _ := get(t, http.DefaultClient, r.url+"/metrics"); code != http.StatusBadRequest {
		t.Errorf("plain HTTP /metrics = %d, want 400", code)
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(bad, []byte("tls_server_config:\n  cert_file: missing.pem\n  key_file: missing.pem\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty, short := filepath.Join(dir, "empty"), filepath.Join(dir, "short")
	for path, content := range map[string]string{empty: "\n", short: "abc\n"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	base := sidecar.DefaultOptions()
	base.NodePublicURL = "https://node.example.org"
	base.WebListenAddress = []string{"127.0.0.1:0"}
	for _, tc := range []struct {
		name string
		edit func(*sidecar.Options)
		want string
	}{
		{"http public url", func(o *sidecar.Options) { o.NodePublicURL = "http://node.example.org" }, "scheme must be https"},
		{"public url with path", func(o *sidecar.Options) { o.NodePublicURL = "https://node.example.org/room" }, "a path is not allowed"},
		{"negative drain timeout", func(o *sidecar.Options) { o.DrainTimeout = -time.Second }, "drain.timeout must be positive"},
		{"timeout above interval", func(o *sidecar.Options) { o.ConsulCheckTimeout = time.Minute }, "must not exceed"},
		{"empty service id", func(o *sidecar.Options) { o.ConsulServiceID = "" }, "consul.service-id"},
		{"web config", func(o *sidecar.Options) { o.WebConfigFile = bad }, "web.config.file"},
		{"half basic auth", func(o *sidecar.Options) { o.ConsulCheckBasicAuthUser = "u" }, "go together"},
		{"missing control token", func(o *sidecar.Options) { o.WebControlTokenFile = filepath.Join(dir, "nope") }, "web.control-token-file"},
		{"empty control token", func(o *sidecar.Options) { o.WebControlTokenFile = empty }, "empty"},
		{"short control token", func(o *sidecar.Options) { o.WebControlTokenFile = short }, "shorter than 16"},
		{"open control address", func(o *sidecar.Options) { o.WebControlAddress = "0.0.0.0:0" }, "not a loopback address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.edit(&o)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := sidecar.Run(ctx, o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
