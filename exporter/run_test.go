package exporter

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunServesUntilCancelled(t *testing.T) {
	e := New(map[string]Collector{"good": sends("good", 3)}, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	addrs := make(chan []net.Addr, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, RunOptions{
			Exporter:  e,
			Extra:     NewProgramRegistry("run_test"),
			Addresses: []string{"127.0.0.1:0", "127.0.0.1:0"},
			Listening: func(a []net.Addr) { addrs <- a },
		})
	}()
	var bound []net.Addr
	select {
	case bound = <-addrs:
	case err := <-errc:
		t.Fatalf("Run returned early: %v", err)
	}
	if len(bound) != 2 {
		t.Fatalf("bound %v, want two listeners", bound)
	}
	for _, a := range bound {
		code, body := scrape(t, "http://"+a.String()+"/metrics", "")
		if code != 200 || !strings.Contains(body, `test_value{source="good"} 3`) || !strings.Contains(body, "run_test_build_info{") {
			t.Errorf("%s/metrics: %d\n%s", a, code, body)
		}
		if code, body := scrape(t, "http://"+a.String()+"/", ""); code != 200 || !strings.Contains(body, "/metrics") {
			t.Errorf("%s/: %d, no link to /metrics", a, code)
		}
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	if c, err := net.DialTimeout("tcp", bound[0].String(), time.Second); err == nil {
		c.Close()
		t.Error("still listening after Run returned")
	}
}

func TestRunRejectsBadSetup(t *testing.T) {
	e := New(nil, Options{})
	badConfig := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(badConfig, []byte("tls_server_config: [oops"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tt := range []struct {
		opts    RunOptions
		wantErr string
	}{
		{RunOptions{Exporter: e}, "no listen address"},
		{RunOptions{Exporter: e, Addresses: []string{l.Addr().String()}}, "listen on"},
		{RunOptions{Exporter: e, Addresses: []string{"127.0.0.1:0"}, WebConfigFile: badConfig}, "web config"},
	} {
		err := Run(t.Context(), tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Run(%+v) = %v, want %q", tt.opts, err, tt.wantErr)
		}
	}
}
