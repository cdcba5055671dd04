package sidecar_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/internal/lab/jvbemu"
	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
	"github.com/ensemble-jitsi/ensemble/sidecar"
)

func TestRegistersPassingWithMeta(t *testing.T) {
	e := newEnv(t, testenv.ConsulOptions{}, jvbemu.Options{})
	o := e.options("node-a", &testenv.Buffer{})
	r, w := e.startPassing(t, o)
	if len(w.entries) != 1 {
		t.Fatalf("want one passing entry, got %d", len(w.entries))
	}
	svc := w.entries[0].Service
	port := strings.TrimPrefix(r.url, "http://127.0.0.1:")
	want := map[string]string{
		"public_url": "https://node-a.example.org", "region": "eu-test", "capacity": "4",
		"sidecar_port": port, "version": "test-1",
	}
	for k, v := range want {
		if svc.Meta[k] != v {
			t.Errorf("Meta[%s] = %q, want %q", k, svc.Meta[k], v)
		}
	}
	if svc.Address != "127.0.0.1" || port != "" && svc.Port == 0 || len(svc.Tags) != 1 || svc.Tags[0] != "test" {
		t.Errorf("service = %+v", svc)
	}
	if got := checkOutput(t, e.client, "node-a"); !strings.HasPrefix(got, "HTTP GET "+r.url+"/health: 200 OK") {
		t.Errorf("check output = %q, want a 200 from %s/health", got, r.url)
	}

	code, body := get(t, http.DefaultClient, r.url+"/health")
	if code != http.StatusOK || !strings.Contains(body, `"pass"`) {
		t.Errorf("/health = %d %s", code, body)
	}
	code, body = get(t, http.DefaultClient, r.url+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for _, m := range []string{"ensemble_sidecar_consul_registered", `ensemble_sidecar_drain_state{state="serving"}`, `ensemble_sidecar_health_probe_success{probe="jvb"}`} {
		if v, err := metricValue(body, m); err != nil || v != "1" {
			t.Errorf("%s = %q, %v; want 1", m, v, err)
		}
	}
	code, body = get(t, http.DefaultClient, r.url+"/")
	if code != http.StatusOK || !strings.Contains(body, "ensemble-sidecar") {
		t.Errorf("landing page = %d", code)
	}
	if code, _ = get(t, http.DefaultClient, r.url+"/-/ready"); code != http.StatusOK {
		t.Errorf("/-/ready = %d", code)
	}
	if code, _ = get(t, http.DefaultClient, r.url+"/nope"); code != http.StatusNotFound {
		t.Errorf("/nope = %d, want 404", code)
	}
	// The metrics listener only reads the drain state; the control endpoints are elsewhere.
	for path, want := range map[string]int{"/drain": http.StatusMethodNotAllowed, "/undrain": http.StatusNotFound} {
		resp, err := http.Post(r.url+path, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("POST %s on the metrics listener = %d, want %d", path, resp.StatusCode, want)
		}
	}
	if st := getDrain(t, r); st.State != sidecar.StateServing {
		t.Errorf("after POSTs on the metrics listener the state is %q", st.State)
	}
}

func getDrain(t *testing.T, r *running) sidecar.DrainStatus {
	t.Helper()
	_, body := get(t, http.DefaultClient, r.url+"/drain")
	var st sidecar.DrainStatus
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("GET /drain: %v: %s", err, body)
	}
	return st
}

// TestCrashVisibility uses the default check interval (2s) and timeout (1s), so the measured
// times are those of a production node.
func TestCrashVisibility(t *testing.T) {
	e := newEnv(t, testenv.ConsulOptions{}, jvbemu.Options{})
	o := e.options("node-crash", &testenv.Buffer{})
	d := sidecar.DefaultOptions()
	o.ConsulCheckInterval, o.ConsulCheckTimeout = d.ConsulCheckInterval, d.ConsulCheckTimeout
	o.ConsulCheckSuccessBeforePassing = 1
	r, w := e.startPassing(t, o)
	bound := o.ConsulCheckInterval + time.Second

	for _, tc := range []struct {
		name      string
		fail, fix func()
		reason    string
	}{
		{"health500", func() { e.emu.SetHealth(500, "Sticky failure.") }, func() { e.emu.SetHealth(200, "") }, "Sticky failure."},
		{"hang", func() { e.emu.SetFault(jvbemu.Hang) }, func() { e.emu.SetFault(jvbemu.None) }, "jvb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := time.Now()
			tc.fail()
			took := w.until(t, "node-crash", false, from, 3*bound)
			t.Logf("measured crash_visibility=%v fault=%s bound=%v", took, tc.name, bound)
			// The goal is bound; twice it leaves room for a loaded 2-core machine.
			if took > 2*bound {
				t.Errorf("node left ?passing after %v, want within %v (twice the goal %v)", took, 2*bound, bound)
			}
			code, body := get(t, http.DefaultClient, r.url+"/health")
			if code != http.StatusServiceUnavailable || !strings.Contains(body, tc.reason) {
				t.Errorf("/health = %d %s, want 503 naming %q", code, body, tc.reason)
			}
			tc.fix()
			back := w.until(t, "node-crash", true, time.Now(), 3*bound)
			t.Logf("measured crash_recovery=%v fault=%s", back, tc.name)
		})
	}
}

func TestDrainUntilMeetingsEnd(t *testing.T) {
	e := newEnv(t, testenv.ConsulOptions{}, jvbemu.Options{})
	var logs testenv.Buffer
	o := e.options("node-drain", &logs)
	r, w := e.startPassing(t, o)
	conf := e.emu.StartConference(3)

	from := time.Now()
	r.cancel() // what SIGTERM does
	took := w.until(t, "node-drain", false, from, 5*time.Second)
	t.Logf("measured drain_visibility=%v trigger=signal", took)
	if took > time.Second { // twice the 0.5 s goal
		t.Errorf("maintenance visible after %v, want within 1s (twice the 0.5s goal)", took)
	}
	// Still registered, in maintenance, and healthy but draining (429, a warning to Consul,
	// never critical): meetings on it stay reachable.
	waitAgent(t, e.client, "node-drain", true, true, 5*time.Second)
	if code, body := get(t, http.DefaultClient, r.url+"/health"); code != http.StatusTooManyRequests || !strings.Contains(body, `"draining":true`) {
		t.Errorf("/health while draining = %d %s, want 429 draining", code, body)
	}
	testenv.WaitFor(t, 5*time.Second, func() error {
		if st := getDrain(t, r); st.State != sidecar.StateDraining || !st.Exiting || st.Conferences != 1 || st.Participants != 3 {
			return fmt.Errorf("drain state = %+v", st)
		}
		return nil
	})
	// A stop cannot be undone.
	if code, body := post(t, r.ctl+"/undrain"); code != http.StatusConflict {
		t.Errorf("POST /undrain during a stop = %d %s, want 409", code, body)
	}
	select {
	case err := <-r.done:
		t.Fatalf("Run returned while a meeting was running: %v", err)
	case <-time.After(4 * o.DrainPollInterval):
	}

	e.emu.EndConference(conf)
	if err := r.wait(t, 10*time.Second); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if p, _, err := agentHas(e.client, "node-drain"); err != nil || p {
		t.Errorf("after the drain the service is present=%v (%v)", p, err)
	}
	if !strings.Contains(logs.String(), "draining") {
		t.Errorf("no progress log during the drain:\n%s", logs.String())
	}
}

func TestDrainOverHTTPAndUndrain(t *testing.T) {
	e := newEnv(t, testenv.ConsulOptions{}, jvbemu.Options{})
	o := e.options("node-http", &testenv.Buffer{})
	r, w := e.startPassing(t, o)
	conf := e.emu.StartConference(2)

	from := time.Now()
	code, body := post(t, r.ctl+"/drain?reason=maintenance+window")
	if code != http.StatusAccepted || !strings.Contains(body, `"draining"`) {
		t.Fatalf("POST /drain = %d %s", code, body)
	}
	took := w.until(t, "node-http", false, from, 5*time.Second)
	t.Logf("measured drain_visibility=%v trigger=http", took)
	if took > time.Second { // twice the 0.5 s goal
		t.Errorf("maintenance visible after %v, want within 1s (twice the 0.5s goal)", took)
	}
	if st := getDrain(t, r); st.Reason != "maintenance window" || st.Exiting {
		t.Errorf("drain state = %+v", st)
	}

	// Undrain while meetings run: back in placement, maintenance gone.
	if code, body = post(t, r.ctl+"/undrain"); code != http.StatusOK || !strings.Contains(body, `"serving"`) {
		t.Fatalf("POST /undrain = %d %s", code, body)
	}
	w.until(t, "node-http", true, time.Now(), 5*time.Second)
	waitAgent(t, e.client, "node-http", true, false, 5*time.Second)

	// Drain again, let the meeting end: deregistered, still running, and undrain registers again.
	post(t, r.ctl+"/drain")
	e.emu.EndConference(conf)
	waitAgent(t, e.client, "node-http", false, false, 10*time.Second)
	if st := getDrain(t, r); st.State != sidecar.StateDrained {
		t.Errorf("state after the meetings ended = %q, want drained", st.State)
	}
	select {
	case err := <-r.done:
		t.Fatalf("Run returned after an HTTP drain: %v", err)
	default:
	}
	post(t, r.ctl+"/undrain")
	w.until(t, "node-http", true, time.Now(), 10*time.Second)

	r.cancel()
	if err := r.wait(t, 10*time.Second); err != nil {
		t.Fatalf("Run = %v", err)
	}
}

func TestDrainTimeoutSkipAndBridgeModes(t *testing.T) {
	for _, tc := range []struct {
		name             string
		timeout          time.Duration
		skip             bool
		shutdownDisabled bool // the bridge's default: graceful shutdown answers 404
	}{
		{"timeout", time.Second, false, false},
		{"second-signal", time.Hour, true, false},
		{"drain-mode-fallback", time.Second, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, testenv.ConsulOptions{}, jvbemu.Options{ShutdownDisabled: tc.shutdownDisabled})
			o := e.options("node-"+tc.name, &testenv.Buffer{})
			o.DrainTimeout = tc.timeout
			o.DrainJVBGracefulShutdown = true
			r := start(t, o)
			waitAgent(t, e.client, o.ConsulServiceID, true, false, 10*time.Second)
			e.emu.StartConference(1)

			from := time.Now()
			r.cancel()
			waitAgent(t, e.client, o.ConsulServiceID, true, true, 5*time.Second)
			testenv.WaitFor(t, 5*time.Second, func() error {
				st := e.emu.Stats()
				if st.GracefulShutdown == tc.shutdownDisabled || st.Drain != tc.shutdownDisabled {
					return fmt.Errorf("bridge graceful_shutdown=%v drain=%v", st.GracefulShutdown, st.Drain)
				}
				return nil
			})
			if tc.skip {
				r.skipWait()
			}
			if err := r.wait(t, tc.timeout+10*time.Second); err != nil {
				t.Fatalf("Run = %v", err)
			}
			if took := time.Since(from); !tc.skip && took < tc.timeout {
				t.Errorf("Run returned after %v, before the drain timeout %v", took, tc.timeout)
			}
			if p, _, err := agentHas(e.client, o.ConsulServiceID); err != nil || p {
				t.Errorf("service still present=%v (%v)", p, err)
			}
		})
	}
}

// TestDrainEndsWhenBridgeGone: a stopping sidecar whose bridge refuses connections (crashed,
// stopped) ends the drain after a few poll intervals instead of waiting out the drain timeout
// with the last conference count; a bridge that answers errors still counts as busy.
func TestDrainEndsWhenBridgeGone(t *testing.T) {
	for _, tc := range []struct {
		name string
		gone bool // close the bridge's listener; else make it answer 500
	}{
		{"connection-refused", true},
		{"error-500", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, testenv.ConsulOptions{}, jvbemu.Options{})
			var logs testenv.Buffer
			o := e.options("node-"+tc.name, &logs)
			r, _ := e.startPassing(t, o)
			e.emu.StartConference(2)
			r.cancel()
			testenv.WaitFor(t, 5*time.Second, func() error {
				if st := getDrain(t, r); st.State != sidecar.StateDraining || st.Conferences != 1 {
					return fmt.Errorf("drain state = %+v", st)
				}
				return nil
			})
			from := time.Now()
			if tc.gone {
				e.emuSrv.Close()
			} else {
				e.emu.SetFault(jvbemu.Error500)
			}
			// The bound is 3 poll intervals (150 ms here); 20 intervals are far past it.
			select {
			case err := <-r.done:
				r.done <- err // let cleanup see it too
				took := time.Since(from)
				if !tc.gone {
					t.Fatalf("Run returned (%v) after %v while the bridge answered 500", err, took)
				}
				if err != nil {
					t.Fatalf("Run = %v, want nil", err)
				}
				if bound := 3 * o.DrainPollInterval; took < bound {
					t.Errorf("the drain ended %v after the bridge went, before the bound %v", took, bound)
				}
				if !strings.Contains(logs.String(), `why="bridge unreachable"`) {
					t.Errorf("no log of the reason:\n%s", logs.String())
				}
				if p, _, err := agentHas(e.client, o.ConsulServiceID); err != nil || p {
					t.Errorf("service still present=%v (%v)", p, err)
				}
			case <-time.After(20 * o.DrainPollInterval):
				if tc.gone {
					t.Fatalf("still draining %v after the bridge went: %+v", time.Since(from), getDrain(t, r))
				}
				if st := getDrain(t, r); st.State != sidecar.StateDraining || st.LoadError == "" || !st.BridgeUnreachableSince.IsZero() {
					t.Errorf("drain state with a failing bridge = %+v", st)
				}
			}
		})
	}
}

func TestConsulRestartedEmpty(t *testing.T) {
	e := newEnv(t, testenv.ConsulOptions{}, jvbemu.Options{})
	o := e.options("node-restart", &testenv.Buffer{})
	r := start(t, o)
	waitAgent(t, e.client, "node-restart", true, false, 10*time.Second)
	// Drain with a meeting running: after the restart the node must come back in maintenance.
	e.emu.StartConference(1)
	post(t, r.ctl+"/drain")
	waitAgent(t, e.client, "node-restart", true, true, 5*time.Second)

	ctx, stop := context.WithCancel(context.Background())
	scrapes := make(chan error, 1)
	go func() {
		var failed error
		for ctx.Err() == nil {
			resp, err := http.Get(r.url + "/metrics")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					err = errors.New(resp.Status)
				}
			}
			if err != nil && failed == nil {
				failed = err
			}
			time.Sleep(20 * time.Millisecond)
		}
		scrapes <- failed
	}()

	// Killed, as a crash would: the sidecar notices through its blocking watch.
	if err := e.consul.Agent.Kill(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, func() error {
		_, body := get(t, http.DefaultClient, r.url+"/metrics")
		if v, err := metricValue(body, "ensemble_sidecar_consul_registered"); err != nil || v != "0" {
			return fmt.Errorf("registered = %q (%v) with the agent dead", v, err)
		}
		return nil
	})
	e.consul.Restart(t)
	from := time.Now()
	waitAgent(t, e.client, "node-restart", true, true, o.ConsulResyncInterval)
	t.Logf("measured reregistration=%v resync_interval=%v", time.Since(from), o.ConsulResyncInterval)
	entries, _, err := e.client.Health().Service("jitsi", "", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("a draining node is passing after the agent restart: %v", passingIDs(entries))
	}
	stop()
	if err := <-scrapes; err != nil {
		t.Errorf("/metrics failed while Consul restarted: %v", err)
	}
}

func TestConsulDownAtStart(t *testing.T) {
	e := newEnv(t, testenv.ConsulOptions{}, jvbemu.Options{})
	e.consul.Stop(t)
	o := e.options("node-down", &testenv.Buffer{})
	r := start(t, o)
	// Retries show up as Consul errors; the process keeps serving.
	testenv.WaitFor(t, 10*time.Second, func() error {
		_, body := get(t, http.DefaultClient, r.url+"/metrics")
		v, err := metricValue(body, `ensemble_sidecar_consul_errors_total{operation="registration"}`)
		if err != nil {
			return err
		}
		if n, err := strconv.ParseFloat(v, 64); err != nil || n < 3 {
			return fmt.Errorf("registration errors so far: %s (%v)", v, err)
		}
		return nil
	})
	select {
	case err := <-r.done:
		t.Fatalf("Run returned without cancel: %v", err)
	default:
	}
	r.cancel()
	if err := r.wait(t, 10*time.Second); err != nil {
		t.Errorf("Run after cancel = %v, want nil (never registered)", err)
	}
}

func TestACL(t *testing.T) {
	e := newEnv(t, testenv.ConsulOptions{ACLDefaultDeny: true}, jvbemu.Options{})
	if e.consul.Token == "" {
		t.Fatal("the ACL agent has no management token")
	}

	var denied testenv.Buffer
	o := e.options("node-acl", &denied)
	start(t, o)
	testenv.WaitFor(t, 10*time.Second, func() error {
		if !strings.Contains(denied.String(), "lacks permission service:write") {
			return errors.New("no clear ACL error logged yet")
		}
		return nil
	})

	var allowed testenv.Buffer
	o = e.options("node-acl2", &allowed)
	o.Consul = &api.Config{Address: e.consul.Addr, Token: e.consul.Token}
	r := start(t, o)
	waitAgent(t, e.client, "node-acl2", true, false, 10*time.Second)
	post(t, r.ctl+"/drain")
	waitAgent(t, e.client, "node-acl2", false, false, 10*time.Second)
	for name, logs := range map[string]string{"denied": denied.String(), "allowed": allowed.String()} {
		if strings.Contains(logs, e.consul.Token) {
			t.Errorf("%s logs contain the ACL token", name)
		}
	}
	if got := denied.String(); !strings.Contains(got, "CONSUL_HTTP_TOKEN") {
		t.Errorf("the ACL error does not say how to give a token:\n%s", got)
	}
}

// TestResyncWritesOnlyDifferences: resyncs leave an intact registration alone (a write
// would restart the check timer) and repair one changed behind the sidecar's back.
func TestResyncWritesOnlyDifferences(t *testing.T) {
	e := newEnv(t, testenv.ConsulOptions{}, jvbemu.Options{})
	o := e.options("node-resync", &testenv.Buffer{})
	o.ConsulResyncInterval = 400 * time.Millisecond
	r := start(t, o)
	waitAgent(t, e.client, "node-resync", true, false, 10*time.Second)
	registrations := func() string {
		_, body := get(t, http.DefaultClient, r.url+"/metrics")
		v, err := metricValue(body, "ensemble_sidecar_consul_registrations_total")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Absence of writes cannot be polled for: let a few resync intervals pass.
	time.Sleep(3 * o.ConsulResyncInterval)
	if n := registrations(); n != "1" {
		t.Errorf("registrations after idle resyncs = %s, want 1", n)
	}

	svc, _, err := e.client.Agent().Service("node-resync", nil)
	if err != nil {
		t.Fatal(err)
	}
	svc.Meta["capacity"] = "999"
	if err := e.client.Agent().ServiceRegister(&api.AgentServiceRegistration{
		ID: svc.ID, Name: svc.Service, Port: svc.Port, Address: svc.Address, Tags: svc.Tags, Meta: svc.Meta,
	}); err != nil {
		t.Fatal(err)
	}
	// The counter moves after Consul has the repaired service: wait for both. A bound of many
	// resync intervals: the machine may be busy, and the test is about what is written.
	testenv.WaitFor(t, 10*time.Second, func() error {
		svc, _, err := e.client.Agent().Service("node-resync", nil)
		if err != nil {
			return err
		}
		if svc.Meta["capacity"] != "4" {
			return fmt.Errorf("capacity still %q", svc.Meta["capacity"])
		}
		if n := registrations(); n != "2" {
			return fmt.Errorf("registrations after the repair = %s, want 2", n)
		}
		return nil
	})
	newPassingWatch(t, e.client, "jitsi").until(t, "node-resync", true, time.Now(), 5*time.Second)
}
