package consulrooms

import (
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/selector/rooms"
)

// localCopy is one replica's copy of the bindings, in two parts:
//   - own: the bindings this replica read or wrote, each dated when Consul last confirmed it
//     (Binding.CopiedAt); it answers for the rooms it holds while Consul does not answer (the
//     outage copy);
//   - the watched listing: the last answer of the blocking query on the prefix, complete up to
//     index as of listedAt; while the watch is current it answers every lookup, a miss meaning
//     "unbound" (the watched copy). Raw pairs are kept: decoding every binding of every listing
//     would cost more than the lookups it saves; a hit decodes one, once.
//
// Its answers say how old they may be (CopiedAt, ListedAt); whether to serve them is the Store's
// and the Resolver's business.
type localCopy struct {
	prefix string
	ttl    time.Duration
	now    func() time.Time

	mu       sync.Mutex
	own      map[string]rooms.Binding
	listing  map[string]*api.KVPair
	watched  bool // the watch's last query succeeded: listing is current
	index    uint64
	listedAt time.Time
}

func newLocalCopy(prefix string, ttl time.Duration, now func() time.Time) *localCopy {
	return &localCopy{prefix: prefix, ttl: ttl, now: now, own: map[string]rooms.Binding{}}
}

func (c *localCopy) expired(b rooms.Binding) bool { return c.now().Sub(b.LastUsed) >= c.ttl }

// remember records the binding Consul just gave for a room (or its absence).
func (c *localCopy) remember(room string, b rooms.Binding, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok {
		b.CopiedAt = c.now()
		c.own[room] = b
	} else {
		delete(c.own, room)
	}
}

// touch marks the room's own copy as used now (Consul could not be written).
func (c *localCopy) touch(room string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.own[room]; ok {
		b.LastUsed = c.now()
		c.own[room] = b
	}
}

// prune drops expired bindings from the own copy.
func (c *localCopy) prune() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for room, b := range c.own {
		if c.expired(b) {
			delete(c.own, room)
		}
	}
}

// outage returns the copy of a room's binding for when Consul does not answer, if it has not
// expired: the own copy or the listing's, whichever is newer. CopiedAt says when Consul last
// confirmed it.
func (c *localCopy) outage(room string) (rooms.Binding, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.own[room]
	if p := c.listing[room]; p != nil {
		if m, err := decode(room, p); err == nil {
			m.CopiedAt = c.listedAt
			switch {
			case !ok || m.Version > b.Version:
				b, ok = m, true
			case m.Version == b.Version && m.CopiedAt.After(b.CopiedAt):
				b.CopiedAt = m.CopiedAt
			}
		}
	}
	if ok && c.expired(b) {
		delete(c.own, room)
		return rooms.Binding{}, false
	}
	return b, ok
}

// lookup answers from the watched copy when the watch is current (current is false otherwise).
// ListedAt is set to when the listing was last known complete: a write by another replica since
// then may be missing. An expired binding counts as absent: the create that follows finds the key,
// and the store's read deletes it and creates the room afresh.
func (c *localCopy) lookup(room string) (b rooms.Binding, ok, current bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.watched {
		return rooms.Binding{}, false, false
	}
	b, ok = c.own[room]
	p := c.listing[room]
	switch {
	case ok && p == nil && b.Version > c.index: // written here after the listing
	case ok && p != nil && b.Version >= p.ModifyIndex: // decoded before, or written here since
	case p == nil:
		return rooms.Binding{}, false, true
	default: // decode once, then keep it: joins of a room repeat
		var err error
		if b, err = decode(room, p); err != nil {
			return rooms.Binding{}, false, true
		}
		ok = true
		b.CopiedAt = c.listedAt
		c.own[room] = b
	}
	if ok && c.expired(b) {
		return rooms.Binding{}, false, true
	}
	b.CopiedAt, b.ListedAt = time.Time{}, c.listedAt
	return b, ok, true
}

// load takes a listing made at index as the watched copy. The own copy stays: entries newer than
// the listing win over it (see lookup). Keys below a further folder are not bindings (room names
// hold no '/'; the store keeps its gone records there).
func (c *localCopy) load(pairs api.KVPairs, index uint64) {
	next := make(map[string]*api.KVPair, len(pairs))
	for _, p := range pairs {
		if room := strings.TrimPrefix(p.Key, c.prefix); !strings.Contains(room, "/") {
			next[room] = p
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.listing, c.index, c.watched, c.listedAt = next, index, true, c.now()
}

// confirm records that the watch heard from Consul and the listing is still complete.
func (c *localCopy) confirm() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.listedAt = c.now()
}

// lost records that the watch failed: the listing may be behind.
func (c *localCopy) lost() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watched = false
}

func (c *localCopy) current() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.watched
}
