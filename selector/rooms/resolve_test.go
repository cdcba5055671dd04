package rooms

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

func snapshot(t *testing.T, c *testenv.Clock, nodes ...placement.Node) *placement.Snapshot {
	t.Helper()
	f, err := placement.NewLedger(placement.DefaultConfig(), c.Now)
	if err != nil {
		t.Fatal(err)
	}
	return f.Snapshot(nodes)
}

func resolver(t *testing.T, store Store, c *testenv.Clock) *Resolver {
	t.Helper()
	r, err := NewResolver(ResolverOptions{
		Store: store, Policy: placement.LeastLoaded{}, Now: c.Now, TouchEvery: DefaultTouchEvery,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func node(id string, load float64, st placement.State) placement.Node {
	return placement.Node{ID: id, URL: "https://" + id + ".example", Capacity: 4, Load: load, State: st}
}

// TestResolve checks the binding rules: a bound room stays on its node while the node exists
// (eligible or draining, however loaded), moves only when the node is gone, and a new room goes
// where the policy says.
func TestResolve(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name        string
		nodes       []placement.Node
		boundTo     string // "" = unbound
		room        string
		wantNode    string
		wantOutcome Outcome
		wantErr     error
		wantPending string // node whose pending account must have grown by one
	}{
		{name: "unbound room goes to the policy's pick", room: "standup",
			nodes:    []placement.Node{node("a", 0.5, placement.Eligible), node("b", 0.2, placement.Eligible)},
			wantNode: "b", wantOutcome: Created, wantPending: "b"},
		{name: "bound room stays on an overloaded node", room: "standup", boundTo: "a",
			nodes:    []placement.Node{node("a", 0.97, placement.Eligible), node("b", 0.1, placement.Eligible)},
			wantNode: "a", wantOutcome: Existing},
		{name: "bound room stays on a draining node", room: "standup", boundTo: "a",
			nodes:    []placement.Node{node("a", 0.3, placement.Draining), node("b", 0.1, placement.Eligible)},
			wantNode: "a", wantOutcome: Existing},
		{name: "bound room stays on a draining node when nothing else is eligible", room: "standup", boundTo: "a",
			nodes:    []placement.Node{node("a", 0.3, placement.Draining)},
			wantNode: "a", wantOutcome: Existing},
		{name: "bound room on a gone node is rebound", room: "standup", boundTo: "a",
			nodes:    []placement.Node{node("a", 0.1, placement.Gone), node("b", 0.4, placement.Eligible), node("c", 0.3, placement.Eligible)},
			wantNode: "c", wantOutcome: Rebound, wantPending: "c"},
		{name: "bound room on a node that left the catalog is rebound", room: "standup", boundTo: "x",
			nodes:    []placement.Node{node("b", 0.4, placement.Eligible)},
			wantNode: "b", wantOutcome: Rebound, wantPending: "b"},
		{name: "room names are case-insensitive", room: "StandUp", boundTo: "a",
			nodes:    []placement.Node{node("a", 0.5, placement.Eligible), node("b", 0.2, placement.Eligible)},
			wantNode: "a", wantOutcome: Existing},
		{name: "no eligible node for a new room", room: "standup",
			nodes:   []placement.Node{node("a", 0.1, placement.Draining), node("b", 0.1, placement.Gone)},
			wantErr: placement.ErrNoNode},
		{name: "no eligible node for a room whose node is gone", room: "standup", boundTo: "b",
			nodes:   []placement.Node{node("a", 0.1, placement.Draining), node("b", 0.1, placement.Gone)},
			wantErr: placement.ErrNoNode},
		{name: "invalid room name", room: "../admin",
			nodes:   []placement.Node{node("a", 0.1, placement.Eligible)},
			wantErr: ErrInvalidName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			store := newMemory(t, 10*time.Minute, c)
			if tc.boundTo != "" {
				store.Bind(ctx, "standup", tc.boundTo)
			}
			s := snapshot(t, c, tc.nodes...)
			res, err := resolver(t, store, c).Resolve(ctx, s, tc.room, rand.New(rand.NewPCG(1, 1)))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Node.ID != tc.wantNode || res.Outcome != tc.wantOutcome || res.Room != "standup" {
				t.Fatalf("got %s on %s (%s), want %s (%s)", res.Room, res.Node.ID, res.Outcome, tc.wantNode, tc.wantOutcome)
			}
			if b, ok, _ := store.Get(ctx, "standup"); !ok || b.Node != tc.wantNode {
				t.Fatalf("stored binding = %+v, %v", b, ok)
			}
			for i, n := range s.Nodes() {
				want := 0
				if n.ID == tc.wantPending {
					want = 1
				}
				if got := s.Pending(i); got != want {
					t.Errorf("pending of %s = %d, want %d", n.ID, got, want)
				}
			}
		})
	}
}

// racingStore lets another writer bind or move the room between our Get and our write.
type racingStore struct {
	*Memory
	rival string
}

func (r *racingStore) Bind(ctx context.Context, room, node string) (Binding, bool, error) {
	r.Memory.Bind(ctx, room, r.rival)
	return r.Memory.Bind(ctx, room, node)
}

func (r *racingStore) Rebind(ctx context.Context, old Binding, node string) (Binding, bool, error) {
	r.Memory.Rebind(ctx, old, r.rival)
	return r.Memory.Rebind(ctx, old, node)
}

func TestResolveLosesRace(t *testing.T) {
	ctx := context.Background()
	for _, bound := range []bool{false, true} {
		c := newClock()
		store := &racingStore{Memory: newMemory(t, 10*time.Minute, c), rival: "a"}
		if bound {
			store.Memory.Bind(ctx, "standup", "gone")
		}
		s := snapshot(t, c, node("a", 0.5, placement.Eligible), node("b", 0.2, placement.Eligible), node("gone", 0, placement.Gone))
		res, err := resolver(t, store, c).Resolve(ctx, s, "standup", rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if res.Node.ID != "a" || res.Outcome != Joined {
			t.Fatalf("bound=%v: got %s (%s), want the rival's node a (joined)", bound, res.Node.ID, res.Outcome)
		}
		if i, _ := s.Index("b"); s.Pending(i) != 0 {
			t.Fatalf("bound=%v: the losing pick was counted as an assignment", bound)
		}
	}
}

// TestResolveConcurrent: many requests for one new room at once, as when a meeting link is
// shared, all get the same node and the room is assigned once.
func TestResolveConcurrent(t *testing.T) {
	c := newClock()
	store := newMemory(t, 10*time.Minute, c)
	nodes := make([]placement.Node, 10)
	for i := range nodes {
		nodes[i] = node(string(rune('a'+i)), 0.3, placement.Eligible)
	}
	s := snapshot(t, c, nodes...)
	r, err := NewResolver(ResolverOptions{Store: store, Policy: placement.P2C{}, Now: c.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([]string, 64)
	for k := range got {
		wg.Go(func() {
			res, err := r.Resolve(context.Background(), s, "all-hands", placement.SystemRand{})
			if err != nil {
				t.Error(err)
				return
			}
			got[k] = res.Node.ID
		})
	}
	wg.Wait()
	total := 0
	for i := range nodes {
		total += s.Pending(i)
	}
	for _, id := range got {
		if id != got[0] {
			t.Fatalf("room split across nodes: %v", got)
		}
	}
	if total != 1 {
		t.Fatalf("%d assignments recorded for one room", total)
	}
}

// TestResolveTouch: a room in use keeps its binding past the idle TTL; the store is written at
// most once per TouchEvery.
func TestResolveTouch(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	store := &countingStore{Memory: newMemory(t, 5*time.Minute, c)}
	s := snapshot(t, c, node("a", 0.1, placement.Eligible), node("b", 0.2, placement.Eligible))
	r := resolver(t, store, c)
	for range 60 { // a lookup every 10 s for 10 minutes
		res, err := r.Resolve(ctx, s, "standup", rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if res.Node.ID != "a" {
			t.Fatalf("room moved to %s", res.Node.ID)
		}
		c.Advance(10 * time.Second)
	}
	if store.touches < 9 || store.touches > 10 {
		t.Fatalf("%d touches in 10 minutes with TouchEvery=1m", store.touches)
	}
}

type countingStore struct {
	*Memory
	touches int
}

func (s *countingStore) Touch(ctx context.Context, room string) error {
	s.touches++
	return s.Memory.Touch(ctx, room)
}

type failingStore struct{ Store }

var errDown = errors.New("consul: connection refused")

func (failingStore) Get(context.Context, string) (Binding, bool, error) {
	return Binding{}, false, errDown
}

func TestResolveStoreDown(t *testing.T) {
	c := newClock()
	s := snapshot(t, c, node("a", 0.1, placement.Eligible))
	_, err := resolver(t, failingStore{}, c).Resolve(context.Background(), s, "standup", placement.SystemRand{})
	if !errors.Is(err, ErrStore) || !errors.Is(err, errDown) {
		t.Fatalf("err = %v, want ErrStore wrapping the cause", err)
	}
}

// TestResolveRegions: a new room stays in its home region while the region has a node under the
// high-water mark, spills to the nearest neighbour with one when it has none, stays home saturated
// when the neighbours are full too, and a bound room stays on its node whoever asks.
func TestResolveRegions(t *testing.T) {
	ctx := context.Background()
	c := testenv.NewClock(time.Unix(1_800_000_000, 0))
	in := func(id, region string, load float64) placement.Node {
		n := node(id, load, placement.Eligible)
		n.Region = region
		return n
	}
	for _, tc := range []struct {
		name        string
		nodes       []placement.Node
		home        string
		want        string
		spilled     bool
		saturated   bool
		neighbours  map[string][]string
		wantOutcome Outcome
	}{
		{name: "home has room", home: "eu",
			nodes: []placement.Node{in("eu-1", "eu", 0.5), in("us-1", "us", 0.1), in("ap-1", "ap", 0.05)}, want: "eu-1"},
		{name: "home saturated: nearest neighbour with room", home: "eu",
			nodes: []placement.Node{in("eu-1", "eu", 0.9), in("us-1", "us", 0.85), in("ap-1", "ap", 0.3), in("me-1", "me", 0.1)},
			want:  "ap-1", spilled: true},
		{name: "everyone saturated: stay home", home: "eu",
			nodes: []placement.Node{in("eu-1", "eu", 0.95), in("us-1", "us", 0.85), in("ap-1", "ap", 0.9)}, want: "eu-1", saturated: true},
		{name: "no eligible node at home: the nearest neighbour", home: "eu",
			nodes: []placement.Node{in("us-1", "us", 0.5), in("ap-1", "ap", 0.2)}, want: "us-1", spilled: true},
		{name: "no node at home, no neighbours: the whole fleet", home: "af",
			nodes: []placement.Node{in("us-1", "us", 0.5), in("ap-1", "ap", 0.2)}, want: "ap-1", spilled: true},
		{name: "no home region: region-blind", home: "",
			nodes: []placement.Node{in("eu-1", "eu", 0.5), in("us-1", "us", 0.2)}, want: "us-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewResolver(ResolverOptions{
				Store: mustMemory(t, c), Policy: placement.LeastLoaded{}, Now: c.Now, TouchEvery: DefaultTouchEvery,
				Logger: slog.New(slog.DiscardHandler), Neighbours: map[string][]string{"eu": {"us", "ap", "me"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			s := snapshot(t, c, tc.nodes...)
			res, err := r.ResolveIn(ctx, s, "room", tc.home, rand.New(rand.NewPCG(1, 1)))
			if err != nil {
				t.Fatal(err)
			}
			if res.Node.ID != tc.want || res.Spilled != tc.spilled || res.Saturated != tc.saturated {
				t.Fatalf("got %s spilled %v saturated %v, want %s %v %v", res.Node.ID, res.Spilled, res.Saturated, tc.want, tc.spilled, tc.saturated)
			}
			// Someone from another region joins the same room: same node, never split.
			again, err := r.ResolveIn(ctx, s, "room", "elsewhere", rand.New(rand.NewPCG(2, 2)))
			if err != nil || again.Node.ID != tc.want || again.Outcome != Existing {
				t.Fatalf("second join from another region: %+v, %v", again, err)
			}
		})
	}
}

func mustMemory(t *testing.T, c *testenv.Clock) *Memory {
	t.Helper()
	m, err := NewMemory(time.Hour, 0, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// copyStore answers every Get from a copy made at `at`, as the Consul store does while Consul
// does not answer.
type copyStore struct {
	Store
	at time.Time
}

func (c copyStore) Get(ctx context.Context, room string) (Binding, bool, error) {
	b, ok, err := c.Store.Get(ctx, room)
	b.CopiedAt = c.at
	return b, ok, err
}

// standupOnA returns a memory store with room standup bound to node a.
func standupOnA(t *testing.T, c *testenv.Clock) *Memory {
	t.Helper()
	mem, err := NewMemory(time.Hour, 0, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := mem.Bind(context.Background(), "standup", "a"); err != nil {
		t.Fatal(err)
	}
	return mem
}

// TestResolveStaleCopy: a binding answered from a local copy is served only if its node has not
// come back since the copy was current; otherwise another replica may have moved the room while
// the node was gone, and serving the copy would split it.
func TestResolveStaleCopy(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	copied := c.Now().Add(-time.Minute)
	for _, tc := range []struct {
		name      string
		liveSince time.Time
		wantErr   bool
	}{
		{name: "node live since before the copy", liveSince: copied.Add(-time.Second)},
		{name: "node's return unknown", liveSince: time.Time{}},
		{name: "node live since the copy's own time", liveSince: copied},
		{name: "node came back after the copy", liveSince: copied.Add(time.Second), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := standupOnA(t, c)
			a, b := node("a", 0.9, placement.Eligible), node("b", 0.1, placement.Eligible)
			a.LiveSince = tc.liveSince
			s := snapshot(t, c, a, b)
			res, err := resolver(t, copyStore{mem, copied}, c).Resolve(ctx, s, "standup", placement.SystemRand{})
			switch {
			case tc.wantErr && !errors.Is(err, ErrStore):
				t.Fatalf("Resolve = %+v, %v; want ErrStore", res, err)
			case !tc.wantErr && (err != nil || res.Node.ID != "a" || res.Outcome != Existing):
				t.Fatalf("Resolve = %+v, %v; want the existing binding on a", res, err)
			}
			if got, _, _ := mem.Get(ctx, "standup"); got.Node != "a" {
				t.Fatalf("binding changed to %+v; a stale copy must not move the room", got)
			}
		})
	}
}

// TestResolveMoveAfter: a room stays on a gone node until the node has been gone for MoveAfter, so a
// health flap shorter than that does not split its meeting; then it moves, once.
func TestResolveMoveAfter(t *testing.T) {
	ctx := context.Background()
	const hold = 10 * time.Second
	for _, tc := range []struct {
		name     string
		goneFor  time.Duration // -1: gone, time unknown
		moveAt0  bool          // MoveAfter 0: move at once
		wantNode string
		want     Outcome
	}{
		{name: "just gone", goneFor: 0, wantNode: "a", want: Held},
		{name: "gone for less than the hold", goneFor: hold - time.Millisecond, wantNode: "a", want: Held},
		{name: "gone for the hold", goneFor: hold, wantNode: "b", want: Rebound},
		{name: "gone since an unknown time", goneFor: -1, wantNode: "b", want: Rebound},
		{name: "no hold", goneFor: 0, moveAt0: true, wantNode: "b", want: Rebound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			mem := standupOnA(t, c)
			a, b := node("a", 0.1, placement.Gone), node("b", 0.5, placement.Eligible)
			if tc.goneFor >= 0 {
				a.GoneSince = c.Now().Add(-tc.goneFor)
			}
			opts := ResolverOptions{Store: mem, Policy: placement.LeastLoaded{}, Now: c.Now, MoveAfter: hold,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			if tc.moveAt0 {
				opts.MoveAfter = 0
			}
			r, err := NewResolver(opts)
			if err != nil {
				t.Fatal(err)
			}
			s := snapshot(t, c, a, b)
			res, err := r.Resolve(ctx, s, "standup", placement.SystemRand{})
			if err != nil || res.Node.ID != tc.wantNode || res.Outcome != tc.want {
				t.Fatalf("Resolve = %+v, %v; want %s (%s)", res, err, tc.wantNode, tc.want)
			}
			if got, _, _ := mem.Get(ctx, "standup"); got.Node != tc.wantNode {
				t.Fatalf("binding is %+v, want it on %s", got, tc.wantNode)
			}
			// A new room never goes to the gone node, hold or not.
			if res, err := r.Resolve(ctx, s, "fresh", placement.SystemRand{}); err != nil || res.Node.ID != "b" {
				t.Fatalf("new room: Resolve = %+v, %v; want b", res, err)
			}
		})
	}
}

// TestUnjoinedExpiry: a room nobody asks for again after creating it expires after the unjoined
// TTL (the review's N4: a flood of rooms nobody joins would otherwise hold --limits.max-rooms
// for the whole TTL); the first later lookup (a join) gives its binding the full TTL.
func TestUnjoinedExpiry(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	mem, err := NewMemory(24*time.Hour, 30*time.Minute, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	r := resolver(t, mem, c)
	s := snapshot(t, c, node("a", 0.1, placement.Eligible))
	rng := rand.New(rand.NewPCG(1, 1))
	for _, room := range []string{"lonely", "meeting"} {
		if res, err := r.ResolveIn(ctx, s, room, "", rng); err != nil || res.Outcome != Created {
			t.Fatalf("create %s: %+v, %v", room, res, err)
		}
	}
	c.Advance(time.Second)
	if res, err := r.ResolveIn(ctx, s, "meeting", "", rng); err != nil || res.Outcome != Existing {
		t.Fatalf("join meeting: %+v, %v", res, err)
	}
	c.Advance(31 * time.Minute)
	if _, ok, _ := mem.Get(ctx, "lonely"); ok {
		t.Error("a room nobody joined outlived the unjoined TTL")
	}
	if _, ok, _ := mem.Get(ctx, "meeting"); !ok {
		t.Error("a joined room expired after the unjoined TTL")
	}
	c.Advance(24 * time.Hour)
	if _, ok, _ := mem.Get(ctx, "meeting"); ok {
		t.Error("a joined room outlived the TTL")
	}
}

// sharedClock is a GoneClock kept in memory, as the Consul store keeps it in KV: the first
// record of a spell stands, a later spell replaces it.
type sharedClock struct {
	*Memory
	spell uint64
	since time.Time
	err   error
	backs int
}

func (c *sharedClock) Back(context.Context, string) { c.backs++ }

func (c *sharedClock) GoneSince(_ context.Context, _ string, spell uint64, seen time.Time) (time.Time, error) {
	if c.err != nil {
		return time.Time{}, c.err
	}
	if c.spell < spell {
		c.spell, c.since = spell, seen
	}
	return c.since, nil
}

// TestResolveSharedHold: with a store shared between replicas, the hold counts from the spell's
// shared time: a replica restarted during a spell (its own GoneSince is its start) moves the room
// when the others do, a later spell (the node came back and went again) starts the hold again on a
// replica that missed the return, and a clock that cannot be read holds the room.
func TestResolveSharedHold(t *testing.T) {
	ctx := context.Background()
	const hold = 10 * time.Second
	for _, tc := range []struct {
		name     string
		spell    uint64        // the store's record
		ago      time.Duration // its time, before now
		err      error
		mySpell  uint64
		myAgo    time.Duration // this replica's GoneSince
		wantNode string
	}{
		{name: "restarted replica, spell seen long ago by another", spell: 5, ago: hold, mySpell: 5, myAgo: 0, wantNode: "b"},
		{name: "restarted replica, spell young", spell: 5, ago: hold - time.Second, mySpell: 5, myAgo: 0, wantNode: "a"},
		{name: "first to see the spell records its own time", mySpell: 5, myAgo: hold, wantNode: "b"},
		{name: "a later spell restarts the hold", spell: 6, ago: time.Second, mySpell: 5, myAgo: 2 * hold, wantNode: "a"},
		{name: "clock unreadable holds", err: errors.New("consul down"), mySpell: 5, myAgo: 2 * hold, wantNode: "a"},
		{name: "spell unknown: own time", spell: 5, ago: 0, mySpell: 0, myAgo: hold, wantNode: "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			store := &sharedClock{Memory: standupOnA(t, c), spell: tc.spell, since: c.Now().Add(-tc.ago), err: tc.err}
			a, b := node("a", 0.1, placement.Gone), node("b", 0.5, placement.Eligible)
			a.GoneSince, a.GoneIndex = c.Now().Add(-tc.myAgo), tc.mySpell
			r, err := NewResolver(ResolverOptions{Store: store, Policy: placement.LeastLoaded{}, Now: c.Now, MoveAfter: hold,
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Resolve(ctx, snapshot(t, c, a, b), "standup", placement.SystemRand{})
			if err != nil || res.Node.ID != tc.wantNode {
				t.Fatalf("Resolve = %+v, %v; want %s", res, err, tc.wantNode)
			}
			// A lookup that finds its node live tells the clock so (b: the moved room, or a new one).
			before := store.backs
			if _, err := r.Resolve(ctx, snapshot(t, c, a, b), "other", placement.SystemRand{}); err != nil || store.backs != before+1 {
				t.Fatalf("new room on live b: %v, clock told %d times, want once", err, store.backs-before)
			}
		})
	}
}

// listedStore answers Get from a watched copy listed at `at` that still has the room on node a,
// and GetFresh from the store itself.
type listedStore struct {
	*Memory
	at     time.Time
	asked  int
	listed Binding
}

func (s *listedStore) Get(context.Context, string) (Binding, bool, error) {
	b := s.listed
	b.ListedAt = s.at
	return b, true, nil
}

func (s *listedStore) GetFresh(ctx context.Context, room string) (Binding, bool, error) {
	s.asked++
	return s.Memory.Get(ctx, room)
}

// TestResolveRefreshesWatchedCopy: after another replica moved a room off a node that was gone,
// a replica whose watched copy predates the node's return asks the store itself rather than send
// the room back to the old node (a split); a copy listed after the return is served.
func TestResolveRefreshesWatchedCopy(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	listed := c.Now().Add(-time.Second)
	for _, tc := range []struct {
		name      string
		liveSince time.Time
		wantNode  string
		wantAsked int
	}{
		{name: "node back after the listing", liveSince: listed.Add(500 * time.Millisecond), wantNode: "b", wantAsked: 1},
		{name: "node live before the listing", liveSince: listed.Add(-time.Minute), wantNode: "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := standupOnA(t, c)
			old, _, _ := mem.Get(ctx, "standup")
			if _, moved, err := mem.Rebind(ctx, old, "b"); err != nil || !moved {
				t.Fatalf("rebind: %v %v", moved, err)
			}
			store := &listedStore{Memory: mem, at: listed, listed: old}
			a, b := node("a", 0.1, placement.Eligible), node("b", 0.5, placement.Eligible)
			a.LiveSince = tc.liveSince
			res, err := resolver(t, store, c).Resolve(ctx, snapshot(t, c, a, b), "standup", placement.SystemRand{})
			if err != nil || res.Node.ID != tc.wantNode || store.asked != tc.wantAsked {
				t.Fatalf("Resolve = %+v, %v, store asked %d times; want %s, asked %d", res, err, store.asked, tc.wantNode, tc.wantAsked)
			}
		})
	}
}
