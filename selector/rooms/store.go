// Package rooms binds meeting rooms to nodes: a room stays on the node that first hosted it, so
// everyone who opens the same room name meets on the same server, on every selector replica.
package rooms

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Binding is a room's node assignment.
type Binding struct {
	Room string
	Node string // placement.Node.ID
	// Version changes on every write of this room's binding. Stores use it for compare-and-swap:
	// Consul's ModifyIndex, a counter in memory. Zero means "no binding".
	Version uint64
	// LastUsed is when the binding was created or last touched; the idle expiry counts from it.
	LastUsed time.Time
	// CopiedAt is set when the store could not be asked and answered from a local copy: the copy
	// was known current at that time. Zero means the store itself answered. The Resolver serves
	// a copy only for a node that is not gone and has not been gone since (placement.Node.LiveSince):
	// another replica may have moved the room off a node that was gone, and then the copy would
	// split it.
	CopiedAt time.Time
	// ListedAt is set when the store answered from a copy it keeps current by watching (the
	// Consul store's blocking query): the copy was complete at that time, and another replica's
	// write since then may not be in it yet. Zero when the store itself answered. The Resolver
	// asks the store itself (Refresher) when the binding's node came back after ListedAt: a
	// replica may have moved the room off the node while it was gone.
	ListedAt time.Time
}

// NewBindingTime is the LastUsed a store writes for a room it binds for the first time: now less
// (ttl - unjoined), so that a room nobody looks up again expires after unjoined instead of the
// whole idle TTL, while the first later lookup (a join) touches it (it looks older than any
// touch interval) and gives it the full TTL. A flood of rooms that are never joined thus frees
// its share of --limits.max-rooms within unjoined. unjoined <= 0 or >= ttl means now.
func NewBindingTime(now time.Time, ttl, unjoined time.Duration) time.Time {
	if unjoined <= 0 || unjoined >= ttl {
		return now
	}
	return now.Add(unjoined - ttl)
}

// ErrStore is wrapped by the Resolver's errors that come from the binding store (Consul down, a
// timeout), so callers can tell a store outage from a bad room name or a full fleet.
var ErrStore = errors.New("binding store")

// Store keeps room → node bindings. Every method takes a context (a networked store must honour
// its deadline) and is safe for concurrent use. Writes are compare-and-swap so that replicas
// racing on the same room agree on one winner.
type Store interface {
	// Get returns the room's binding; ok is false when the room is unbound or its binding expired.
	Get(ctx context.Context, room string) (b Binding, ok bool, err error)
	// Bind binds room to node only if the room is unbound (create-only). It returns the binding in
	// force afterwards: the new one with created true, or the one another writer made first.
	Bind(ctx context.Context, room, node string) (b Binding, created bool, err error)
	// Rebind moves old.Room to node only if its binding is still old (same Version), or binds it
	// if the binding has gone meanwhile. Otherwise it returns the binding in force with moved false.
	Rebind(ctx context.Context, old Binding, node string) (b Binding, moved bool, err error)
	// Touch marks the room's binding as used now, postponing its idle expiry. It may change the
	// binding's Version (Consul does). Touching an unbound room is not an error.
	Touch(ctx context.Context, room string) error
	// Delete removes the room's binding, if any.
	Delete(ctx context.Context, room string) error
	// Sweep removes the expired bindings and returns the number of live ones per node. The selector
	// calls it periodically (at most once a minute): it may cost a pass over every binding.
	Sweep(ctx context.Context) (perNode map[string]int, err error)
}

// Counter is implemented by stores that know their live bindings per node at any time without a
// sweep (the memory store); the selector then shows current counts between sweeps.
type Counter interface {
	Counts() map[string]int
}

// Watcher is implemented by stores that keep a local copy current in the background (the Consul
// store); the selector runs Watch for as long as it serves.
type Watcher interface {
	Watch(ctx context.Context, logger *slog.Logger)
}

// Refresher is implemented by stores that answer Get from a watched copy (Binding.ListedAt):
// GetFresh asks the store itself.
type Refresher interface {
	GetFresh(ctx context.Context, room string) (b Binding, ok bool, err error)
}

// GoneClock is implemented by stores shared between replicas. It keeps, per node, when the first
// replica saw the node's current spell of being gone begin, so every replica, and a replica
// restarted meanwhile, holds the node's rooms for MoveAfter from the same time. A spell is named
// by a number that grows from one spell to the next and is the same on every replica
// (placement.Node.GoneIndex: Consul's index of the check change that made the node gone).
type GoneClock interface {
	// GoneSince returns when the spell began: the time recorded for it (or for a later spell,
	// when this replica's view is behind), else seen, which it records.
	GoneSince(ctx context.Context, node string, spell uint64, seen time.Time) (time.Time, error)
	// Back tells the clock that this replica sees the node live again: a record this replica
	// knows of is removed, so that a replica whose view still shows the ended spell (a lagging
	// Consul server) starts a hold of its own rather than move the node's rooms at once. It must
	// be cheap when there is nothing to remove: the Resolver calls it on lookups of live nodes.
	Back(ctx context.Context, node string)
}
