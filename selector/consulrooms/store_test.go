package consulrooms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
	"github.com/ensemble-jitsi/ensemble/selector/rooms"
)

func newClock() *testenv.Clock { return testenv.NewClock(time.Unix(1_800_000_000, 0)) }

func newStore(t *testing.T, c *api.Client, clk *testenv.Clock) *Store {
	t.Helper()
	opts := DefaultOptions()
	opts.Now, opts.TTL = clk.Now, 10*time.Minute
	s, err := New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Two replicas (two clients, two stores) racing on the same new rooms must agree on one binding each.
func TestBindRaceAcrossReplicas(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	clk := newClock()
	replicas := []*Store{newStore(t, consul.Client(t), clk), newStore(t, consul.Client(t), clk)}
	ctx := context.Background()
	for r := range 5 {
		room := fmt.Sprintf("race-%d", r)
		var wg sync.WaitGroup
		var mu sync.Mutex
		nodes := map[string]bool{}
		created := 0
		for i := range 16 {
			wg.Go(func() {
				b, c, err := replicas[i%2].Bind(ctx, room, fmt.Sprintf("node-%d", i))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				nodes[b.Node] = true
				if c {
					created++
				}
			})
		}
		wg.Wait()
		if len(nodes) != 1 || created != 1 {
			t.Fatalf("room %s: %d distinct nodes %v and %d creations, want 1 and 1", room, len(nodes), nodes, created)
		}
	}
}

func TestLifecycle(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	clk := newClock()
	s := newStore(t, consul.Client(t), clk)
	ctx := context.Background()

	if _, ok, err := s.Get(ctx, "calm-otter"); ok || err != nil {
		t.Fatalf("Get of an unbound room = %v, %v", ok, err)
	}
	b, created, err := s.Bind(ctx, "calm-otter", "a")
	if err != nil || !created || b.Node != "a" || b.Version == 0 || !b.LastUsed.Equal(clk.Now()) {
		t.Fatalf("Bind = %+v, %v, %v", b, created, err)
	}
	again, created, err := s.Bind(ctx, "calm-otter", "b")
	if err != nil || created || again != b {
		t.Fatalf("second Bind = %+v, %v, %v; want the first binding", again, created, err)
	}

	// Rebind with a stale version loses; with the current one it moves the room.
	moved, ok, err := s.Rebind(ctx, b, "c")
	if err != nil || !ok || moved.Node != "c" || moved.Version == b.Version {
		t.Fatalf("Rebind = %+v, %v, %v", moved, ok, err)
	}
	lost, ok, err := s.Rebind(ctx, b, "d")
	if err != nil || ok || lost.Node != "c" {
		t.Fatalf("Rebind with a stale version = %+v, %v, %v; want c, not moved", lost, ok, err)
	}

	// Touch postpones expiry.
	clk.Advance(9 * time.Minute)
	if err := s.Touch(ctx, "calm-otter"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(9 * time.Minute) // 18 min after binding, 9 after the touch: still live
	cur, ok, err := s.Get(ctx, "calm-otter")
	if err != nil || !ok || cur.Node != "c" || !cur.LastUsed.Equal(clk.Now().Add(-9*time.Minute)) {
		t.Fatalf("after touch: %+v, %v, %v", cur, ok, err)
	}

	// Idle beyond the TTL: gone, and a new Bind creates it afresh.
	clk.Advance(2 * time.Minute)
	if _, ok, err := s.Get(ctx, "calm-otter"); ok || err != nil {
		t.Fatalf("expired binding still returned: %v, %v", ok, err)
	}
	if b, created, err := s.Bind(ctx, "calm-otter", "e"); err != nil || !created || b.Node != "e" {
		t.Fatalf("Bind after expiry = %+v, %v, %v", b, created, err)
	}

	// Sweep removes expired keys and counts live ones per node; garbage values are removed too.
	if _, _, err := s.Bind(ctx, "old-room", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := consul.Client(t).KV().Put(&api.KVPair{Key: DefaultOptions().Prefix + "junk", Value: []byte("{")}, nil); err != nil {
		t.Fatal(err)
	}
	clk.Advance(5 * time.Minute)
	if err := s.Touch(ctx, "calm-otter"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(6 * time.Minute) // old-room idle 11 min, calm-otter 6 min
	perNode, err := s.Sweep(ctx)
	if err != nil || fmt.Sprint(perNode) != "map[e:1]" {
		t.Fatalf("Sweep = %v, %v; want map[e:1]", perNode, err)
	}
	keys, _, err := consul.Client(t).KV().Keys(DefaultOptions().Prefix, "", nil)
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys after sweep = %v, %v", keys, err)
	}

	if err := s.Delete(ctx, "calm-otter"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Get(ctx, "calm-otter"); ok {
		t.Fatal("Delete left the binding")
	}

	// Consul down: bindings read before are still answered from the copy; anything else fails with
	// rooms.ErrStore, within the timeout.
	kept, _, err := s.Bind(ctx, "kept-room", "k")
	if err != nil {
		t.Fatal(err)
	}
	consul.Stop(t)
	start := time.Now()
	_, _, err = s.Bind(ctx, "calm-otter", "a")
	if !errors.Is(err, rooms.ErrStore) {
		t.Fatalf("Bind with Consul down: %v, want ErrStore", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Bind with Consul down took %v", d)
	}
	// The copy says when Consul last confirmed it, so the Resolver can refuse a copy older than
	// its node's return.
	got, ok, err := s.Get(ctx, "kept-room")
	if err != nil || !ok || !got.CopiedAt.Equal(clk.Now()) {
		t.Fatalf("Get of a known room with Consul down = %+v, %v, %v; want a copy made at %v", got, ok, err, clk.Now())
	}
	if got.CopiedAt = (time.Time{}); got != kept {
		t.Fatalf("Get of a known room with Consul down = %+v, want %+v", got, kept)
	}
	if err := s.Touch(ctx, "kept-room"); err != nil {
		t.Fatalf("Touch with Consul down: %v", err)
	}
	if _, _, err := s.Get(ctx, "never-seen"); !errors.Is(err, rooms.ErrStore) {
		t.Fatalf("Get of an unknown room with Consul down: %v, want ErrStore", err)
	}
	clk.Advance(11 * time.Minute) // the copy expires like the bindings
	if _, ok, _ := s.Get(ctx, "kept-room"); ok {
		t.Fatal("an expired copy was answered")
	}
}

func TestOptionsValidated(t *testing.T) {
	c, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []Options{
		{Prefix: "rooms", TTL: time.Minute, Timeout: time.Second},
		{Prefix: "/rooms/", TTL: time.Minute, Timeout: time.Second},
		{Prefix: "rooms/", Timeout: time.Second},
		{Prefix: "rooms/", TTL: time.Minute},
	} {
		if _, err := New(c, o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

// same reports whether two answers name one binding (whatever copy answered).
func same(a, b rooms.Binding) bool {
	a.CopiedAt, a.ListedAt, b.CopiedAt, b.ListedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a == b
}

// countingTransport counts the HTTP requests a client sends.
type countingTransport struct {
	n    atomic.Int64
	next http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// TestWatchedCopy: with its watch current, a replica answers joins of bound rooms (its own and other
// replicas') without a Consul request, binds a new room in one request, and still agrees with a
// replica that bound the room after the copy's index; when Consul stops, bound rooms keep their node
// and new rooms fail with rooms.ErrStore.
func TestWatchedCopy(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	clk := newClock()
	counter := &countingTransport{next: http.DefaultTransport.(*http.Transport).Clone()}
	cfg := consul.Agent.Config()
	cfg.Transport = nil
	cfg.HttpClient = &http.Client{Transport: counter}
	watched, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, b := newStore(t, watched, clk), newStore(t, consul.Client(t), clk)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Watch(ctx, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() { cancel(); <-done })

	other, _, err := b.Bind(ctx, "other-replica", "node-1")
	if err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, func() error {
		if got, ok, fresh := a.fromMirror("other-replica"); !fresh || !ok || !same(got, other) {
			return fmt.Errorf("copy has %+v, %v (fresh %v)", got, ok, fresh)
		}
		return nil
	})
	// The watch's own blocking query is one request in flight; count only what Get and Bind add.
	before := counter.n.Load()
	for range 100 {
		if got, ok, err := a.Get(ctx, "other-replica"); err != nil || !ok || !same(got, other) {
			t.Fatalf("Get = %+v, %v, %v; want %+v", got, ok, err, other)
		}
	}
	if _, ok, err := a.Get(ctx, "brand-new"); err != nil || ok {
		t.Fatalf("Get of an unbound room = %v, %v; want a miss", ok, err)
	}
	mine, created, err := a.Bind(ctx, "brand-new", "node-2")
	if err != nil || !created {
		t.Fatalf("Bind = %+v, %v, %v", mine, created, err)
	}
	if got, ok, _ := a.Get(ctx, "brand-new"); !ok || !same(got, mine) {
		t.Fatalf("own binding not in the copy at once: %+v, %v", got, ok)
	}
	if n := counter.n.Load() - before; n > 2 { // the bind, and perhaps the watch waking up for it
		t.Fatalf("100 joins, a miss and a bind cost %d Consul requests, want 1 (+1 for the watch)", n)
	}
	if got, _, _ := b.Get(ctx, "brand-new"); got.Node != "node-2" || got.Version != mine.Version {
		t.Fatalf("the other replica reads %+v, want %+v", got, mine)
	}

	// A room bound by the other replica, asked for before the copy can have it: the create-only
	// check-and-set fails and the winner's binding comes back.
	for i := range 20 {
		room := fmt.Sprintf("race-%d", i)
		won, _, err := b.Bind(ctx, room, "node-3")
		if err != nil {
			t.Fatal(err)
		}
		got, created, err := a.Bind(ctx, room, "node-4")
		if err != nil || created || got.Node != won.Node {
			t.Fatalf("%s: Bind after the other replica's = %+v, %v, %v; want its %+v", room, got, created, err, won)
		}
	}

	consul.Stop(t)
	// Until a request fails or the watch's blocking query returns, nothing tells the replica that
	// Consul is gone; the failed bind does, and from then on the copy is served dated.
	if _, _, err := a.Bind(ctx, "during-outage", "node-1"); !errors.Is(err, rooms.ErrStore) {
		t.Fatalf("Bind with Consul down: %v, want ErrStore", err)
	}
	if got, ok, err := a.Get(ctx, "other-replica"); err != nil || !ok || got.Node != "node-1" || got.CopiedAt.IsZero() {
		t.Fatalf("Get of a bound room with Consul down = %+v, %v, %v; want node-1 from a dated copy", got, ok, err)
	}
	testenv.WaitFor(t, 10*time.Second, func() error {
		if a.local.current() {
			return errors.New("the watch has not noticed the outage")
		}
		return nil
	})
	if _, _, err := a.Get(ctx, "never-seen"); !errors.Is(err, rooms.ErrStore) {
		t.Fatalf("Get of an unknown room with Consul down and no watch: %v, want ErrStore", err)
	}
}
