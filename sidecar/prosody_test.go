package sidecar_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/jvbemu"
	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
	"github.com/ensemble-jitsi/ensemble/sidecar"
)

// prosodyNode is the part of jitsi-meet-prosody's configuration the probe depends on: the
// internal domain with BOSH, as nginx's /http-bind reaches it.
const prosodyNode = `modules_enabled = { "saslauth", "disco", "ping", "bosh", "websocket" }
consider_bosh_secure = true
VirtualHost "meet.jitsi"
    authentication = "anonymous"
`

func TestProsodyProbe(t *testing.T) {
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Config: prosodyNode})
	bosh := p.URL + "/http-bind"
	check := func(url, domain string) error {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		return sidecar.NewProsodyProbe(url, domain, http.DefaultClient).Check(ctx)
	}
	for _, tc := range []struct {
		name, url, domain, want string // want: in the error; empty: passes
	}{
		{"session", bosh, "meet.jitsi", ""},
		{"unknown domain", bosh, "auth.meet.jitsi", "refused a BOSH session"},
		{"no BOSH there", p.URL + "/nothing", "meet.jitsi", "404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := check(tc.url, tc.domain)
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Check = %v, want an error with %q", err, tc.want)
			}
		})
	}
	// Each probe ends its session: prosody logs as many closed sessions as it opened.
	testenv.WaitFor(t, 5*time.Second, func() error {
		log := p.Log()
		opened, closed := strings.Count(log, "New BOSH session"), strings.Count(log, "BOSH client disconnected: session close")
		if opened != 1 || closed != opened {
			return fmt.Errorf("prosody log: %d BOSH sessions opened, %d closed; want 1 and 1", opened, closed)
		}
		return nil
	})
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := check(bosh, "meet.jitsi"); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Check on a stopped prosody = %v, want connection refused", err)
	}
}

// jicofoStandIn answers GET /about/health as jicofo's Ktor server does (200 "OK", or 503 with
// the message). Jicofo is a Jitsi deb that Debian does not ship, so a real one is out of reach
// here; this proves the probe's HTTP handling, not jicofo's own health logic.
type jicofoStandIn struct{ failing atomic.Bool }

func (j *jicofoStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/about/health" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	if j.failing.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("Unknown error."))
		return
	}
	_, _ = w.Write([]byte("OK"))
}

// TestXMPPCrashVisibility: a dead prosody or an unhealthy jicofo takes the node out of
// Consul's ?passing within the check interval (as a dead bridge does), and it comes back.
func TestXMPPCrashVisibility(t *testing.T) {
	e := newEnv(t, testenv.ConsulOptions{}, jvbemu.Options{})
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Config: prosodyNode})
	jicofo := &jicofoStandIn{}
	js := httptest.NewServer(jicofo)
	t.Cleanup(js.Close)

	o := e.options("node-xmpp", &testenv.Buffer{})
	o.HealthProsody, o.HealthProsodyURL = true, p.URL+"/http-bind"
	o.HealthJicofo, o.HealthJicofoURL = true, js.URL+"/about/health"
	r, w := e.startPassing(t, o)
	bound := o.ConsulCheckInterval + time.Second

	for _, tc := range []struct {
		name      string
		fail, fix func(t *testing.T)
		reason    string
	}{
		{"prosody stopped", func(t *testing.T) {
			if err := p.Stop(); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			if err := p.Restart(ctx); err != nil {
				t.Fatal(err)
			}
		}, `"probe":"prosody"`},
		{"jicofo unhealthy", func(*testing.T) { jicofo.failing.Store(true) }, func(*testing.T) { jicofo.failing.Store(false) }, "Unknown error."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := time.Now()
			tc.fail(t)
			took := w.until(t, "node-xmpp", false, from, 3*bound)
			t.Logf("measured crash_visibility=%v fault=%s bound=%v", took, tc.name, bound)
			if took > 2*bound { // twice the goal, for a loaded 2-core machine
				t.Errorf("node left ?passing after %v, want within %v (twice the goal %v)", took, 2*bound, bound)
			}
			code, body := get(t, http.DefaultClient, r.url+"/health")
			if code != http.StatusServiceUnavailable || !strings.Contains(body, tc.reason) {
				t.Errorf("/health = %d %s, want 503 naming %q", code, body, tc.reason)
			}
			tc.fix(t)
			back := w.until(t, "node-xmpp", true, time.Now(), 3*bound)
			t.Logf("measured crash_recovery=%v fault=%s", back, tc.name)
		})
	}
}

func TestXMPPProbeOptions(t *testing.T) {
	base := sidecar.DefaultOptions()
	base.NodePublicURL = "https://node.example.org"
	base.HealthProsody, base.HealthJicofo = true, true
	if err := base.Validate(); err != nil {
		t.Fatalf("defaults with both probes on: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*sidecar.Options)
		want string
	}{
		{"prosody url relative", func(o *sidecar.Options) { o.HealthProsodyURL = "/http-bind" }, "health.prosody-url"},
		{"prosody domain empty", func(o *sidecar.Options) { o.HealthProsodyDomain = "" }, "health.prosody-domain"},
		{"jicofo url scheme", func(o *sidecar.Options) { o.HealthJicofoURL = "ftp://127.0.0.1:8888/about/health" }, "health.jicofo-url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.edit(&o)
			if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}
