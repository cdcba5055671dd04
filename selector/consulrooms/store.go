// Package consulrooms keeps room → node bindings in Consul's KV store, so several selector replicas agree
// on where each room lives.
//
// Each binding is one key, created with a check-and-set on ModifyIndex 0 (create only: of two replicas
// racing on a new room, exactly one write succeeds and the other reads the winner's binding). The idle
// expiry is stored in the value as a last-used time rather than tied to a Consul session: a session per
// room would mean one session renewal per live room every TTL, and one shared session per replica would
// delete every room a replica created when that replica stops, splitting live meetings. Stored times
// survive any replica, cost one write per room per touch (rooms.Resolver touches at most once a minute), and any replica's cleanup loop (or
// the next lookup) removes expired keys with a check-and-set delete, so a concurrent touch wins.
package consulrooms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/selector/rooms"
)

// Options configures a Store.
type Options struct {
	// Prefix is the KV folder of the bindings, ending in "/".
	Prefix string
	// TTL is the idle time after which a binding expires.
	TTL time.Duration
	// Unjoined is the time after which a new binding nobody looked up again expires
	// (rooms.NewBindingTime); 0 means TTL.
	Unjoined time.Duration
	// Timeout bounds each Consul call.
	Timeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultOptions returns the selector's settings.
func DefaultOptions() Options {
	return Options{Prefix: "ensemble/rooms/", TTL: 24 * time.Hour, Timeout: 2 * time.Second}
}

// Store is a rooms.Store in Consul KV.
//
// It keeps a copy of the bindings. While Watch runs and its blocking query on the prefix is current,
// the copy holds every binding and Get answers from it without a round trip: a join of a bound room
// costs no Consul request, and a miss means "unbound" and falls through to the create-only
// check-and-set, which still guarantees that replicas agree (a binding another replica made after the
// copy's index makes the create fail, and the winner's binding is read). Without a current watch the
// copy holds what this replica read or wrote, and Get asks Consul. When Consul fails, Get answers from
// the copy, so meetings already bound keep their node through an outage (new rooms cannot be bound
// safely without Consul and fail with rooms.ErrStore). After a failure, Consul is left alone for one
// Timeout: a hung Consul would otherwise cost every lookup a full timeout.
type Store struct {
	kv   *api.KV
	opts Options

	mu     sync.Mutex
	cache  map[string]rooms.Binding
	downAt time.Time // last Consul failure; zero while Consul answers
	// mirror is the watch's last listing (raw pairs: decoding every binding of every listing would
	// cost more than the lookups it saves; a hit decodes one). mirrored is set while the watch's
	// last blocking query succeeded: mirror then holds every binding up to index, and cache this
	// replica's own newer writes.
	mirror   map[string]*api.KVPair
	mirrored bool
	index    uint64
	// mirrorAt is when the watch last heard from Consul: the listing was complete then. The
	// bindings in cache carry in CopiedAt when Consul last confirmed them.
	mirrorAt time.Time
}

var (
	_ rooms.Store   = (*Store)(nil)
	_ rooms.Watcher = (*Store)(nil)
)

// New returns a Store using client.
func New(client *api.Client, opts Options) (*Store, error) {
	if opts.Prefix == "" || !strings.HasSuffix(opts.Prefix, "/") || strings.HasPrefix(opts.Prefix, "/") {
		return nil, fmt.Errorf("consulrooms: prefix %q must be a relative folder ending in /", opts.Prefix)
	}
	if opts.TTL <= 0 || opts.Timeout <= 0 {
		return nil, fmt.Errorf("consulrooms: TTL (%v) and timeout (%v) must be positive", opts.TTL, opts.Timeout)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Store{kv: client.KV(), opts: opts, cache: map[string]rooms.Binding{}}, nil
}

// remember records the binding in force for a room (or its absence) after Consul answered.
func (s *Store) remember(room string, b rooms.Binding, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.downAt = time.Time{}
	if ok {
		b.CopiedAt = s.opts.Now()
		s.cache[room] = b
	} else {
		delete(s.cache, room)
	}
}

// failed records a Consul failure and returns err.
func (s *Store) failed(err error) error {
	s.mu.Lock()
	s.downAt = s.opts.Now()
	s.mu.Unlock()
	return err
}

// down reports whether Consul failed less than one Timeout ago.
func (s *Store) down() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.downAt.IsZero() && s.opts.Now().Sub(s.downAt) < s.opts.Timeout
}

// cached returns the copy of a room's binding, if it has not expired: this replica's own copy, or
// the watch's last listing, whichever is newer. CopiedAt says when Consul last confirmed it.
func (s *Store) cached(room string) (rooms.Binding, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.cache[room]
	if m, mok := s.mirrored1(room); mok {
		m.CopiedAt = s.mirrorAt
		switch {
		case !ok || m.Version > b.Version:
			b, ok = m, true
		case m.Version == b.Version && m.CopiedAt.After(b.CopiedAt):
			b.CopiedAt = m.CopiedAt
		}
	}
	if ok && s.expired(b) {
		delete(s.cache, room)
		return rooms.Binding{}, false
	}
	return b, ok
}

// errDown is returned without asking Consul while it is considered down.
var errDown = errors.New("consul failed less than one timeout ago")

// value is what a key holds.
type value struct {
	Node     string `json:"node"`
	LastUsed int64  `json:"last_used_unix_ms"`
}

func (s *Store) key(room string) string { return s.opts.Prefix + room }

func (s *Store) encode(node string, t time.Time) []byte {
	b, _ := json.Marshal(value{Node: node, LastUsed: t.UnixMilli()}) // cannot fail: strings and an int
	return b
}

// decode turns a KV pair into a binding; a value that does not parse is reported so it can be replaced.
func (s *Store) decode(room string, p *api.KVPair) (rooms.Binding, error) {
	var v value
	if err := json.Unmarshal(p.Value, &v); err != nil || v.Node == "" {
		return rooms.Binding{}, fmt.Errorf("consulrooms: key %q holds no binding: %q", p.Key, p.Value)
	}
	return rooms.Binding{Room: room, Node: v.Node, Version: p.ModifyIndex, LastUsed: time.UnixMilli(v.LastUsed)}, nil
}

func (s *Store) expired(b rooms.Binding) bool { return s.opts.Now().Sub(b.LastUsed) >= s.opts.TTL }

func storeErr(op, key string, err error) error {
	return fmt.Errorf("%w: consul kv %s %q: %w", rooms.ErrStore, op, key, err)
}

// current reads the room's live binding. Expired or unreadable bindings are deleted (check-and-set, so a
// binding rewritten meanwhile survives) and reported as absent.
func (s *Store) current(ctx context.Context, room string) (rooms.Binding, bool, error) {
	key := s.key(room)
	p, _, err := s.kv.Get(key, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return rooms.Binding{}, false, s.failed(storeErr("get", key, err))
	}
	if p == nil {
		s.remember(room, rooms.Binding{}, false)
		return rooms.Binding{}, false, nil
	}
	b, derr := s.decode(room, p)
	if derr == nil && !s.expired(b) {
		s.remember(room, b, true)
		return b, true, nil
	}
	if _, _, err := s.kv.DeleteCAS(&api.KVPair{Key: key, ModifyIndex: p.ModifyIndex}, (&api.WriteOptions{}).WithContext(ctx)); err != nil {
		return rooms.Binding{}, false, s.failed(storeErr("delete expired", key, err))
	}
	s.remember(room, rooms.Binding{}, false)
	return rooms.Binding{}, false, nil
}

// fromMirror answers Get from the copy when the watch keeps it complete (fresh is false otherwise).
// An expired binding counts as absent: the create that follows finds the key, and bind's read
// deletes it and creates the room afresh.
func (s *Store) fromMirror(room string) (b rooms.Binding, ok, fresh bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.mirrored || (!s.downAt.IsZero() && s.opts.Now().Sub(s.downAt) < s.opts.Timeout) {
		return rooms.Binding{}, false, false
	}
	b, ok = s.cache[room]
	p := s.mirror[room]
	switch {
	case ok && p == nil && b.Version > s.index: // written here after the listing
	case ok && p != nil && b.Version >= p.ModifyIndex: // decoded before, or written here since
	case p == nil:
		return rooms.Binding{}, false, true
	default: // decode once, then keep it: joins of a room repeat
		var err error
		if b, err = s.decode(room, p); err != nil {
			return rooms.Binding{}, false, true
		}
		ok = true
		b.CopiedAt = s.mirrorAt
		s.cache[room] = b
	}
	if ok && s.expired(b) {
		return rooms.Binding{}, false, true
	}
	b.CopiedAt = time.Time{} // the watch is current: this is Consul's answer
	return b, ok, true
}

// mirrored1 decodes room's binding from the watch's listing; s.mu must be held.
func (s *Store) mirrored1(room string) (rooms.Binding, bool) {
	p := s.mirror[room]
	if p == nil {
		return rooms.Binding{}, false
	}
	b, err := s.decode(room, p)
	return b, err == nil
}

// Get implements rooms.Store. With a current watch it answers from the copy; when Consul fails it
// answers from the copy for the rooms it holds.
func (s *Store) Get(ctx context.Context, room string) (rooms.Binding, bool, error) {
	if b, ok, fresh := s.fromMirror(room); fresh {
		return b, ok, nil
	}
	if !s.down() {
		ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
		defer cancel()
		b, ok, err := s.current(ctx, room)
		if err == nil {
			return b, ok, nil
		}
		if b, ok := s.cached(room); ok {
			return b, true, nil
		}
		return rooms.Binding{}, false, err
	}
	if b, ok := s.cached(room); ok {
		return b, true, nil
	}
	return rooms.Binding{}, false, storeErr("get", s.key(room), errDown)
}

// casAttempts bounds the retries when the key changes between a read and a check-and-set.
const casAttempts = 4

// Bind implements rooms.Store.
func (s *Store) Bind(ctx context.Context, room, node string) (rooms.Binding, bool, error) {
	if s.down() {
		return rooms.Binding{}, false, storeErr("create", s.key(room), errDown)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	return s.bind(ctx, room, node)
}

func (s *Store) bind(ctx context.Context, room, node string) (rooms.Binding, bool, error) {
	key := s.key(room)
	for range casAttempts {
		b, ok, err := s.cas(ctx, room, node, 0)
		if err != nil {
			return rooms.Binding{}, false, s.failed(storeErr("create", key, err))
		}
		if ok {
			s.remember(room, b, true)
			return b, true, nil
		}
		b, live, err := s.current(ctx, room)
		if err != nil {
			return rooms.Binding{}, false, err
		}
		if live {
			return b, false, nil
		}
		// It expired and was deleted just now: try to create it again.
	}
	return rooms.Binding{}, false, storeErr("create", key, errors.New("binding kept changing"))
}

// cas writes room → node if the key's ModifyIndex is still index (0: create only) in one transaction,
// whose answer carries the new ModifyIndex (the binding's version), so no read-back is needed. ok is
// false when the check failed.
func (s *Store) cas(ctx context.Context, room, node string, index uint64) (rooms.Binding, bool, error) {
	used := s.opts.Now()
	if index == 0 {
		used = rooms.NewBindingTime(used, s.opts.TTL, s.opts.Unjoined)
	}
	ops := api.KVTxnOps{{Verb: api.KVCAS, Key: s.key(room), Value: s.encode(node, used), Index: index}}
	ok, resp, _, err := s.kv.Txn(ops, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return rooms.Binding{}, false, err
	}
	if !ok || resp == nil || len(resp.Results) != 1 || resp.Results[0] == nil {
		return rooms.Binding{}, false, nil
	}
	// The stored time is in milliseconds; keep the binding equal to what a read would give.
	return rooms.Binding{Room: room, Node: node, Version: resp.Results[0].ModifyIndex, LastUsed: time.UnixMilli(used.UnixMilli())}, true, nil
}

// Rebind implements rooms.Store.
func (s *Store) Rebind(ctx context.Context, old rooms.Binding, node string) (rooms.Binding, bool, error) {
	if s.down() {
		return rooms.Binding{}, false, storeErr("rebind", s.key(old.Room), errDown)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	if old.Version == 0 {
		return s.bind(ctx, old.Room, node)
	}
	key := s.key(old.Room)
	b, ok, err := s.cas(ctx, old.Room, node, old.Version)
	if err != nil {
		return rooms.Binding{}, false, s.failed(storeErr("rebind", key, err))
	}
	if ok {
		s.remember(old.Room, b, true)
		return b, true, nil
	}
	b, live, err := s.current(ctx, old.Room)
	if err != nil {
		return rooms.Binding{}, false, err
	}
	if live {
		return b, false, nil
	}
	return s.bind(ctx, old.Room, node)
}

// Touch implements rooms.Store. The caller (rooms.Resolver) rate-limits touches, since each is a write.
// While Consul is down the copy is touched instead, so lookups do not retry the write on every request.
func (s *Store) Touch(ctx context.Context, room string) error {
	if s.down() {
		s.touchCached(room)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	b, live, fresh := s.fromMirror(room)
	if !fresh {
		var err error
		if b, live, err = s.current(ctx, room); err != nil {
			return err
		}
	}
	if !live {
		return nil
	}
	key := s.key(room)
	// A failed check-and-set means another replica touched or rebound it meanwhile: nothing to do.
	if _, _, err := s.kv.CAS(&api.KVPair{Key: key, Value: s.encode(b.Node, s.opts.Now()), ModifyIndex: b.Version}, (&api.WriteOptions{}).WithContext(ctx)); err != nil {
		s.touchCached(room)
		return s.failed(storeErr("touch", key, err))
	}
	return nil
}

func (s *Store) touchCached(room string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.cache[room]; ok {
		b.LastUsed = s.opts.Now()
		s.cache[room] = b
	}
}

// Delete implements rooms.Store.
func (s *Store) Delete(ctx context.Context, room string) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	key := s.key(room)
	if _, err := s.kv.Delete(key, (&api.WriteOptions{}).WithContext(ctx)); err != nil {
		return s.failed(storeErr("delete", key, err))
	}
	s.remember(room, rooms.Binding{}, false)
	return nil
}

// Sweep deletes every expired binding and returns the number of live ones per node. Any replica may run
// it; deletes are check-and-set, so a binding touched meanwhile stays.
func (s *Store) Sweep(ctx context.Context) (map[string]int, error) {
	ctx, cancel := context.WithTimeout(ctx, 4*s.opts.Timeout)
	defer cancel()
	pairs, _, err := s.kv.List(s.opts.Prefix, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, s.failed(storeErr("list", s.opts.Prefix, err))
	}
	s.pruneCache()
	perNode := map[string]int{}
	var errs []error
	for _, p := range pairs {
		b, derr := s.decode(strings.TrimPrefix(p.Key, s.opts.Prefix), p)
		if derr == nil && !s.expired(b) {
			perNode[b.Node]++
			continue
		}
		if _, _, err := s.kv.DeleteCAS(&api.KVPair{Key: p.Key, ModifyIndex: p.ModifyIndex}, (&api.WriteOptions{}).WithContext(ctx)); err != nil {
			errs = append(errs, storeErr("delete expired", p.Key, err))
		}
	}
	return perNode, errors.Join(errs...)
}

// pruneCache drops expired bindings from the copy.
func (s *Store) pruneCache() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for room, b := range s.cache {
		if s.expired(b) {
			delete(s.cache, room)
		}
	}
}

// Watch keeps the copy of the bindings current with one blocking query on the prefix until ctx ends.
// Consul's index rules apply: an index that goes backwards (a snapshot restore) restarts from 0,
// errors back off from one Timeout up to 30 s, and answers come at most every minWatchGap, so a busy
// KV costs each replica a bounded number of listings. A failed query makes Get ask Consul again
// until the watch is current.
func (s *Store) Watch(ctx context.Context, logger *slog.Logger) {
	var index uint64
	backoff := s.opts.Timeout
	for ctx.Err() == nil {
		start := time.Now()
		qctx, cancel := context.WithTimeout(ctx, watchWait+s.opts.Timeout)
		pairs, meta, err := s.kv.List(s.opts.Prefix, (&api.QueryOptions{WaitIndex: index, WaitTime: watchWait}).WithContext(qctx))
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.mu.Lock()
			s.mirrored = false
			s.mu.Unlock()
			logger.Warn("room binding watch failed", "err", err, "retry_in", backoff)
			index = 0
			sleep(ctx, backoff)
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = s.opts.Timeout
		next := meta.LastIndex
		if next < index || next == 0 {
			next = 0 // reset, as Consul's blocking query rules say
		}
		if next != index || !s.isMirrored() {
			s.load(pairs, next)
		} else {
			s.confirm()
		}
		index = next
		if gap := minWatchGap - time.Since(start); gap > 0 {
			sleep(ctx, gap)
		}
	}
}

// watchWait is the blocking query's wait; minWatchGap bounds how often the copy is rebuilt.
const (
	watchWait = 5 * time.Minute
	// A stale copy costs only speed: a miss for a room another replica bound since goes to the
	// create-only check-and-set, which fails and reads the winner. So the copy is refreshed at most
	// once a second, which bounds the listings a busy KV costs Consul and each replica.
	minWatchGap = time.Second
)

// confirm records that the watch heard from Consul and the listing is still complete.
func (s *Store) confirm() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mirrorAt = s.opts.Now()
}

func (s *Store) isMirrored() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mirrored
}

// load takes a listing made at index as the mirror. This replica's own copy stays: entries newer
// than the listing win over it (see fromMirror).
func (s *Store) load(pairs api.KVPairs, index uint64) {
	next := make(map[string]*api.KVPair, len(pairs))
	for _, p := range pairs {
		next[strings.TrimPrefix(p.Key, s.opts.Prefix)] = p
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mirror, s.index, s.mirrored, s.mirrorAt = next, index, true, s.opts.Now()
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
