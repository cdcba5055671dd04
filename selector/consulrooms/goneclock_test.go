package consulrooms

import (
	"context"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

// TestGoneClock: replicas sharing Consul agree on when a node's spell of being gone began (the
// first to write it sets the time), a replica restarted meanwhile reads the same time, a later
// spell starts a new one, and the records are neither counted nor swept as bindings.
func TestGoneClock(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	clk := newClock()
	a, b := newStore(t, consul.Client(t), clk), newStore(t, consul.Client(t), clk)
	ctx := context.Background()
	t1, t2, t3 := clk.Now(), clk.Now().Add(3*time.Second), clk.Now().Add(20*time.Second)
	for _, step := range []struct {
		name  string
		s     *Store
		spell uint64
		seen  time.Time
		want  time.Time
	}{
		{"first replica records the spell", a, 10, t1, t1},
		{"second replica reads it", b, 10, t2, t1},
		{"a later spell restarts it", b, 12, t3, t3},
		{"a replica behind gets the later spell's time", a, 11, t2, t3},
		{"a restarted replica reads it", newStore(t, consul.Client(t), clk), 12, t3.Add(time.Minute), t3},
	} {
		got, err := step.s.GoneSince(ctx, "node-1", step.spell, step.seen)
		if err != nil || !got.Equal(step.want) {
			t.Fatalf("%s: GoneSince = %v, %v; want %v", step.name, got, err, step.want)
		}
	}
	if _, err := a.GoneSince(ctx, "node-1", 0, t1); err == nil {
		t.Error("GoneSince of spell 0: no error")
	}

	// The node is back: a replica that knew the record removes it, so one whose view still shows
	// spell 12 (a lagging server) starts a hold of its own instead of using the ended spell's time.
	b.Back(ctx, "node-1")
	t4 := t3.Add(time.Minute)
	if got, err := newStore(t, consul.Client(t), clk).GoneSince(ctx, "node-1", 12, t4); err != nil || !got.Equal(t4) {
		t.Fatalf("after Back: GoneSince of the ended spell = %v, %v; want its own time %v", got, err, t4)
	}
	a.Back(ctx, "never-gone") // nothing known: nothing asked

	if _, _, err := a.Bind(ctx, "room-1", "node-2"); err != nil {
		t.Fatal(err)
	}
	per, err := a.Sweep(ctx)
	if err != nil || len(per) != 1 || per["node-2"] != 1 {
		t.Fatalf("Sweep = %v, %v; want only room-1 on node-2", per, err)
	}
	if got, err := b.GoneSince(ctx, "node-1", 12, t1); err != nil || !got.Equal(t4) {
		t.Fatalf("gone record after a sweep: %v, %v; want it kept (%v)", got, err, t4)
	}

	consul.Stop(t)
	if _, err := newStore(t, consul.Client(t), clk).GoneSince(ctx, "node-1", 13, t1); err == nil {
		t.Error("GoneSince with Consul down: no error (the Resolver must hold the room, not guess)")
	}
}
