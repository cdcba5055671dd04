package consulrooms

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
	"github.com/ensemble-jitsi/ensemble/selector/placement"
	"github.com/ensemble-jitsi/ensemble/selector/rooms"
)

// slowConsul puts a proxy in front of the agent that holds every request for delay before
// relaying it, as a Consul electing a leader answers: each call slow, none failing.
func slowConsul(t *testing.T, consul *testenv.Consul, delay time.Duration) *api.Client {
	t.Helper()
	return consul.HeldClient(t, func(r *http.Request) {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		}
	})
}

// TestResolveDeadline: while Consul answers each call slowly but within the store's timeout, a
// lookup that needs several calls (read the binding, the shared gone clock, the move) would add
// them up past what a client or balancer waits (the soak saw a 5 s answer during leader
// elections). The Resolver's deadline bounds the whole lookup: it fails with ErrStore (503
// store_unavailable) promptly, and succeeds once Consul is fast again.
func TestResolveDeadline(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	clk := newClock()
	opts := DefaultOptions()
	opts.Now, opts.TTL, opts.Timeout = clk.Now, 10*time.Minute, 2*time.Second
	ctx := context.Background()
	fast, err := New(consul.Client(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := fast.Bind(ctx, "standup", "a"); err != nil {
		t.Fatal(err)
	}
	slow, err := New(slowConsul(t, consul, 600*time.Millisecond), opts)
	if err != nil {
		t.Fatal(err)
	}
	const deadline = 500 * time.Millisecond
	led, err := placement.NewLedger(placement.DefaultConfig(), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	a := placement.Node{ID: "a", URL: "https://a.example", Capacity: 4, State: placement.Gone,
		GoneSince: clk.Now().Add(-time.Minute), GoneIndex: 7}
	b := placement.Node{ID: "b", URL: "https://b.example", Capacity: 4, Load: 0.2, State: placement.Eligible}
	for _, tc := range []struct {
		name  string
		store *Store
		want  error
	}{
		{"slow consul: a prompt store error", slow, rooms.ErrStore},
		{"fast consul: the room moves", fast, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := rooms.NewResolver(rooms.ResolverOptions{Store: tc.store, Policy: placement.LeastLoaded{}, Now: clk.Now,
				TouchEvery: rooms.DefaultTouchEvery, MoveAfter: 10 * time.Second, Deadline: deadline,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			res, err := r.Resolve(ctx, led.Snapshot([]placement.Node{a, b}), "standup", placement.SystemRand{})
			took := time.Since(start)
			if !errors.Is(err, tc.want) || (tc.want == nil && res.Node.ID != "b") {
				t.Fatalf("Resolve = %+v, %v; want %v", res, err, tc.want)
			}
			// Twice the deadline: without it the slow lookup takes four calls of 600 ms.
			if took > 2*deadline {
				t.Errorf("Resolve took %v, want at most %v (twice the lookup deadline)", took, 2*deadline)
			}
		})
	}
}
