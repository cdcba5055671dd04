package sidecar_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/internal/lab/jvbemu"
	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
	"github.com/ensemble-jitsi/ensemble/sidecar"
)

// sidecarRules is the Consul ACL policy a sidecar runs with in these tests: its own service,
// and reading nodes (the agent's service and check APIs need it).
const sidecarRules = `service "jitsi" { policy = "write" }
node_prefix "" { policy = "read" }`

// controlRequest is one case of testdata/control-requests.json.
type controlRequest struct {
	Name    string            `json:"name"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	Want    int               `json:"want"`
}

// send posts a control request; PORT, SELF, BIG and LONG are placeholders for the listener's
// port, its own origin, a 1 MiB body and an over-long reason.
func send(t *testing.T, base string, c controlRequest, token string) (int, string) {
	t.Helper()
	self := base
	port := base[strings.LastIndexByte(base, ':')+1:]
	path := strings.Replace(c.Path, "LONG", strings.Repeat("x", 201), 1)
	body := c.Body
	if body == "BIG" {
		body = strings.Repeat("x", 1<<20)
	}
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c.Headers {
		v = strings.ReplaceAll(strings.ReplaceAll(v, "PORT", port), "SELF", self)
		req.Header.Set(k, v)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", c.Name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, string(b)
}

func loadControlRequests(t *testing.T) []controlRequest {
	t.Helper()
	b, err := os.ReadFile("testdata/control-requests.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []controlRequest
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

// TestControlRefusesForeignRequests replays the drains of the security review (cross-site
// forms, foreign origins, DNS rebinding, non-JSON bodies, control characters) against a sidecar
// registered in a real Consul with ACLs on: each is refused with its status, and the node
// stays registered, passing and out of maintenance. A well-formed POST from the node itself
// then drains it, with its reason in Consul.
func TestControlRefusesForeignRequests(t *testing.T) {
	e := newEnv(t, testenv.ConsulOptions{ACLDefaultDeny: true}, jvbemu.Options{})
	o := e.options("node-ctl", &testenv.Buffer{})
	o.Consul.Token = testenv.ACLToken(t, e.client, "sidecar-node-ctl", sidecarRules)
	o.DrainJVBGracefulShutdown = true
	r, _ := e.startPassing(t, o)

	for _, c := range loadControlRequests(t) {
		t.Run(c.Name, func(t *testing.T) {
			code, body := send(t, r.ctl, c, "")
			if code != c.Want {
				t.Errorf("status %d, want %d: %s", code, c.Want, body)
			}
			if !strings.Contains(body, `"error"`) {
				t.Errorf("body %q is not a JSON error", body)
			}
		})
	}
	waitAgent(t, e.client, "node-ctl", true, false, 5*time.Second)
	if st := getDrain(t, r); st.State != sidecar.StateServing {
		t.Fatalf("after the refused requests the state is %q", st.State)
	}
	if e.emu.Stats().GracefulShutdown {
		t.Fatal("a refused request put the bridge into graceful shutdown")
	}

	// A meeting keeps the node draining (not deregistered) while the notes are read.
	e.emu.StartConference(1)
	code, body := send(t, r.ctl, controlRequest{Path: "/drain", Headers: map[string]string{
		"Content-Type": "application/json", "Origin": "SELF", "Sec-Fetch-Site": "same-origin"},
		Body: `{"reason":"rolling upgrade"}`}, "")
	if code != http.StatusAccepted || !strings.Contains(body, `"reason":"rolling upgrade"`) {
		t.Fatalf("POST /drain with a JSON reason = %d %s", code, body)
	}
	checks, err := e.client.Agent().Checks()
	if err != nil {
		t.Fatal(err)
	}
	if c := checks[api.ServiceMaintPrefix+"node-ctl"]; c == nil || !strings.HasSuffix(c.Notes, "rolling upgrade") {
		t.Errorf("maintenance check = %+v, want notes ending in the reason", c)
	}
}

// TestControlToken: with a token file, control POSTs need the bearer token; GET /drain does not.
func TestControlToken(t *testing.T) {
	e := newEnv(t, testenv.ConsulOptions{ACLDefaultDeny: true}, jvbemu.Options{})
	o := e.options("node-tok", &testenv.Buffer{})
	o.Consul.Token = testenv.ACLToken(t, e.client, "sidecar-node-tok", sidecarRules)
	const token = "0123456789abcdef-control-token"
	o.WebControlTokenFile = filepath.Join(t.TempDir(), "control-token")
	if err := os.WriteFile(o.WebControlTokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, _ := e.startPassing(t, o)
	json := map[string]string{"Content-Type": "application/json"}
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"none", "", http.StatusUnauthorized},
		{"wrong", "0123456789abcdef-control-tokeX", http.StatusUnauthorized},
		{"prefix", token[:len(token)-1], http.StatusUnauthorized},
		{"longer", token + "x", http.StatusUnauthorized},
	} {
		if code, body := send(t, r.ctl, controlRequest{Path: "/drain", Headers: json}, tc.token); code != tc.want {
			t.Errorf("token %s: status %d, want %d: %s", tc.name, code, tc.want, body)
		}
	}
	if code, _ := get(t, http.DefaultClient, r.ctl+"/drain"); code != http.StatusOK {
		t.Errorf("GET /drain = %d, want 200 without a token", code)
	}
	waitAgent(t, e.client, "node-tok", true, false, 5*time.Second)
	if code, body := send(t, r.ctl, controlRequest{Path: "/drain", Headers: json}, token); code != http.StatusAccepted {
		t.Fatalf("POST /drain with the token = %d %s", code, body)
	}
	waitAgent(t, e.client, "node-tok", false, false, 10*time.Second)
	if code, body := send(t, r.ctl, controlRequest{Path: "/undrain", Headers: json}, token); code != http.StatusOK {
		t.Fatalf("POST /undrain with the token = %d %s", code, body)
	}
}

// TestControlAddressNeedsToken: a control listener off loopback without a token is refused
// before anything starts.
func TestControlAddressNeedsToken(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:9106": true, "[::1]:9106": true, "localhost:9106": true,
		":9106": false, "0.0.0.0:9106": false, "10.1.2.3:9106": false, "[::]:9106": false, "meet.example.org:9106": false,
	} {
		o := sidecar.DefaultOptions()
		o.NodePublicURL = "https://meet.example.org"
		o.WebControlAddress = addr
		err := o.Validate()
		if (err == nil) != ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", addr, err, ok)
		}
	}
}

// TestUndrainRefusedAfterGracefulShutdown: once a drain put the bridge into graceful shutdown,
// POST /undrain answers 409 with the reason and the node stays in maintenance; /health answers
// 429 (a Consul warning: draining, so its meetings stay bound to it) while the bridge shuts down.
func TestUndrainRefusedAfterGracefulShutdown(t *testing.T) {
	e := newEnv(t, testenv.ConsulOptions{ACLDefaultDeny: true}, jvbemu.Options{})
	o := e.options("node-gs", &testenv.Buffer{})
	o.Consul.Token = testenv.ACLToken(t, e.client, "sidecar-node-gs", sidecarRules)
	o.DrainJVBGracefulShutdown = true
	r, _ := e.startPassing(t, o)
	e.emu.StartConference(2)
	if code, body := post(t, r.ctl+"/drain"); code != http.StatusAccepted || !strings.Contains(body, `"bridge_mode":"graceful-shutdown"`) {
		t.Fatalf("POST /drain = %d %s", code, body)
	}
	waitAgent(t, e.client, "node-gs", true, true, 5*time.Second)
	code, body := post(t, r.ctl+"/undrain")
	if code != http.StatusConflict || !strings.Contains(body, "graceful shutdown") || !strings.Contains(body, `"state":"draining"`) {
		t.Fatalf("POST /undrain after a graceful shutdown = %d %s, want 409 naming the reason", code, body)
	}
	waitAgent(t, e.client, "node-gs", true, true, 5*time.Second)
	code, body = get(t, http.DefaultClient, r.url+"/health")
	if code != http.StatusTooManyRequests || !strings.Contains(body, "jvb-shutdown") {
		t.Errorf("/health during the graceful shutdown = %d %s, want 429 naming jvb-shutdown", code, body)
	}
	testenv.WaitFor(t, 10*time.Second, func() error {
		checks, err := e.client.Agent().Checks()
		if err != nil {
			return err
		}
		if c := checks["service:node-gs"]; c == nil || c.Status != api.HealthWarning {
			return fmt.Errorf("check = %+v, want warning", c)
		}
		return nil
	})
}

// TestHealthFailsWhileBridgeShutsDown: a bridge shut down by someone else (no drain) fails
// /health, and undrain of a drain that used drain mode is refused once the bridge shuts down.
func TestHealthFailsWhileBridgeShutsDown(t *testing.T) {
	e := newEnv(t, testenv.ConsulOptions{ACLDefaultDeny: true}, jvbemu.Options{})
	o := e.options("node-sd", &testenv.Buffer{})
	o.Consul.Token = testenv.ACLToken(t, e.client, "sidecar-node-sd", sidecarRules)
	r, w := e.startPassing(t, o)
	e.emu.StartConference(1)
	if code, body := post(t, r.ctl+"/drain"); code != http.StatusAccepted {
		t.Fatalf("POST /drain = %d %s", code, body)
	}
	e.emu.Shutdown(true)
	if code, body := get(t, http.DefaultClient, r.url+"/health"); code != http.StatusTooManyRequests {
		t.Errorf("/health = %d %s, want 429", code, body)
	}
	if code, body := post(t, r.ctl+"/undrain"); code != http.StatusConflict {
		t.Errorf("POST /undrain with the bridge shutting down = %d %s, want 409", code, body)
	}
	w.until(t, "node-sd", false, time.Now(), 5*time.Second)
}

// TestClientsDoNotFollowRedirects: a bridge URL answering with a redirect fails the jvb probe;
// the redirect's target is never asked.
func TestClientsDoNotFollowRedirects(t *testing.T) {
	e := newEnv(t, testenv.ConsulOptions{}, jvbemu.Options{})
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		e.emu.ServeHTTP(w, r)
	}))
	t.Cleanup(target.Close)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.Path, http.StatusFound)
	}))
	t.Cleanup(redirect.Close)
	o := e.options("node-redirect", &testenv.Buffer{})
	o.CollectorJVBURL = redirect.URL
	r := start(t, o)
	code, body := get(t, http.DefaultClient, r.url+"/health")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "302") {
		t.Errorf("/health = %d %s, want 503 naming the 302", code, body)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the redirect target was asked %d times", n)
	}
}
