package consulrooms

import (
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/selector/rooms"
)

func pair(room, node string, index uint64, used time.Time) *api.KVPair {
	s := &Store{opts: Options{Prefix: "p/"}}
	return &api.KVPair{Key: "p/" + room, Value: s.encode(node, used), CreateIndex: index, ModifyIndex: index}
}

// TestLocalCopyFreshness: what each part of a replica's copy answers, and how old it says the
// answer may be.
func TestLocalCopyFreshness(t *testing.T) {
	clk := newClock()
	c := newLocalCopy("p/", time.Hour, clk.Now)
	used := clk.Now()

	if _, _, current := c.lookup("r"); current {
		t.Fatal("lookup before any listing: current, want not")
	}
	listed := clk.Now()
	c.load(api.KVPairs{pair("r", "node-1", 5, used), {Key: "p/.gone/node-1", Value: []byte(`{"spell":3}`)}}, 6)
	b, ok, current := c.lookup("r")
	if !current || !ok || b.Node != "node-1" || b.Version != 5 || !b.ListedAt.Equal(listed) || !b.CopiedAt.IsZero() {
		t.Fatalf("lookup of a listed room = %+v, %v, %v; want node-1 v5 listed at %v", b, ok, current, listed)
	}
	if _, ok, current := c.lookup("missing"); ok || !current {
		t.Fatalf("lookup of an unlisted room = %v, %v; want a current miss", ok, current)
	}
	if _, ok, _ := c.lookup(".gone/node-1"); ok {
		t.Fatal("a gone record answered as a binding")
	}

	// This replica's own write after the listing wins over it; a later listing wins over that.
	clk.Advance(time.Second)
	c.remember("r", rooms.Binding{Room: "r", Node: "node-2", Version: 8, LastUsed: used}, true)
	if b, _, _ := c.lookup("r"); b.Node != "node-2" || b.Version != 8 {
		t.Fatalf("own newer write: %+v, want node-2 v8", b)
	}
	clk.Advance(time.Second)
	c.load(api.KVPairs{pair("r", "node-3", 9, used)}, 9)
	if b, _, _ := c.lookup("r"); b.Node != "node-3" || !b.ListedAt.Equal(clk.Now()) {
		t.Fatalf("newer listing: %+v, want node-3 listed now", b)
	}

	// Confirming the listing dates its answers later.
	clk.Advance(time.Second)
	c.confirm()
	if b, _, _ := c.lookup("r"); !b.ListedAt.Equal(clk.Now()) {
		t.Fatalf("after confirm: listed at %v, want %v", b.ListedAt, clk.Now())
	}

	// The watch lost: no current answers; the outage copy answers dated by the listing.
	confirmed := clk.Now()
	clk.Advance(time.Second)
	c.lost()
	if _, _, current := c.lookup("r"); current {
		t.Fatal("lookup after the watch was lost: current")
	}
	if b, ok := c.outage("r"); !ok || b.Node != "node-3" || !b.CopiedAt.Equal(confirmed) || !b.ListedAt.IsZero() {
		t.Fatalf("outage copy = %+v, %v; want node-3 copied at %v", b, ok, confirmed)
	}

	// Expired bindings answer nothing, and prune drops them.
	clk.Advance(2 * time.Hour)
	if _, ok := c.outage("r"); ok {
		t.Fatal("expired binding answered from the outage copy")
	}
	c.remember("old", rooms.Binding{Room: "old", Node: "node-1", Version: 1, LastUsed: used}, true)
	c.prune()
	if _, ok := c.own["old"]; ok {
		t.Fatal("prune kept an expired binding")
	}
}
