package catalog

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"golang.org/x/time/rate"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
	"github.com/ensemble-jitsi/ensemble/internal/registration"
	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

func register(t *testing.T, c *api.Client, id, publicURL, ttlStatus string) {
	t.Helper()
	reg := &api.AgentServiceRegistration{
		ID: id, Name: "jitsi", Address: "127.0.0.1", Port: 9100,
		Meta:  map[string]string{registration.MetaPublicURL: publicURL, registration.MetaRegion: "eu", registration.MetaCapacity: "4", registration.MetaSidecarPort: "9101"},
		Check: &api.AgentServiceCheck{CheckID: "service:" + id, TTL: "1h", Status: ttlStatus},
	}
	if err := c.Agent().ServiceRegister(reg); err != nil {
		t.Fatal(err)
	}
}

func startWatch(t *testing.T, c *api.Client, hooks Hooks) *Watcher {
	t.Helper()
	opts := DefaultOptions()
	opts.WaitTime = 2 * time.Second
	opts.MinBackoff, opts.MaxBackoff = 50*time.Millisecond, 200*time.Millisecond
	opts.Rate = rate.Inf
	w, err := New(c, opts, hooks, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	})
	return w
}

// states returns "id=state" for every node of the current snapshot.
func states(w *Watcher) map[string]placement.State {
	out := map[string]placement.State{}
	for _, n := range w.Snapshot().Nodes {
		out[n.ID] = n.State
	}
	return out
}

func waitState(t *testing.T, w *Watcher, want map[string]placement.State) {
	t.Helper()
	testenv.WaitFor(t, 10*time.Second, func() error {
		if w.Snapshot() == nil {
			return fmt.Errorf("no snapshot yet")
		}
		got := states(w)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("states %v, want %v", got, want)
		}
		return nil
	})
}

func TestWatchClassifiesAndFollows(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	c := consul.Client(t)
	register(t, c, "a", "https://a.example.org", api.HealthPassing)
	register(t, c, "b", "https://b.example.org", api.HealthPassing)
	register(t, c, "c", "https://c.example.org", api.HealthCritical)
	register(t, c, "bad", "http://bad.example.org", api.HealthPassing)
	if err := c.Agent().EnableServiceMaintenance("b", "drain"); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	ignored := map[string]bool{}
	w := startWatch(t, c, Hooks{Ignored: func(id string, err error) {
		mu.Lock()
		defer mu.Unlock()
		ignored[id] = true
	}})
	waitState(t, w, map[string]placement.State{"a": placement.Eligible, "b": placement.Draining, "c": placement.Gone})
	mu.Lock()
	if !ignored["bad"] {
		t.Errorf("the http:// public_url was not reported as ignored")
	}
	mu.Unlock()
	n, ok := w.Snapshot().Node("a")
	if !ok || n.PublicURL != "https://a.example.org" || n.SidecarPort != 9101 || n.Capacity != 4 || n.Region != "eu" || n.Address != "127.0.0.1" {
		t.Fatalf("node a = %+v", n)
	}
	if w.LastContact().IsZero() {
		t.Fatal("no contact recorded")
	}

	// A drain must reach the snapshot quickly: the blocking query returns on the change.
	start := time.Now()
	if err := c.Agent().EnableServiceMaintenance("a", "drain"); err != nil {
		t.Fatal(err)
	}
	waitState(t, w, map[string]placement.State{"a": placement.Draining, "b": placement.Draining, "c": placement.Gone})
	t.Logf("measured drain_visible_seconds=%.3f", time.Since(start).Seconds())

	if err := c.Agent().ServiceDeregister("a"); err != nil {
		t.Fatal(err)
	}
	waitState(t, w, map[string]placement.State{"b": placement.Draining, "c": placement.Gone})
}

func TestWatchSurvivesConsulRestart(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	c := consul.Client(t)
	register(t, c, "a", "https://a.example.org", api.HealthPassing)
	var mu sync.Mutex
	errs := 0
	w := startWatch(t, c, Hooks{Error: func(error) { mu.Lock(); errs++; mu.Unlock() }})
	waitState(t, w, map[string]placement.State{"a": placement.Eligible})

	// A dev agent restarts empty, so its index goes back to a small number: the watch must reset its
	// index instead of blocking on one Consul will not reach for a long time.
	consul.Restart(t)
	register(t, c, "z", "https://z.example.org", api.HealthPassing)
	waitState(t, w, map[string]placement.State{"z": placement.Eligible})
	mu.Lock()
	defer mu.Unlock()
	if errs == 0 {
		t.Errorf("the restart produced no watch error")
	}
}
