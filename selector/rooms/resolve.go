package rooms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

// Outcome says how a room got its node.
type Outcome string

const (
	// Existing: the room was already bound to a node that still hosts it.
	Existing Outcome = "existing"
	// Created: the room was unbound; the policy chose the node and this call bound it.
	Created Outcome = "created"
	// Joined: the room was unbound, but another writer bound it first; its choice stands.
	Joined Outcome = "joined"
	// Rebound: the room's node was gone; the policy chose a new one.
	Rebound Outcome = "rebound"
	// Held: the room's node is gone, but for less than MoveAfter; the room stays on it.
	Held Outcome = "held"
)

// Result is where a room's meeting takes place.
type Result struct {
	Room    string // canonical name
	Node    placement.Node
	Outcome Outcome
	// Saturated is set when a new binding went to a node over the high-water mark because every
	// eligible node was (every node of the home region and of its neighbours, with a home region).
	Saturated bool
	// Spilled is set when a new binding went to a neighbour region because the home region was
	// saturated.
	Spilled bool
}

// ResolverOptions configures a Resolver.
type ResolverOptions struct {
	Store  Store
	Policy placement.Policy
	// Now is the clock (time.Now in production).
	Now func() time.Time
	// TouchEvery is how long a binding may go untouched before a lookup refreshes its idle expiry.
	// Touching on every lookup would make each join a store write (a Raft write with Consul);
	// refreshing at most once a minute costs one write per room per minute and still keeps any
	// idle TTL above a few minutes accurate.
	TouchEvery time.Duration
	Logger     *slog.Logger
	// MoveAfter is how long a node must have been gone before its rooms move (0: at once). Until
	// then a join of one of its rooms still goes to it: a check that flaps, or a restarted Consul
	// agent (it restores every check critical until the check passes again), would otherwise split
	// the node's meetings, since the people already in them stay where they are.
	MoveAfter time.Duration
	// Neighbours lists, for each region, the regions a new room may spill to when the home region
	// is saturated, nearest first. A region not listed spills nowhere.
	Neighbours map[string][]string
	// Deadline bounds a whole lookup (0: only the caller's context does). A lookup makes several
	// store calls (read, shared gone clock, compare-and-swap, retries), each bounded by the store's
	// own timeout; while Consul elects a leader each can take almost that long, and their sum would
	// outlast the client and the balancer in front. With it, a lookup that cannot finish in time
	// fails with ErrStore (a prompt 503 store_unavailable) instead.
	Deadline time.Duration
}

// DefaultDeadline is ResolverOptions.Deadline's recommended value: above one store call's timeout
// (2 s for the Consul store), so a single slow call can still succeed, and below the 4-5 s after
// which clients and balancers give up on an answer.
const DefaultDeadline = 3 * time.Second

// DefaultTouchEvery is ResolverOptions.TouchEvery's recommended value.
const DefaultTouchEvery = time.Minute

// Resolver turns a room name into the node hosting its meeting.
type Resolver struct {
	opts ResolverOptions
}

// NewResolver checks opts and returns a Resolver.
func NewResolver(opts ResolverOptions) (*Resolver, error) {
	switch {
	case opts.Store == nil:
		return nil, errors.New("rooms: nil store")
	case opts.Policy == nil:
		return nil, errors.New("rooms: nil policy")
	case opts.Now == nil:
		return nil, errors.New("rooms: nil clock")
	case opts.Logger == nil:
		return nil, errors.New("rooms: nil logger")
	case opts.TouchEvery < 0 || opts.MoveAfter < 0 || opts.Deadline < 0:
		return nil, fmt.Errorf("rooms: negative touch interval (%v), move delay (%v) or deadline (%v)", opts.TouchEvery, opts.MoveAfter, opts.Deadline)
	}
	return &Resolver{opts: opts}, nil
}

// maxAttempts bounds the retries when concurrent writers keep changing a room's binding under us.
// Each retry means another writer made progress, so three are plenty.
const maxAttempts = 3

// hosts reports whether node id can keep hosting the rooms bound to it: it is in the snapshot and
// not gone, or gone for less than MoveAfter. Draining and overloaded nodes keep their rooms: a room
// is never split.
//
// With a store shared between replicas (GoneClock), the hold counts from when the first replica
// saw the node's current spell of being gone begin, so every replica, and one restarted during the
// spell, moves the room at the same time; a node that came back and went again (a new spell)
// starts the hold again even on a replica that missed its return; and a replica that sees the node
// live removes the record it knows, so one whose view still shows the ended spell holds anew. If
// the store cannot say, the room stays: it could not be moved anyway.
func (r *Resolver) hosts(ctx context.Context, s *placement.Snapshot, id string) (int, bool) {
	i, ok := s.Index(id)
	if !ok {
		return i, false
	}
	n := s.Node(i)
	if n.State != placement.Gone {
		r.back(ctx, id)
		return i, true
	}
	if n.GoneSince.IsZero() || r.opts.MoveAfter <= 0 {
		return i, false
	}
	since := n.GoneSince
	if clock, ok := r.opts.Store.(GoneClock); ok && n.GoneIndex != 0 {
		shared, err := clock.GoneSince(ctx, id, n.GoneIndex, since)
		if err != nil {
			r.opts.Logger.Warn("shared gone time unknown; holding the node's rooms", "node", id, "err", err)
			return i, true
		}
		since = shared
	}
	return i, r.opts.Now().Sub(since) < r.opts.MoveAfter
}

// back tells a shared clock that node is live in this replica's view.
func (r *Resolver) back(ctx context.Context, node string) {
	if clock, ok := r.opts.Store.(GoneClock); ok {
		clock.Back(ctx, node)
	}
}

// Resolve is ResolveIn without a home region: every eligible node may take a new room.
func (r *Resolver) Resolve(ctx context.Context, s *placement.Snapshot, room string, rnd placement.Rand) (Result, error) {
	return r.ResolveIn(ctx, s, room, "", rnd)
}

// pick chooses a node for a new room. With a home region it picks among the home region's nodes; when
// that choice is saturated (every home node at or over the high-water mark) it tries the neighbours in
// order and takes the first unsaturated choice; failing that it stays home, saturated. A home region
// without any eligible node, or none given, leaves the choice to the whole fleet.
func (r *Resolver) pick(s *placement.Snapshot, name, home string, rnd placement.Rand) (placement.Choice, bool, error) {
	if home == "" {
		ch, err := r.opts.Policy.Pick(s, name, rnd)
		return ch, false, err
	}
	ch, err := r.opts.Policy.Pick(s.InRegion(home), name, rnd)
	if err == nil && !ch.Saturated {
		return ch, false, nil
	}
	for _, nb := range r.opts.Neighbours[home] {
		if c, err := r.opts.Policy.Pick(s.InRegion(nb), name, rnd); err == nil && !c.Saturated {
			return c, true, nil
		}
	}
	if err == nil {
		return ch, false, nil
	}
	ch, err = r.opts.Policy.Pick(s, name, rnd)
	return ch, ch.Index >= 0 && err == nil && s.Node(ch.Index).Region != home, err
}

// ResolveIn returns the node for room in snapshot s, binding the room if needed:
//   - bound to a node that is eligible or draining (however loaded), or gone for less than
//     MoveAfter: that node;
//   - bound to a node that is gone for longer: the policy picks a new node and the binding moves, unless
//     another writer moved it first;
//   - unbound: the policy picks a node and binds create-only; if another writer won, its node.
//
// A new room goes to the home region when it has room (see pick); a bound room stays where it is,
// whatever the region of the person asking: a room is never split.
//
// It returns an error wrapping ErrInvalidName, placement.ErrNoNode, or ErrStore.
func (r *Resolver) ResolveIn(ctx context.Context, s *placement.Snapshot, room, home string, rnd placement.Rand) (Result, error) {
	return r.ResolveAdmit(ctx, s, room, home, rnd, nil)
}

// ResolveAdmit is ResolveIn with an admission check: before a binding is written (a new room, or
// one moved off a gone node) admit is called with the chosen node's index, and an error it
// returns is returned as is, with nothing written. Lookups of bound rooms never call it, so
// limits on room creation do not slow down people joining a meeting.
func (r *Resolver) ResolveAdmit(ctx context.Context, s *placement.Snapshot, room, home string, rnd placement.Rand, admit func(node int) error) (Result, error) {
	name, err := Normalize(room)
	if err != nil {
		return Result{}, err
	}
	if r.opts.Deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.opts.Deadline)
		defer cancel()
	}
	for range maxAttempts {
		b, ok, err := r.opts.Store.Get(ctx, name)
		if err != nil {
			return Result{}, fmt.Errorf("%w: get binding of %q: %w", ErrStore, name, err)
		}
		if ok && !b.ListedAt.IsZero() {
			// A watched copy older than the node's return may miss a move another replica made
			// while the node was gone: ask the store itself. So may one of a room on a node that
			// is gone now: another replica may have moved it already (its hold counted from an
			// earlier spell, while this replica's counts from a later one, as when a restarted
			// Consul agent restores a node's checks critical one by one), and holding the room
			// from the copy would send it back to the old node, splitting the meeting.
			if i, in := s.Index(b.Node); in && (s.Node(i).LiveSince.After(b.ListedAt) || s.Node(i).State == placement.Gone) {
				if f, can := r.opts.Store.(Refresher); can {
					if b, ok, err = f.GetFresh(ctx, name); err != nil {
						return Result{}, fmt.Errorf("%w: get binding of %q: %w", ErrStore, name, err)
					}
				}
			}
		}
		if ok {
			if i, live := r.hosts(ctx, s, b.Node); live {
				if !b.CopiedAt.IsZero() && s.Node(i).LiveSince.After(b.CopiedAt) {
					return Result{}, fmt.Errorf("%w: binding of %q to %s is a copy from %s, before the node came back at %s: the room may have moved",
						ErrStore, name, b.Node, b.CopiedAt.Format(time.RFC3339), s.Node(i).LiveSince.Format(time.RFC3339))
				}
				// A copy cannot hold a room on a gone node either: another replica, whose hold of
				// the node ran out first, may have moved it, and the store cannot be asked.
				if !b.CopiedAt.IsZero() && s.Node(i).State == placement.Gone {
					return Result{}, fmt.Errorf("%w: binding of %q to gone node %s is a copy from %s: another replica may have moved the room",
						ErrStore, name, b.Node, b.CopiedAt.Format(time.RFC3339))
				}
				r.touch(ctx, b)
				s.Join(i)
				outcome := Existing
				if s.Node(i).State == placement.Gone {
					outcome = Held
				}
				return Result{Room: name, Node: s.Node(i), Outcome: outcome}, nil
			}
		}
		ch, spilled, err := r.pick(s, name, home, rnd)
		if err != nil {
			return Result{}, fmt.Errorf("place %q: %w", name, err)
		}
		if admit != nil {
			if err := admit(ch.Index); err != nil {
				return Result{}, err
			}
		}
		// Count the room on its node before the store's round trip, not after: requests that
		// arrive meanwhile must see it, or a burst of new rooms all pick the same least-loaded
		// node (with the Consul store that is a millisecond, enough for a flash crowd to herd).
		// A lost race takes it back.
		epoch := s.Assign(ch.Index)
		node := s.Node(ch.Index).ID
		var won bool
		outcome := Created
		if ok {
			outcome = Rebound
			b, won, err = r.opts.Store.Rebind(ctx, b, node)
		} else {
			b, won, err = r.opts.Store.Bind(ctx, name, node)
		}
		if err != nil {
			s.Unassign(ch.Index, epoch)
			return Result{}, fmt.Errorf("%w: bind %q to %s: %w", ErrStore, name, node, err)
		}
		if won {
			r.back(ctx, node)
			s.Join(ch.Index)
			return Result{Room: name, Node: s.Node(ch.Index), Outcome: outcome, Saturated: ch.Saturated, Spilled: spilled}, nil
		}
		s.Unassign(ch.Index, epoch)
		// Another writer bound the room first; its choice stands if its node can host the room.
		if i, live := r.hosts(ctx, s, b.Node); live {
			s.Join(i)
			return Result{Room: name, Node: s.Node(i), Outcome: Joined}, nil
		}
	}
	return Result{}, fmt.Errorf("%w: bind %q: binding kept changing under concurrent writers", ErrStore, name)
}

func (r *Resolver) touch(ctx context.Context, b Binding) {
	if r.opts.Now().Sub(b.LastUsed) < r.opts.TouchEvery {
		return
	}
	// A failed touch only shortens the idle expiry; the meeting still gets its answer.
	if err := r.opts.Store.Touch(ctx, b.Room); err != nil {
		r.opts.Logger.Warn("touch room binding", "room", b.Room, "err", err)
	}
}
