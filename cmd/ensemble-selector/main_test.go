package main

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

func TestBadFlags(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--selector.policy=fastest"}, 2, "enum value must be one of"},
		{[]string{"--rooms.store=redis"}, 2, "enum value must be one of"},
		{[]string{"--load.max-age=soon"}, 2, "invalid duration"},
		{[]string{"--rooms.store=none", "--web.listen-address=127.0.0.1:0"}, 2, "needs --selector.policy=bounded-hash"},
		{[]string{"--selector.high-water=0", "--web.listen-address=127.0.0.1:0"}, 2, "high-water"},
		{[]string{"--selector.replicas=-1", "--web.listen-address=127.0.0.1:0"}, 2, "selector replicas"},
		{[]string{"--selector.join-cost=-1", "--web.listen-address=127.0.0.1:0"}, 2, "per-join cost"},
		{[]string{"--web.listen-address=127.0.0.1:0"}, 2, "--nodes.allowed-domains is required"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var stderr testenv.Buffer
			if code := run(c.args, io.Discard, &stderr); code != c.code || !strings.Contains(stderr.String(), c.want) {
				t.Fatalf("exit %d, want %d; stderr %q should contain %q", code, c.code, stderr.String(), c.want)
			}
		})
	}
}

// TestServeAndStop runs the command against a real Consul, waits for the logged listen address and
// readiness, then stops it with SIGTERM.
func TestServeAndStop(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	t.Setenv("CONSUL_HTTP_ADDR", consul.Addr)
	var stderr testenv.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"--web.listen-address=127.0.0.1:0", "--nodes.allowed-domains=example.org", "--prometheus.url=http://127.0.0.1:1", "--log.level=info"}, io.Discard, &stderr)
	}()
	listening := regexp.MustCompile(`msg=listening address=(\S+)`)
	var addr string
	testenv.WaitFor(t, 10*time.Second, func() error {
		m := listening.FindStringSubmatch(stderr.String())
		if m == nil {
			return fmt.Errorf("no listening line yet: %s", stderr.String())
		}
		addr = m[1]
		return nil
	})
	testenv.WaitFor(t, 10*time.Second, func() error {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("ready: %s", resp.Status)
		}
		return nil
	})
	// run's signal.NotifyContext has registered SIGTERM, so the signal stops run, not the test binary.
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after SIGTERM: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop after SIGTERM")
	}
}
