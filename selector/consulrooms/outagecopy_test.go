package consulrooms

import (
	"context"
	"errors"
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

	// X sees a gone past the hold and moves the room.
	res, err := holdResolver(t, x, clk).Resolve(ctx, besideB(t, clk, goneA(clk, 10, 2*testHold)), "standup", placement.SystemRand{})
	if err != nil || res.Node.ID != "b" || res.Outcome != rooms.Rebound {
		t.Fatalf("X: Resolve = %+v, %v; want the room moved to b", res, err)
	}
	// Y sees a gone too, within its hold (its view began the spell later), and cannot ask Consul.
	res, err = holdResolver(t, y, clk).Resolve(ctx, besideB(t, clk, goneA(clk, 10, time.Second)), "standup", placement.SystemRand{})
	if !errors.Is(err, rooms.ErrStore) {
		t.Fatalf("Y: Resolve = %+v, %v; want ErrStore: the copy says a, X moved the room to b", res, err)
	}

	// A room on a live node keeps its node from the copy through the outage.
	live := placement.Node{ID: "a", URL: "https://a.example", Capacity: 4, Load: 0.2, State: placement.Eligible,
		LiveSince: clk.Now().Add(-time.Hour)}
	res, err = holdResolver(t, y, clk).Resolve(ctx, besideB(t, clk, live), "retro", placement.SystemRand{})
	if err != nil || res.Node.ID != "a" || res.Outcome != rooms.Existing {
		t.Fatalf("Y: Resolve(retro) = %+v, %v; want a from the outage copy", res, err)
	}
}
