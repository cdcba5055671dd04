package consulrooms

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/internal/testenv"
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
	if got, ok, err := s.Get(ctx, "kept-room"); err != nil || !ok || got != kept {
		t.Fatalf("Get of a known room with Consul down = %+v, %v, %v; want %+v", got, ok, err, kept)
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
