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
	kv    *api.KV
	opts  Options
	local *localCopy

	mu     sync.Mutex
	downAt time.Time // last Consul failure; zero while Consul answers
	// gone caches the shared gone records this replica has read or written, by node.
	gone map[string]goneRecord
}

var (
	_ rooms.Store     = (*Store)(nil)
	_ rooms.Watcher   = (*Store)(nil)
	_ rooms.Refresher = (*Store)(nil)
	_ rooms.GoneClock = (*Store)(nil)
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
	return &Store{kv: client.KV(), opts: opts, local: newLocalCopy(opts.Prefix, opts.TTL, opts.Now), gone: map[string]goneRecord{}}, nil
}

// remember records the binding in force for a room (or its absence) after Consul answered.
func (s *Store) remember(room string, b rooms.Binding, ok bool) {
	s.mu.Lock()
	s.downAt = time.Time{}
	s.mu.Unlock()
	s.local.remember(room, b, ok)
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
func decode(room string, p *api.KVPair) (rooms.Binding, error) {
	var v value
	if err := json.Unmarshal(p.Value, &v); err != nil || v.Node == "" {
		return rooms.Binding{}, fmt.Errorf("consulrooms: key %q holds no binding: %q", p.Key, p.Value)
	}
	return rooms.Binding{Room: room, Node: v.Node, Version: p.ModifyIndex, LastUsed: time.UnixMilli(v.LastUsed)}, nil
}

func (s *Store) expired(b rooms.Binding) bool { return s.local.expired(b) }

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
	b, derr := decode(room, p)
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

// fromMirror answers Get from the watched copy while the watch is current and Consul has not just
// failed (fresh is false otherwise).
func (s *Store) fromMirror(room string) (b rooms.Binding, ok, fresh bool) {
	if s.down() {
		return rooms.Binding{}, false, false
	}
	return s.local.lookup(room)
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
		if b, ok := s.local.outage(room); ok {
			return b, true, nil
		}
		return rooms.Binding{}, false, err
	}
	if b, ok := s.local.outage(room); ok {
		return b, true, nil
	}
	return rooms.Binding{}, false, storeErr("get", s.key(room), errDown)
}

// GetFresh implements rooms.Refresher: it asks Consul, whatever the watched copy holds; when Consul
// fails it answers like Get does then, from the dated copy.
func (s *Store) GetFresh(ctx context.Context, room string) (rooms.Binding, bool, error) {
	if s.down() {
		if b, ok := s.local.outage(room); ok {
			return b, true, nil
		}
		return rooms.Binding{}, false, storeErr("get", s.key(room), errDown)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	b, ok, err := s.current(ctx, room)
	if err != nil {
		if b, ok := s.local.outage(room); ok {
			return b, true, nil
		}
		return rooms.Binding{}, false, err
	}
	return b, ok, nil
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
		s.local.touch(room)
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
		s.local.touch(room)
		return s.failed(storeErr("touch", key, err))
	}
	return nil
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
	s.local.prune()
	perNode := map[string]int{}
	var errs []error
	for _, p := range pairs {
		room := strings.TrimPrefix(p.Key, s.opts.Prefix)
		if strings.Contains(room, "/") {
			continue // not a binding: the gone records (goneclock.go)
		}
		b, derr := decode(room, p)
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
			s.local.lost()
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
		if next != index || !s.local.current() {
			s.local.load(pairs, next)
		} else {
			s.local.confirm()
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

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
