package rooms

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"
)

// Memory is a Store for a single selector replica: a map with idle expiry. Its size is bounded by the
// rooms used within one TTL: expired bindings are dropped when looked up, when the map has doubled
// since the last sweep, and by Sweep.
type Memory struct {
	ttl, unjoined time.Duration
	now           func() time.Time

	mu        sync.Mutex
	m         map[string]memEntry
	perNode   map[string]int // bindings held per node, kept with m so Counts costs O(nodes)
	version   uint64
	nextSweep int
}

type memEntry struct {
	node     string
	version  uint64
	lastUsed time.Time
}

// minSweep is the map size below which expired bindings are only dropped when looked up.
const minSweep = 1024

// NewMemory returns an in-memory store whose bindings expire after ttl without a Touch, and
// after unjoined when never touched since they were made (NewBindingTime); now is the clock
// (time.Now in production).
func NewMemory(ttl, unjoined time.Duration, now func() time.Time) (*Memory, error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("rooms: idle TTL must be positive, got %v", ttl)
	}
	if now == nil {
		return nil, fmt.Errorf("rooms: nil clock")
	}
	return &Memory{ttl: ttl, unjoined: unjoined, now: now, m: map[string]memEntry{}, perNode: map[string]int{}, nextSweep: minSweep}, nil
}

// drop deletes the room's entry e. m.mu is held.
func (m *Memory) drop(room string, e memEntry) {
	delete(m.m, room)
	if m.perNode[e.node]--; m.perNode[e.node] <= 0 {
		delete(m.perNode, e.node)
	}
}

// sweep drops every binding expired at t. m.mu is held.
func (m *Memory) sweep(t time.Time) {
	for r, e := range m.m {
		if t.Sub(e.lastUsed) >= m.ttl {
			m.drop(r, e)
		}
	}
	m.nextSweep = max(2*len(m.m), minSweep)
}

// live returns the room's entry if it has not expired at t, dropping it if it has. m.mu is held.
func (m *Memory) live(room string, t time.Time) (memEntry, bool) {
	e, ok := m.m[room]
	if ok && t.Sub(e.lastUsed) >= m.ttl {
		m.drop(room, e)
		return memEntry{}, false
	}
	return e, ok
}

// put writes a new version of the room's binding, last used at used, at t. m.mu is held.
func (m *Memory) put(room, node string, used, t time.Time) Binding {
	m.version++
	if old, ok := m.m[room]; ok {
		m.drop(room, old)
	}
	m.m[room] = memEntry{node: node, version: m.version, lastUsed: used}
	m.perNode[node]++
	// Expired rooms that nobody asks for again are swept whenever the map has doubled since the
	// last sweep, so memory stays proportional to the live rooms at O(1) amortised cost.
	if len(m.m) >= m.nextSweep {
		m.sweep(t)
	}
	return Binding{Room: room, Node: node, Version: m.version, LastUsed: used}
}

func (e memEntry) binding(room string) Binding {
	return Binding{Room: room, Node: e.node, Version: e.version, LastUsed: e.lastUsed}
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, room string) (Binding, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.live(room, m.now())
	if !ok {
		return Binding{}, false, nil
	}
	return e.binding(room), true, nil
}

// Bind implements Store.
func (m *Memory) Bind(_ context.Context, room, node string) (Binding, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.now()
	if e, ok := m.live(room, t); ok {
		return e.binding(room), false, nil
	}
	return m.put(room, node, NewBindingTime(t, m.ttl, m.unjoined), t), true, nil
}

// Rebind implements Store.
func (m *Memory) Rebind(_ context.Context, old Binding, node string) (Binding, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.now()
	if e, ok := m.live(old.Room, t); ok && e.version != old.Version {
		return e.binding(old.Room), false, nil
	}
	return m.put(old.Room, node, t, t), true, nil
}

// Touch implements Store.
func (m *Memory) Touch(_ context.Context, room string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.now()
	if e, ok := m.live(room, t); ok {
		e.lastUsed = t
		m.m[room] = e
	}
	return nil
}

// Delete implements Store.
func (m *Memory) Delete(_ context.Context, room string) error {
	m.mu.Lock()
	if e, ok := m.m[room]; ok {
		m.drop(room, e)
	}
	m.mu.Unlock()
	return nil
}

// Sweep drops every expired binding and returns the number of live ones per node, like the Consul
// store's Sweep. It holds the lock for one pass over the map (about 30 ms per million bindings), so
// the selector runs it at most once a minute.
func (m *Memory) Sweep(context.Context) (map[string]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(m.now())
	return maps.Clone(m.perNode), nil
}

// Counts returns the number of bindings per node, including expired ones not yet swept.
func (m *Memory) Counts() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.perNode)
}

// Len returns the number of bindings held, including expired ones not yet swept.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.m)
}

var (
	_ Store   = (*Memory)(nil)
	_ Counter = (*Memory)(nil)
)
