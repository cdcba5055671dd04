package consulrooms

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
	"github.com/ensemble-jitsi/ensemble/selector/placement"
	"github.com/ensemble-jitsi/ensemble/selector/rooms"
)

// TestGoneRoomNotHeldFromOutageCopy reproduces the split of the 10-minute soak with seed
// 7979172301437737146 (+69.2 s and +80.1 s): during a Consul leader election, replica Y could not
// reach Consul and answered a room on a gone node from its outage copy, holding it there, while
// replica X, which could write, had just moved the room off that node. The copy cannot show a move
// made by another replica, and the room's node being gone is exactly when one may have been made:
// Y must answer 503 store_unavailable (ErrStore) instead. A room on a live node is still answered
// from the copy through the outage, as before.
func TestGoneRoomNotHeldFromOutageCopy(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	clk := newClock()
	ctx := context.Background()
	x := newStore(t, consul.Client(t), clk)
	// Y's Consul answers nothing while cut: each call runs into Y's timeout, as during an election.
	var cut atomic.Bool
	cutClient := consul.HeldClient(t, func(r *http.Request) {
		if cut.Load() {
			<-r.Context().Done()
		}
	})
	opts := DefaultOptions()
	opts.Now, opts.TTL, opts.Timeout = clk.Now, 10*time.Minute, 300*time.Millisecond
	y, err := New(cutClient, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, room := range []string{"standup", "retro"} {
		if _, _, err := x.Bind(ctx, room, "a"); err != nil {
			t.Fatal(err)
		}
		// Y has read the binding: its outage copy holds it.
		if b, ok, err := y.Get(ctx, room); err != nil || !ok || b.Node != "a" {
			t.Fatalf("Y: Get(%s) = %+v %v %v; want a", room, b, ok, err)
		}
	}
	cut.Store(true)

	const hold = 6 * time.Second
	resolver := func(s *Store) *rooms.Resolver {
		r, err := rooms.NewResolver(rooms.ResolverOptions{Store: s, Policy: placement.LeastLoaded{}, Now: clk.Now,
			TouchEvery: rooms.DefaultTouchEvery, MoveAfter: hold, Deadline: rooms.DefaultDeadline,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	view := func(a placement.Node) *placement.Snapshot {
		led, err := placement.NewLedger(placement.DefaultConfig(), clk.Now)
		if err != nil {
			t.Fatal(err)
		}
		return led.Snapshot([]placement.Node{a,
			{ID: "b", URL: "https://b.example", Capacity: 4, Load: 0.2, State: placement.Eligible, LiveSince: clk.Now().Add(-time.Hour)}})
	}
	gone := func(goneFor time.Duration) placement.Node {
		return placement.Node{ID: "a", URL: "https://a.example", Capacity: 4, State: placement.Gone,
			GoneSince: clk.Now().Add(-goneFor), GoneIndex: 10}
	}

	// X sees a gone past the hold and moves the room.
	res, err := resolver(x).Resolve(ctx, view(gone(2*hold)), "standup", placement.SystemRand{})
	if err != nil || res.Node.ID != "b" || res.Outcome != rooms.Rebound {
		t.Fatalf("X: Resolve = %+v, %v; want the room moved to b", res, err)
	}
	// Y sees a gone too, within its hold (its view began the spell later), and cannot ask Consul.
	res, err = resolver(y).Resolve(ctx, view(gone(time.Second)), "standup", placement.SystemRand{})
	if !errors.Is(err, rooms.ErrStore) {
		t.Fatalf("Y: Resolve = %+v, %v; want ErrStore: the copy says a, X moved the room to b", res, err)
	}

	// A room on a live node keeps its node from the copy through the outage.
	live := placement.Node{ID: "a", URL: "https://a.example", Capacity: 4, Load: 0.2, State: placement.Eligible,
		LiveSince: clk.Now().Add(-time.Hour)}
	res, err = resolver(y).Resolve(ctx, view(live), "retro", placement.SystemRand{})
	if err != nil || res.Node.ID != "a" || res.Outcome != rooms.Existing {
		t.Fatalf("Y: Resolve(retro) = %+v, %v; want a from the outage copy", res, err)
	}
}
