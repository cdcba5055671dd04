package consulrooms

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
	"github.com/ensemble-jitsi/ensemble/selector/placement"
	"github.com/ensemble-jitsi/ensemble/selector/rooms"
)

// TestHeldRoomNotAnsweredFromCopy reproduces the soak's flip-flop after a Consul agent restart
// (the agent restores a node's checks critical one by one, so replicas can see the node's gone
// spell under different indexes): replica X, whose spell began long ago, moves the room off the
// gone node; replica Y sees a later spell, so its hold has just begun. Y must not answer the old
// node from its watched copy, which still holds the binding from before X's move: that sends the
// meeting's next joiners back to the old node while X sends them to the new one.
func TestHeldRoomNotAnsweredFromCopy(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	clk := newClock()
	x, y := newStore(t, consul.Client(t), clk), newStore(t, consul.Client(t), clk)
	ctx := context.Background()
	if _, _, err := x.Bind(ctx, "standup", "a"); err != nil {
		t.Fatal(err)
	}
	// Y's watch lists the binding, then stops: its copy stays complete as of now, as between two
	// of the watch's answers, and the move below is not in it.
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); y.Watch(wctx, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, ok, fresh := y.fromMirror("standup"); fresh && ok && b.Node == "a" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Y's watch never listed the binding")
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	<-done

	res, err := holdResolver(t, x, clk).Resolve(ctx, besideB(t, clk, goneA(clk, 10, 2*testHold)), "standup", placement.SystemRand{})
	if err != nil || res.Node.ID != "b" || res.Outcome != rooms.Rebound {
		t.Fatalf("X: Resolve = %+v, %v; want the room moved to b", res, err)
	}
	if b, ok, fresh := y.fromMirror("standup"); !fresh || !ok || b.Node != "a" {
		t.Fatalf("Y's copy = %+v %v %v; the test needs it to still say a", b, ok, fresh)
	}
	res, err = holdResolver(t, y, clk).Resolve(ctx, besideB(t, clk, goneA(clk, 12, 0)), "standup", placement.SystemRand{})
	if err != nil || res.Node.ID != "b" {
		t.Fatalf("Y: Resolve = %+v, %v; want b, where X moved the room (a is a split)", res, err)
	}
}

// testHold is the --rooms.move-after of the two-replica tests, the soak's.
const testHold = 6 * time.Second

// holdResolver is a replica's Resolver on s, with testHold.
func holdResolver(t *testing.T, s *Store, clk *testenv.Clock) *rooms.Resolver {
	t.Helper()
	r, err := rooms.NewResolver(rooms.ResolverOptions{Store: s, Policy: placement.LeastLoaded{}, Now: clk.Now,
		TouchEvery: rooms.DefaultTouchEvery, MoveAfter: testHold, Deadline: rooms.DefaultDeadline,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// goneA is node a gone for goneFor, in spell.
func goneA(clk *testenv.Clock, spell uint64, goneFor time.Duration) placement.Node {
	return placement.Node{ID: "a", URL: "https://a.example", Capacity: 4, State: placement.Gone,
		GoneSince: clk.Now().Add(-goneFor), GoneIndex: spell}
}

// besideB is a replica's view of a and of b, eligible and lightly loaded.
func besideB(t *testing.T, clk *testenv.Clock, a placement.Node) *placement.Snapshot {
	t.Helper()
	led, err := placement.NewLedger(placement.DefaultConfig(), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	return led.Snapshot([]placement.Node{a,
		{ID: "b", URL: "https://b.example", Capacity: 4, Load: 0.2, State: placement.Eligible, LiveSince: clk.Now().Add(-time.Hour)}})
}
