package catalog

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
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

// startWatch runs an unbound watcher (the test agent registers every instance on its own
// Consul node); mods change its options.
func startWatch(t *testing.T, c *api.Client, hooks Hooks, mods ...func(*Options)) *Watcher {
	t.Helper()
	opts := DefaultOptions()
	opts.Unbound = true
	for _, m := range mods {
		m(&opts)
	}
	opts.WaitTime = 2 * time.Second
	opts.MinBackoff, opts.MaxBackoff = 50*time.Millisecond, 200*time.Millisecond
	opts.Rate = rate.Inf
	opts.KeepMissing = time.Minute
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
			return fmt.Errorf("states %v, want %v (%+v)", got, want, w.Snapshot().Nodes)
		}
		return nil
	})
}

// waitNode waits until node id of w's snapshot satisfies ok.
func waitNode(t *testing.T, w *Watcher, id string, ok func(Node) bool) {
	t.Helper()
	testenv.WaitFor(t, 10*time.Second, func() error {
		if n, found := w.Snapshot().Node(id); !found || !ok(n) {
			return fmt.Errorf("node %s = %+v (found %v)", id, n, found)
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

	// A node that leaves the catalog is held as gone, with its URL, for its rooms' hold.
	if err := c.Agent().ServiceDeregister("a"); err != nil {
		t.Fatal(err)
	}
	waitState(t, w, map[string]placement.State{"a": placement.Gone, "b": placement.Draining, "c": placement.Gone})
	if a, _ := w.Snapshot().Node("a"); !a.Missing || a.GoneSince.IsZero() || a.GoneIndex == 0 || a.PublicURL != "https://a.example.org" {
		t.Fatalf("deregistered node a = %+v, want it missing, gone since a time, with a spell and its URL", a)
	}
	if c, _ := w.Snapshot().Node("c"); c.GoneIndex == 0 || c.Missing {
		t.Fatalf("critical node c = %+v, want the spell of its check", c)
	}
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
	// a, lost with the agent's empty restart, is held as gone (missing) rather than dropped.
	waitState(t, w, map[string]placement.State{"a": placement.Gone, "z": placement.Eligible})
	mu.Lock()
	defer mu.Unlock()
	if errs == 0 {
		t.Errorf("the restart produced no watch error")
	}
}

// catalogRegister writes id's jitsi instance on Consul node, with the sidecar's passing service
// and node checks, as the node's own agent would sync it.
func catalogRegister(t *testing.T, c *api.Client, node, id, publicURL string) {
	t.Helper()
	if _, err := c.Catalog().Register(&api.CatalogRegistration{
		Node: node, Address: "127.0.0.1", SkipNodeUpdate: true,
		Service: &api.AgentService{ID: id, Service: "jitsi", Address: "127.0.0.1", Port: 9100,
			Meta: map[string]string{registration.MetaPublicURL: publicURL}},
		Checks: api.HealthChecks{
			{Node: node, CheckID: "service:" + id, ServiceID: id, Status: api.HealthPassing},
			{Node: node, CheckID: registration.NodeCheckID(id), Status: api.HealthPassing},
		},
	}, nil); err != nil {
		t.Fatal(err)
	}
}

// TestWatchBindsIdentity: with the binding on, an instance is used only when its service ID is
// its Consul node's name and its URL https://<node>.<allowed domain>. An instance claiming
// another identity is a conflict (counted); when it overwrote a node's own entry, the node keeps
// its last bound entry, draining, so its rooms keep their redirect, until the real entry is back.
// Only the node's own node check decides whether it is alive: a critical service check does
// nothing, and an instance deregistered while that check passes is held draining.
func TestWatchBindsIdentity(t *testing.T) {
	const unverifiedHold = 2 * time.Second
	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	c := consul.Client(t)
	catalogRegister(t, c, "meet1", "meet1", "https://meet1.example.org")
	catalogRegister(t, c, "meet2", "meet2", "https://meet2.example.org")
	catalogRegister(t, c, "meet3", "meet1", "https://meet1.example.org") // another node's ID
	catalogRegister(t, c, "meet4", "meet4", "https://meet1.example.org") // another node's URL
	catalogRegister(t, c, "meet5", "meet5", "https://meet5.example.org:8443")
	var conflicts atomic.Int64
	w := startWatch(t, c, Hooks{Conflicts: func(n int) { conflicts.Store(int64(n)) }}, func(o *Options) {
		o.Unbound = false
		o.AllowedDomains, _ = registration.ParseDomains([]string{"example.org"})
		o.UnverifiedHold = unverifiedHold
	})
	waitState(t, w, map[string]placement.State{"meet1": placement.Eligible, "meet2": placement.Eligible})
	if n := conflicts.Load(); n != 3 {
		t.Errorf("conflicts = %d, want 3 (meet3, meet4, meet5)", n)
	}
	// meet1's token overwrites meet2's own entry with meet1's URL.
	catalogRegister(t, c, "meet2", "meet2", "https://meet1.example.org")
	waitState(t, w, map[string]placement.State{"meet1": placement.Eligible, "meet2": placement.Draining})
	if n, _ := w.Snapshot().Node("meet2"); n.PublicURL != "https://meet2.example.org" {
		t.Errorf("meet2 is held with %q, want its own URL", n.PublicURL)
	}
	if n := conflicts.Load(); n != 4 {
		t.Errorf("conflicts = %d during the overwrite, want 4", n)
	}
	catalogRegister(t, c, "meet2", "meet2", "https://meet2.example.org")
	waitState(t, w, map[string]placement.State{"meet1": placement.Eligible, "meet2": placement.Eligible})

	// Service checks are anyone's (any jitsi writer can write them on any node): no effect.
	if _, err := c.Catalog().Register(&api.CatalogRegistration{Node: "meet1", SkipNodeUpdate: true,
		Check: &api.AgentCheck{Node: "meet1", CheckID: "service:meet1", ServiceID: "meet1", Status: api.HealthCritical}}, nil); err != nil {
		t.Fatal(err)
	}
	// An instance deregistered while its node's own check passes is held draining, counted.
	if _, err := c.Catalog().Deregister(&api.CatalogDeregistration{Node: "meet2", ServiceID: "meet2"}, nil); err != nil {
		t.Fatal(err)
	}
	waitNode(t, w, "meet2", func(n Node) bool {
		return n.State == placement.Draining && n.Missing && n.PublicURL == "https://meet2.example.org"
	})
	if n := conflicts.Load(); n != 4 {
		t.Errorf("conflicts = %d with meet2 held, want 4", n)
	}
	catalogRegister(t, c, "meet2", "meet2", "https://meet2.example.org")
	waitState(t, w, map[string]placement.State{"meet1": placement.Eligible, "meet2": placement.Eligible})
	// A sidecar that leaves marks its node check critical, then deregisters: gone at once.
	if _, err := c.Catalog().Register(&api.CatalogRegistration{Node: "meet2", SkipNodeUpdate: true,
		Check: &api.AgentCheck{Node: "meet2", CheckID: registration.NodeCheckID("meet2"), Status: api.HealthCritical}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Catalog().Deregister(&api.CatalogDeregistration{Node: "meet2", ServiceID: "meet2"}, nil); err != nil {
		t.Fatal(err)
	}
	waitNode(t, w, "meet2", func(n Node) bool { return n.State == placement.Gone && n.Missing && n.GoneIndex != 0 })

	// Its node check turned into a service check and both deregistered (Consul lets a jitsi
	// writer do that): held while the Consul node is there, for UnverifiedHold.
	catalogRegister(t, c, "meet1", "meet1", "https://meet1.example.org")
	if _, err := c.Catalog().Register(&api.CatalogRegistration{Node: "meet1", SkipNodeUpdate: true,
		Check: &api.AgentCheck{Node: "meet1", CheckID: registration.NodeCheckID("meet1"), ServiceID: "meet1", Status: api.HealthCritical}}, nil); err != nil {
		t.Fatal(err)
	}
	waitState(t, w, map[string]placement.State{"meet1": placement.Draining, "meet2": placement.Gone})
	if _, err := c.Catalog().Deregister(&api.CatalogDeregistration{Node: "meet1", ServiceID: "meet1"}, nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitNode(t, w, "meet1", func(n Node) bool { return n.State == placement.Draining && n.Missing && !n.HeldSince.IsZero() })
	waitNode(t, w, "meet1", func(n Node) bool { return n.State == placement.Gone && n.Missing })
	if held := time.Since(start); held < unverifiedHold/2 {
		t.Errorf("meet1 held %v, want about UnverifiedHold (%v)", held, unverifiedHold)
	}

	if _, err := New(c, DefaultOptions(), Hooks{}, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("a bound watcher without allowed domains was accepted")
	}
}

// TestKeepMissing: a node gone from Consul's answer stays in the snapshots as gone until it has
// been gone for KeepMissing, keeping the time and spell it had if it was gone already.
func TestKeepMissing(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	const keep = time.Minute
	live := Node{ID: "a", PublicURL: "https://a.example.org", State: placement.Eligible, LiveSince: t0}
	gone := Node{ID: "g", PublicURL: "https://g.example.org", State: placement.Gone, GoneSince: t0, GoneIndex: 7}
	other := Node{ID: "b", State: placement.Eligible, LiveSince: t0}
	old := &Snapshot{Nodes: []Node{live, other, gone}}

	now := t0.Add(5 * time.Second)
	got := keepMissing(old, []Node{other}, nil, 42, now, keep)
	if len(got) != 3 || got[0].ID != "a" || got[1].ID != "b" || got[2].ID != "g" {
		t.Fatalf("keepMissing = %+v, want a, b, g sorted", got)
	}
	if a := got[0]; a.State != placement.Gone || !a.Missing || !a.GoneSince.Equal(now) || a.GoneIndex != 42 || a.PublicURL != live.PublicURL || !a.LiveSince.IsZero() {
		t.Errorf("a went missing: %+v, want gone since now, spell 42, its URL", a)
	}
	if g := got[2]; !g.Missing || !g.GoneSince.Equal(t0) || g.GoneIndex != 7 {
		t.Errorf("g, gone before it went missing: %+v, want its own time and spell", g)
	}
	// Held until gone for keep: a still, g (gone since t0) no more.
	again := keepMissing(&Snapshot{Nodes: got}, []Node{other}, nil, 43, now.Add(keep-time.Second), keep)
	if len(again) != 2 || again[0].ID != "a" || !again[0].GoneSince.Equal(now) || again[0].GoneIndex != 42 {
		t.Errorf("within keep: %+v, want a held with its first time and spell, and g dropped", again)
	}
	if gone := keepMissing(&Snapshot{Nodes: again}, []Node{other}, nil, 44, now.Add(keep), keep); len(gone) != 1 {
		t.Errorf("after keep: %+v, want only b", gone)
	}
	if got := keepMissing(old, []Node{other}, nil, 42, now, 0); len(got) != 1 {
		t.Errorf("keep 0: %+v, want missing nodes dropped at once", got)
	}
	if got := keepMissing(old, []Node{other}, map[string]bool{"a": true}, 42, now, keep); len(got) != 2 || got[0].ID != "b" {
		t.Errorf("a in conflict: %+v, want it left out (b and g only)", got)
	}
}

func TestSpellIndex(t *testing.T) {
	checks := api.HealthChecks{
		{CheckID: "serfHealth", Status: api.HealthPassing, ModifyIndex: 3},
		{CheckID: "service:a", ServiceID: "a", Status: api.HealthCritical, ModifyIndex: 10},
		{CheckID: api.ServiceMaintPrefix + "a", ServiceID: "a", Status: api.HealthCritical, ModifyIndex: 9},
		{CheckID: "other", Status: api.HealthCritical, ModifyIndex: 12},
	}
	for _, c := range []struct {
		checks  api.HealthChecks
		unbound bool
		want    uint64
	}{
		{checks, true, 10},     // the earliest critical check, maintenance aside
		{checks, false, 12},    // bound: service checks are not the node's word
		{checks[:2], false, 0}, // nothing the node wrote is critical
		{checks[:1], true, 0},  // all passing
	} {
		if got := spellIndex("a", c.checks, c.unbound); got != c.want {
			t.Errorf("spellIndex(%d checks, unbound %v) = %d, want %d", len(c.checks), c.unbound, got, c.want)
		}
	}
}
