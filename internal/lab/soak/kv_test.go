package soak

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

// TestKVReadsInOrder: a read that Consul answers slowly (as right after the agent's restart) and
// one started just after it must not overlap, or the later-stamped one can show the earlier
// state and a room bound in between looks lost (invariant 4's false count in the 10-minute run
// with seed 6711316272255506750). The first read is held 600 ms by a proxy in front of a real
// agent; the room is bound while it is held.
func TestKVReadsInOrder(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	var lists atomic.Int32
	slow := consul.HeldClient(t, func(*http.Request) {
		if lists.Add(1) == 1 {
			time.Sleep(600 * time.Millisecond)
		}
	})
	rec := newKVRecorder(slow, "ensemble/rooms/")
	ctx := context.Background()

	var wg sync.WaitGroup
	wg.Go(func() { rec.read(ctx) }) // held by the proxy
	for lists.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	wg.Go(func() { rec.read(ctx) }) // started after the first
	// Time for the second read to reach Consul if it may overlap the first (it must not: then it
	// waits for the first, and nothing can be polled for).
	time.Sleep(100 * time.Millisecond)
	if _, err := consul.Client(t).KV().Put(&api.KVPair{Key: "ensemble/rooms/standup", Value: []byte(`{"node":"node-1"}`)}, nil); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	snaps, failed := rec.snapshots()
	if len(snaps) != 2 || failed != 0 {
		t.Fatalf("%d reads, %d failed; want 2 and 0", len(snaps), failed)
	}
	slices.SortFunc(snaps, func(a, b kvSnapshot) int { return a.At.Compare(b.At) })
	_, before := snaps[0].Rooms["standup"]
	_, after := snaps[1].Rooms["standup"]
	if before && !after {
		t.Fatal("the earlier-stamped read has the room, the later one not: the judge would count it lost")
	}
	if !after {
		t.Fatal("the read started after the first one ended does not have the room bound before it")
	}
}
