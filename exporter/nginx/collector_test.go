package nginx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ensemble-jitsi/ensemble/exporter"
	"github.com/ensemble-jitsi/ensemble/exporter/internal/fetch"
	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

var metricNames = []string{
	"ensemble_nginx_up", "ensemble_nginx_connections_active", "ensemble_nginx_connections_reading",
	"ensemble_nginx_connections_writing", "ensemble_nginx_connections_waiting",
	"ensemble_nginx_connections_accepted_total", "ensemble_nginx_connections_handled_total",
	"ensemble_nginx_http_requests_total", "ensemble_scrape_collector_success",
}

// startNginx starts a real nginx that also serves testdata/nginx-1.22.txt at
// /fixed_status (fixed numbers) and a body larger than MaxBodyBytes at /big.
func startNginx(t *testing.T) *testenv.Nginx {
	t.Helper()
	n := testenv.StartNginx(t, testenv.NginxOptions{ExtraServerConf: `
    location = /fixed_status { default_type text/plain; }
    location = /big { default_type text/plain; }
    location = /missing { return 404; }
`})
	fixed, err := os.ReadFile(filepath.Join("testdata", "nginx-1.22.txt"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"fixed_status": fixed,
		"big":          []byte(strings.Repeat("Active connections: 1 \n", 2*MaxBodyBytes/20)),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(n.Dir, "html", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func newExporter(url string, timeout time.Duration) *exporter.Exporter {
	c := New(NewClient(url, nil), timeout)
	return exporter.New(map[string]exporter.Collector{Name: c}, exporter.Options{})
}

func TestCollectorFixedStatus(t *testing.T) {
	n := startNginx(t)
	e := newExporter(n.URL+"/fixed_status", 5*time.Second)
	want := `
# HELP ensemble_nginx_connections_accepted_total Client connections accepted.
# TYPE ensemble_nginx_connections_accepted_total counter
ensemble_nginx_connections_accepted_total 18234
# HELP ensemble_nginx_connections_active Open client connections, including waiting ones.
# TYPE ensemble_nginx_connections_active gauge
ensemble_nginx_connections_active 43
# HELP ensemble_nginx_connections_handled_total Client connections handled.
# TYPE ensemble_nginx_connections_handled_total counter
ensemble_nginx_connections_handled_total 18234
# HELP ensemble_nginx_connections_reading Connections where nginx is reading the request header.
# TYPE ensemble_nginx_connections_reading gauge
ensemble_nginx_connections_reading 0
# HELP ensemble_nginx_connections_waiting Idle keep-alive client connections.
# TYPE ensemble_nginx_connections_waiting gauge
ensemble_nginx_connections_waiting 36
# HELP ensemble_nginx_connections_writing Connections where nginx is writing the response.
# TYPE ensemble_nginx_connections_writing gauge
ensemble_nginx_connections_writing 7
# HELP ensemble_nginx_http_requests_total Client requests.
# TYPE ensemble_nginx_http_requests_total counter
ensemble_nginx_http_requests_total 95321
# HELP ensemble_nginx_up Whether nginx's stub_status page could be read and parsed (1) or not (0).
# TYPE ensemble_nginx_up gauge
ensemble_nginx_up 1
# HELP ensemble_scrape_collector_success Whether a collector succeeded during the last scrape (1) or failed, timed out or had no data (0).
# TYPE ensemble_scrape_collector_success gauge
ensemble_scrape_collector_success{collector="nginx"} 1
`
	if err := testutil.CollectAndCompare(e, strings.NewReader(want), metricNames...); err != nil {
		t.Error(err)
	}
	testenv.CollectAndLint(t, e)
}

// The live page: the counters are nginx's own, so check their relations.
func TestClientLiveStubStatus(t *testing.T) {
	n := startNginx(t)
	c := NewClient(n.StubStatusURL, nil)
	first, err := c.StubStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.StubStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if second.Requests <= first.Requests {
		t.Errorf("requests did not grow: %d then %d", first.Requests, second.Requests)
	}
	if second.Active != second.Reading+second.Writing+second.Waiting || second.Active == 0 {
		t.Errorf("active %d != reading+writing+waiting in %+v", second.Active, second)
	}
	if second.Handled > second.Accepted {
		t.Errorf("handled > accepted in %+v", second)
	}
}

// hungListener accepts connections and never answers, like a wedged process.
func hungListener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, conn)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	return "http://" + l.Addr().String() + "/nginx_status"
}

// Every failure sends ensemble_nginx_up 0 and nothing else, and the error
// says what went wrong and where.
func TestCollectorFailures(t *testing.T) {
	n := startNginx(t)
	closedPort := fmt.Sprintf("http://127.0.0.1:%d/nginx_status", testenv.FreePort(t))
	tests := []struct {
		name    string
		url     string
		wantErr string
		is      error
	}{
		{name: "not stub_status", url: n.URL + "/", wantErr: "stub_status line 1"},
		{name: "404", url: n.URL + "/missing", wantErr: "unexpected status 404"},
		{name: "huge body", url: n.URL + "/big", is: fetch.ErrTooLarge},
		{name: "connection refused", url: closedPort, wantErr: "connection refused"},
		{name: "hung", url: hungListener(t), is: errDeadline},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timeout := 10 * time.Second // generous for a loaded machine
			if tt.is == errDeadline {
				timeout = 300 * time.Millisecond
			}
			c := New(NewClient(tt.url, nil), timeout)
			ms, err := c.Update(t.Context(), nil)
			if err == nil || !strings.Contains(err.Error(), tt.url) {
				t.Fatalf("err = %v, want an error naming %s", err, tt.url)
			}
			if tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.is)
			}
			var got []string
			for _, m := range ms {
				got = append(got, m.Desc().String())
			}
			if len(got) != 1 || !strings.Contains(got[0], `"ensemble_nginx_up"`) {
				t.Errorf("sent %v, want only ensemble_nginx_up", got)
			}
			want := "# HELP ensemble_nginx_up Whether nginx's stub_status page could be read and parsed (1) or not (0).\n# TYPE ensemble_nginx_up gauge\nensemble_nginx_up 0\n"
			e := exporter.New(map[string]exporter.Collector{Name: c}, exporter.Options{})
			if err := testutil.CollectAndCompare(e, strings.NewReader(want), "ensemble_nginx_up"); err != nil {
				t.Error(err)
			}
		})
	}
}

var errDeadline = context.DeadlineExceeded
