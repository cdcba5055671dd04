package testenv

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	code, b := Fetch(t, url, nil)
	return code, string(b)
}

func TestNginxStubStatusAndExtraConf(t *testing.T) {
	t.Parallel()
	n := StartNginx(t, NginxOptions{ExtraServerConf: `location = /extra { return 200 "extra ok\n"; }`})
	code, body := get(t, n.StubStatusURL)
	lines := strings.Split(body, "\n")
	if code != 200 || len(lines) != 5 || !strings.HasPrefix(lines[0], "Active connections: ") ||
		lines[1] != "server accepts handled requests" || !strings.HasPrefix(lines[3], "Reading: ") {
		t.Fatalf("stub_status: %d %q", code, body)
	}
	if code, body := get(t, n.URL+"/extra"); code != 200 || body != "extra ok\n" {
		t.Fatalf("extra location: %d %q", code, body)
	}
}

func TestConsulDevRegisterPassingRestartEmpty(t *testing.T) {
	t.Parallel()
	c := StartConsul(t, ConsulOptions{})
	client := c.Client(t)
	if leader, err := client.Status().Leader(); err != nil || leader == "" {
		t.Fatalf("leader %q, %v", leader, err)
	}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(target.Close)
	err := client.Agent().ServiceRegister(&api.AgentServiceRegistration{
		ID: "web-1", Name: "web", Address: "127.0.0.1", Port: 1,
		Check: &api.AgentServiceCheck{HTTP: target.URL, Interval: "200ms", Timeout: "1s"},
	})
	if err != nil {
		t.Fatal(err)
	}
	WaitFor(t, 10*time.Second, func() error {
		entries, _, err := client.Health().Service("web", "", true, nil)
		if err != nil {
			return err
		}
		if len(entries) != 1 || entries[0].Service.ID != "web-1" {
			return fmt.Errorf("passing entries: %d", len(entries))
		}
		return nil
	})

	c.Restart(t)
	services, _, err := client.Catalog().Services(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := services["web"]; ok {
		t.Fatalf("restarted agent kept service web: %v", services)
	}
}

func TestConsulACLDefaultDeny(t *testing.T) {
	t.Parallel()
	const token = "1b4e28ba-2fa1-4d2e-9b3a-6c1e2f3a4b5c"
	c := StartConsul(t, ConsulOptions{ACLDefaultDeny: true, ManagementToken: token})
	if c.Token != token {
		t.Fatalf("token %q", c.Token)
	}
	anon := c.Agent.Config()
	anon.Token = ""
	anonClient, err := api.NewClient(anon)
	if err != nil {
		t.Fatal(err)
	}
	_, err = anonClient.KV().Put(&api.KVPair{Key: "k", Value: []byte("v")}, nil)
	var se api.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusForbidden {
		t.Fatalf("anonymous KV put: want 403, got %v", err)
	}
	if _, err := c.Client(t).KV().Put(&api.KVPair{Key: "k", Value: []byte("v")}, nil); err != nil {
		t.Fatalf("KV put with management token: %v", err)
	}
}

func TestConsulClusterLeaderFailover(t *testing.T) {
	t.Parallel()
	cl := StartConsulCluster(t, 3, ConsulOptions{})
	old := cl.Leader(t)
	if err := old.Agent.Kill(); err != nil {
		t.Fatal(err)
	}
	leader := cl.Leader(t)
	if leader == old {
		t.Fatalf("leader still %s after it was killed", old.Agent.NodeName)
	}
	// The survivors keep serving writes.
	if _, err := leader.Client(t).KV().Put(&api.KVPair{Key: "after", Value: []byte("failover")}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestPrometheusScrapesTarget(t *testing.T) {
	t.Parallel()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, "# TYPE demo_requests_total counter\ndemo_requests_total 42\n")
	}))
	t.Cleanup(target.Close)
	p := StartPrometheus(t, fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: demo
    static_configs: [{targets: ['%s']}]
`, strings.TrimPrefix(target.URL, "http://")))
	s := p.WaitForSample(t, 30*time.Second, "demo_requests_total")
	if len(s) != 1 || s[0].Value != 42 || s[0].Metric["job"] != "demo" {
		t.Fatalf("samples: %+v", s)
	}
	if _, err := p.Server.Query(t.Context(), "sum(("); err == nil {
		t.Fatal("a malformed query must be an error")
	}

	// A restart keeps the URL and the TSDB: the samples scraped so far are
	// still there before the first new scrape.
	before := p.Query(t, "count_over_time(demo_requests_total[10m])")
	if err := p.Server.Stop(); err != nil {
		t.Fatal(err)
	}
	if p.Server.Running() {
		t.Fatal("running after Stop")
	}
	if _, err := p.Server.Query(t.Context(), "up"); err == nil {
		t.Fatal("a stopped server answered")
	}
	p.Restart(t)
	after := p.Query(t, "count_over_time(demo_requests_total[10m])")
	if len(before) != 1 || len(after) != 1 || after[0].Value < before[0].Value {
		t.Fatalf("samples before restart %+v, after %+v", before, after)
	}
}

func TestChromiumPath(t *testing.T) {
	t.Parallel()
	p, err := ChromiumPath()
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(p); err != nil || st.Mode()&0o111 == 0 {
		t.Fatalf("%s is not an executable: %v", p, err)
	}
}

func TestConsulPathHonoursEnv(t *testing.T) {
	t.Setenv("ENSEMBLE_CONSUL", "/nonexistent/consul")
	if _, err := ConsulPath(); err == nil {
		t.Fatal("a missing ENSEMBLE_CONSUL must be an error")
	}
}
