// Package selectorsite holds only tests: they render the selector role's nginx site and run it
// in a real nginx in front of a stand-in backend, so `go test ./...` covers the shipped site.
package selectorsite

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/services"
	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

const publicName = "selector.example.org"

// renderer renders a template from stdin with the variables of argv[1] (JSON), with Jinja2 as
// Ansible's template module configures it (trim_blocks on, undefined variables an error).
const renderer = `import json, sys, jinja2
env = jinja2.Environment(trim_blocks=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
sys.stdout.write(env.from_string(sys.stdin.read()).render(**json.loads(sys.argv[1])))`

// render fills the role's nginx site with vars (the role's defaults for what vars does not set)
// the way Ansible would: with Jinja2, which Ansible brings.
func render(t *testing.T, vars map[string]any) string {
	t.Helper()
	b, err := os.ReadFile("templates/selector-site.conf.j2")
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]any{"selector_lb_address": "", "selector_lb_port": 443, "selector_lb_sources": []string{},
		"selector_public_nodes_api": true}
	maps.Copy(all, vars)
	js, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("python3", "-c", renderer, string(js))
	cmd.Stdin = bytes.NewReader(b)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("render the site: %v\n%s", err, stderr.String())
	}
	return string(out)
}

// freePort returns a free loopback port.
func freePort(t *testing.T) int {
	t.Helper()
	p, err := services.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runSite renders the site with vars over the test's defaults and runs it in a real nginx with
// its public listeners on 127.0.0.1:p80 and :p443 and cert as its certificate.
func runSite(t *testing.T, vars map[string]any, p80, p443 int, cert testenv.Cert) *testenv.Nginx {
	t.Helper()
	all := map[string]any{"ansible_managed": "test", "selector_public_name": publicName,
		"selector_nginx_rate": "10r/s", "selector_nginx_burst": "40"}
	maps.Copy(all, vars)
	var kept []string
	for line := range strings.SplitSeq(render(t, all), "\n") {
		if strings.Contains(line, "listen [::]") {
			continue // the test machine may have no IPv6
		}
		line = strings.Replace(line, "listen 80", fmt.Sprintf("listen 127.0.0.1:%d", p80), 1)
		line = strings.Replace(line, "listen 443", fmt.Sprintf("listen 127.0.0.1:%d", p443), 1)
		line = strings.Replace(line, "/etc/nginx/tls/selector.crt", cert.CertFile, 1)
		line = strings.Replace(line, "/etc/nginx/tls/selector.key", cert.KeyFile, 1)
		kept = append(kept, line)
	}
	// Debian's nginx.conf sets these at the http level, around the site file: the site must
	// neither repeat them there (nginx -t fails) nor rely on them.
	debian := "ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;\nssl_prefer_server_ciphers on;\n"
	return testenv.StartNginx(t, testenv.NginxOptions{ExtraHTTPConf: debian + strings.Join(kept, "\n")})
}

type site struct {
	http, https string // 127.0.0.1:PORT
	backendHits atomic.Int64
	lastXFF     atomic.Value
	tlsConfig   *tls.Config
}

// startSite runs the rendered site on two free loopback ports (for 80 and 443) with a
// generated certificate, proxying to a stand-in selector.
func startSite(t *testing.T, publicNodes bool) *site {
	t.Helper()
	s := &site{}
	backend := http.NewServeMux()
	backend.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.backendHits.Add(1)
		s.lastXFF.Store(strings.Join(r.Header.Values("X-Forwarded-For"), "|"))
		fmt.Fprintf(w, "backend %s\n", r.URL.Path)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: backend, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })

	cert := testenv.SelfSigned(t, t.TempDir())
	p80, p443 := freePort(t), freePort(t)
	runSite(t, map[string]any{"selector_listen_address": l.Addr().String(), "selector_public_nodes_api": publicNodes}, p80, p443, cert)
	s.http, s.https = fmt.Sprintf("127.0.0.1:%d", p80), fmt.Sprintf("127.0.0.1:%d", p443)
	s.tlsConfig = &tls.Config{RootCAs: cert.Pool, ServerName: publicName}
	// The certificate names 127.0.0.1 and localhost; check the chain, not the name.
	s.tlsConfig.InsecureSkipVerify = true
	s.tlsConfig.VerifyConnection = func(cs tls.ConnectionState) error {
		_, err := cs.PeerCertificates[0].Verify(x509Opts(cert))
		return err
	}
	return s
}

func (s *site) client() *http.Client {
	return &http.Client{
		Timeout:       5 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: s.tlsConfig.Clone()},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (s *site) do(t *testing.T, method, url, host string, hdr map[string]string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := s.client().Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp, string(b), nil
}

// TestRedirectDoesNotReflectHost: the port-80 redirect names the configured host whatever the
// Host header says, and unknown hosts get no answer at all.
func TestRedirectDoesNotReflectHost(t *testing.T) {
	s := startSite(t, true)
	resp, _, err := s.do(t, http.MethodGet, "http://"+s.http+"/x?y=1", publicName, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("Location"); got != "https://"+publicName+"/x?y=1" {
		t.Errorf("Location = %q", got)
	}
	if got := resp.Header.Get("Server"); got != "nginx" {
		t.Errorf("Server = %q, want nginx without a version", got)
	}
	for _, host := range []string{"evil.example", "evil.example:80", ""} {
		resp, _, err := s.do(t, http.MethodGet, "http://"+s.http+"/x?y=1", host, nil)
		if err == nil {
			t.Errorf("Host %q: answered %s, Location %q; want the connection closed", host, resp.Status, resp.Header.Get("Location"))
		}
	}
	// An unknown SNI on 443 gets no certificate.
	conn, err := tls.Dial("tcp", s.https, &tls.Config{ServerName: "evil.example", InsecureSkipVerify: true})
	if err == nil {
		conn.Close()
		t.Error("TLS handshake with an unknown server name succeeded")
	}
}

// TestTLSProfile: TLS 1.2 without forward secrecy or with CBC (AES128-SHA, the review's probe)
// is refused; the intermediate suites and TLS 1.3 work; TLS 1.1 is refused.
func TestTLSProfile(t *testing.T) {
	s := startSite(t, true)
	for _, tc := range []struct {
		name     string
		min, max uint16
		suites   []uint16
		ok       bool
	}{
		{"AES128-SHA", tls.VersionTLS12, tls.VersionTLS12, []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA}, false},
		{"ECDHE-ECDSA-AES128-SHA", tls.VersionTLS12, tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}, false},
		{"ECDHE-ECDSA-AES128-GCM-SHA256", tls.VersionTLS12, tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, true},
		{"ECDHE-ECDSA-CHACHA20-POLY1305", tls.VersionTLS12, tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}, true},
		{"TLS 1.3", tls.VersionTLS13, tls.VersionTLS13, nil, true},
		{"TLS 1.1", tls.VersionTLS11, tls.VersionTLS11, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := s.tlsConfig.Clone()
			cfg.MinVersion, cfg.MaxVersion, cfg.CipherSuites = tc.min, tc.max, tc.suites
			conn, err := tls.Dial("tcp", s.https, cfg)
			if err == nil {
				conn.Close()
			}
			if (err == nil) != tc.ok {
				t.Errorf("handshake error %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// TestPublicPaths: /metrics and /api/v1/sd never reach the selector; /api/v1/nodes does unless
// the role turns it off; X-Forwarded-For is the peer's address, not what the client sent.
func TestPublicPaths(t *testing.T) {
	for _, publicNodes := range []bool{true, false} {
		t.Run(fmt.Sprintf("public_nodes=%v", publicNodes), func(t *testing.T) {
			s := startSite(t, publicNodes)
			want := map[string]int{"/metrics": 404, "/api/v1/sd": 404, "/api/v1/sd/": 404, "/api/v1/sdx": 404,
				"/standup": 200, "/api/v1/nodes": 200}
			if !publicNodes {
				want["/api/v1/nodes"] = 404
			}
			for path, code := range want {
				before := s.backendHits.Load()
				resp, body, err := s.do(t, http.MethodGet, "https://"+s.https+path, publicName, map[string]string{"X-Forwarded-For": "6.6.6.6"})
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != code {
					t.Errorf("%s = %d %q, want %d", path, resp.StatusCode, body, code)
				}
				if reached := s.backendHits.Load() > before; reached != (code == 200) {
					t.Errorf("%s reached the backend: %v", path, reached)
				}
			}
			if xff, _ := s.lastXFF.Load().(string); xff != "127.0.0.1" {
				t.Errorf("the backend saw X-Forwarded-For %q, want only the peer 127.0.0.1", xff)
			}
		})
	}
}

// TestLimitReq: a burst far above the per-address rate gets 429s from nginx itself.
func TestLimitReq(t *testing.T) {
	s := startSite(t, true)
	codes := map[int]int{}
	for i := range 200 {
		resp, _, err := s.do(t, http.MethodGet, fmt.Sprintf("https://%s/room-%d", s.https, i), publicName, nil)
		if err != nil {
			t.Fatal(err)
		}
		codes[resp.StatusCode]++
	}
	if codes[http.StatusTooManyRequests] == 0 || codes[http.StatusOK] < 40 {
		t.Errorf("answers %v: want the burst served, then 429s", codes)
	}
	if hits := s.backendHits.Load(); hits >= 200 {
		t.Errorf("the backend got %d of 200 requests", hits)
	}
}

func x509Opts(c testenv.Cert) x509.VerifyOptions { return x509.VerifyOptions{Roots: c.Pool} }
