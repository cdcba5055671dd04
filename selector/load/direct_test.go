package load

import (
	"context"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
	"github.com/ensemble-jitsi/ensemble/selector/catalog"
	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

func nodeFor(t *testing.T, id, addr string) catalog.Node {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return catalog.Node{ID: id, Address: host, SidecarPort: p, State: placement.Eligible}
}

func TestDirectFetch(t *testing.T) {
	good := testenv.StartTarget(4)
	t.Cleanup(good.Close)
	good.Set(0.5, 0.2, 7)

	stop := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(hung.Close)
	t.Cleanup(func() { close(stop) })
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		line := strings.Repeat("# padding comment\n", 1000)
		for range 100 {
			_, _ = w.Write([]byte(line))
		}
	}))
	t.Cleanup(huge.Close)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	t.Cleanup(broken.Close)
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ensemble_jvb_endpoints{ 3\n"))
	}))
	t.Cleanup(garbage.Close)

	src, err := Builtin().New("direct", Config{Timeout: 500 * time.Millisecond, BodyLimit: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	nodes := []catalog.Node{
		nodeFor(t, "good", good.Addr()),
		nodeFor(t, "hung", hung.Listener.Addr().String()),
		nodeFor(t, "huge", huge.Listener.Addr().String()),
		nodeFor(t, "broken", broken.Listener.Addr().String()),
		nodeFor(t, "garbage", garbage.Listener.Addr().String()),
	}
	start := time.Now()
	got, err := src.Fetch(context.Background(), nodes)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Fetch took %v despite a 500ms timeout", d)
	}
	if len(got) != 1 {
		t.Fatalf("samples for %d nodes, want only the good one: %v", len(got), got)
	}
	s := got["good"]
	if !math.IsNaN(s.CPU) || s.Stress != 0.2 || s.Endpoints != 7 || time.Since(s.At) > time.Second {
		t.Fatalf("first sample = %+v, want unknown CPU, stress 0.2, 7 endpoints, fresh", s)
	}
	testWait(t, 100*time.Millisecond) // the busy ratio needs some CPU time between two readings
	got, err = src.Fetch(context.Background(), nodes[:1])
	if err != nil {
		t.Fatal(err)
	}
	if c := got["good"].CPU; math.Abs(c-0.5) > 0.05 {
		t.Fatalf("CPU busy = %v, want about 0.5", c)
	}

	// When no node answers, the source as a whole failed.
	if _, err := src.Fetch(context.Background(), nodes[3:]); err == nil {
		t.Fatal("Fetch with only failing nodes returned no error")
	}
}

// testWait lets wall-clock time pass for the emulated CPU counters; nothing can be polled instead.
func testWait(t *testing.T, d time.Duration) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-t.Context().Done():
	}
}

func TestRegistry(t *testing.T) {
	r := Builtin()
	if got := strings.Join(r.Names(), ","); got != "direct,prometheus" {
		t.Fatalf("names = %s", got)
	}
	if _, err := r.New("carrier-pigeon", Config{}); err == nil {
		t.Fatal("unknown source accepted")
	}
	if _, err := r.New("prometheus", Config{Queries: DefaultQueries()}); err == nil {
		t.Fatal("prometheus source without a URL accepted")
	}
}
