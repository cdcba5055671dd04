package consulrooms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"
)

// goneFolder holds one record per node under the prefix: the spell of being gone it was last seen
// in and when the first replica saw that spell begin (rooms.GoneClock). Room names hold no '.', so
// no room's key can collide with it, and the selector's ACL policy on the prefix covers it.
const goneFolder = ".gone/"

// goneRecord is a gone record's value.
type goneRecord struct {
	Spell uint64 `json:"spell"`
	Since int64  `json:"since_unix_ms"`
}

func (r goneRecord) since() time.Time { return time.UnixMilli(r.Since) }

// GoneSince implements rooms.GoneClock. The record of a node is written with a check-and-set, so
// of two replicas that see a spell begin, the first to write sets its time and the other reads it;
// a later spell replaces it (a node that came back and went again starts a new hold); a replica
// whose view is behind (an earlier spell) gets the later spell's time, which only holds longer.
// Known spells are cached until Back: a spell's time never changes once written.
func (s *Store) GoneSince(ctx context.Context, node string, spell uint64, seen time.Time) (time.Time, error) {
	if spell == 0 {
		return time.Time{}, errors.New("consulrooms: gone since: spell 0")
	}
	s.mu.Lock()
	r, ok := s.gone[node]
	s.mu.Unlock()
	if ok && r.Spell >= spell {
		return r.since(), nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	key := s.opts.Prefix + goneFolder + node
	for range casAttempts {
		p, _, err := s.kv.Get(key, (&api.QueryOptions{}).WithContext(ctx))
		if err != nil {
			return time.Time{}, storeErr("get gone record", key, err)
		}
		var index uint64
		if p != nil {
			index = p.ModifyIndex
			if json.Unmarshal(p.Value, &r) == nil && r.Spell >= spell {
				return s.learn(node, r), nil
			}
		}
		r = goneRecord{Spell: spell, Since: seen.UnixMilli()}
		v, _ := json.Marshal(r) // cannot fail: two integers
		ok, _, err := s.kv.CAS(&api.KVPair{Key: key, Value: v, ModifyIndex: index}, (&api.WriteOptions{}).WithContext(ctx))
		if err != nil {
			return time.Time{}, storeErr("write gone record", key, err)
		}
		if ok {
			return s.learn(node, r), nil
		}
		// Another replica wrote it meanwhile: read its record.
	}
	return time.Time{}, storeErr("write gone record", key, fmt.Errorf("record kept changing"))
}

// learn caches r for node and returns its time.
func (s *Store) learn(node string, r goneRecord) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.gone[node]; !ok || r.Spell > old.Spell {
		s.gone[node] = r
	}
	return r.since()
}

// Back implements rooms.GoneClock: the first lookup that finds node live after this replica
// learned its record removes it (check-and-set on the spell it knew, so a later spell written
// meanwhile stays). Nothing to remove costs a map lookup. A failed delete only leaves the record:
// a replica that still sees the ended spell then moves at its time, as before the node came back.
func (s *Store) Back(ctx context.Context, node string) {
	s.mu.Lock()
	r, ok := s.gone[node]
	delete(s.gone, node)
	s.mu.Unlock()
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	key := s.opts.Prefix + goneFolder + node
	p, _, err := s.kv.Get(key, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil || p == nil {
		return
	}
	var cur goneRecord
	if json.Unmarshal(p.Value, &cur) == nil && cur.Spell > r.Spell {
		return
	}
	_, _, _ = s.kv.DeleteCAS(&api.KVPair{Key: key, ModifyIndex: p.ModifyIndex}, (&api.WriteOptions{}).WithContext(ctx))
}
