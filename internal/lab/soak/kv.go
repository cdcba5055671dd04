package soak

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
)

// kvRecorder reads the selectors' room prefix in Consul: about once a
// second, and just before and after each fault that restarts a selector or
// changes Consul, so that every binding can be followed across each of them
// (invariant 4). Reads are consistent (from the leader): a read that fails
// (no leader, the agent down) is left out, and the next one is compared
// with the last that succeeded.
//
// Reads never overlap: a read shows the prefix at some instant between its
// start (its At) and its answer, so of two overlapping reads the one started
// later may show the earlier state. Around a Consul restart a read can take
// seconds; a room bound meanwhile was then in the earlier-stamped read and
// not in the later one, and the judge counted a lost binding (the 10-minute
// run with seed 6711316272255506750: reads at +437.0 s and +437.2 s, the
// periodic one and the one after the agent's restart).
type kvRecorder struct {
	kv     *api.KV
	prefix string
	// reading is held for a whole read, so reads are in order of At.
	reading sync.Mutex

	mu     sync.Mutex
	snaps  []kvSnapshot
	failed int
}

func newKVRecorder(c *api.Client, prefix string) *kvRecorder {
	return &kvRecorder{kv: c.KV(), prefix: prefix}
}

// read takes one snapshot of the prefix.
func (r *kvRecorder) read(ctx context.Context) {
	r.reading.Lock()
	defer r.reading.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	at := time.Now()
	pairs, _, err := r.kv.List(r.prefix, (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx))
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.failed++
		return
	}
	r.snaps = append(r.snaps, kvSnapshot{At: at, Rooms: roomsOf(r.prefix, pairs)})
}

// roomsOf decodes the bindings of a listing; keys below a further folder
// are not rooms (room names hold no '/'), and a value that does not parse
// is kept with an empty node, so a change to it still shows.
func roomsOf(prefix string, pairs api.KVPairs) map[string]kvBinding {
	out := make(map[string]kvBinding, len(pairs))
	for _, p := range pairs {
		room := strings.TrimPrefix(p.Key, prefix)
		if room == "" || strings.Contains(room, "/") {
			continue
		}
		var v struct {
			Node string `json:"node"`
		}
		_ = json.Unmarshal(p.Value, &v)
		out[room] = kvBinding{Node: v.Node, Create: p.CreateIndex, Modify: p.ModifyIndex}
	}
	return out
}

// run reads every interval until ctx ends.
func (r *kvRecorder) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		r.read(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// snapshots returns the reads that succeeded and the number that failed.
func (r *kvRecorder) snapshots() ([]kvSnapshot, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]kvSnapshot(nil), r.snaps...), r.failed
}
