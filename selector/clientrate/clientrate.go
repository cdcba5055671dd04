// Package clientrate limits how often each client may do something expensive (create a room
// binding): one token bucket per client address, in a bounded table. It also finds the client's
// address behind trusted reverse proxies.
package clientrate

import (
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// shards spreads the table over this many locks so that concurrent requests rarely contend.
const shards = 32

// Limiter is a token bucket per client. It is safe for concurrent use.
type Limiter struct {
	rate, burst float64
	maxPerShard int
	shards      [shards]shard
	// full counts new clients that found their shard full of active clients.
	full atomic.Uint64
}

type shard struct {
	mu      sync.Mutex
	buckets map[netip.Addr]bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a limiter allowing each client rate events per second with bursts of burst,
// tracking at most maxClients clients, so an attacker with many addresses cannot grow the table
// without bound. A new client that finds the table full of active clients takes the place of
// the least recently seen one (counted by TableFull): refusing it instead would let whoever
// fills the table lock every new user out. The evicted client starts afresh when it returns.
func New(rate float64, burst, maxClients int) *Limiter {
	l := &Limiter{rate: rate, burst: float64(burst), maxPerShard: max(maxClients/shards, 1)}
	for i := range l.shards {
		l.shards[i].buckets = map[netip.Addr]bucket{}
	}
	return l
}

// Key returns the address a client is limited under: IPv4 addresses as they are, IPv6 ones by
// their /64, since one subscriber usually holds a whole /64.
func Key(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// Allow takes a token for client at now. When none is left it returns false and how long until
// the next one.
func (l *Limiter) Allow(client netip.Addr, now time.Time) (bool, time.Duration) {
	client = Key(client)
	sh := &l.shards[shardOf(client)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b, ok := sh.buckets[client]
	if !ok {
		if len(sh.buckets) >= l.maxPerShard {
			l.evict(sh, now)
		}
		b = bucket{tokens: l.burst, last: now}
	}
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(l.burst, b.tokens+dt*l.rate)
	}
	b.last = now
	if b.tokens < 1 {
		sh.buckets[client] = b
		return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	}
	b.tokens--
	sh.buckets[client] = b
	return true, 0
}

// evict drops the buckets that have refilled (their clients are idle: forgetting them changes
// nothing) and, when none has, the least recently seen one. sh.mu is held.
func (l *Limiter) evict(sh *shard, now time.Time) {
	full := time.Duration((l.burst / l.rate) * float64(time.Second))
	var (
		oldest netip.Addr
		seen   time.Time
	)
	for k, b := range sh.buckets {
		switch {
		case now.Sub(b.last) >= full:
			delete(sh.buckets, k)
		case !oldest.IsValid() || b.last.Before(seen):
			oldest, seen = k, b.last
		}
	}
	if len(sh.buckets) >= l.maxPerShard && oldest.IsValid() {
		delete(sh.buckets, oldest)
		l.full.Add(1)
	}
}

// TableFull returns how many new clients found the table full of active clients and took the
// place of the least recently seen one.
func (l *Limiter) TableFull() uint64 { return l.full.Load() }

// Len returns how many clients are tracked.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		l.shards[i].mu.Lock()
		n += len(l.shards[i].buckets)
		l.shards[i].mu.Unlock()
	}
	return n
}

func shardOf(a netip.Addr) int {
	b := a.As16()
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return int(h % shards)
}

// Proxies are the reverse proxies whose X-Forwarded-For is believed.
type Proxies []netip.Prefix

// ParseProxies parses CIDRs or single addresses.
func ParseProxies(entries []string) (Proxies, error) {
	var p Proxies
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if !strings.Contains(e, "/") {
			a, err := netip.ParseAddr(e)
			if err != nil {
				return nil, err
			}
			p = append(p, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		pf, err := netip.ParsePrefix(e)
		if err != nil {
			return nil, err
		}
		p = append(p, pf.Masked())
	}
	return p, nil
}

func (p Proxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, pf := range p {
		if pf.Contains(a) {
			return true
		}
	}
	return false
}

// Client returns the address of the client of r: the connection's peer, or, when that peer is a
// trusted proxy, the rightmost address in X-Forwarded-For that is not a trusted proxy (the
// entries left of it are whatever the client sent, and cannot be believed). ok is false when no
// address can be found, and for a trusted proxy's own requests (no X-Forwarded-For): those come
// from the host's tooling (health checks, benchmarks), never from a user behind the proxy,
// which always adds the header.
func (p Proxies) Client(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	client := ap.Addr().Unmap()
	if len(p) == 0 || !p.trusted(client) {
		return client, true
	}
	xff := r.Header.Values("X-Forwarded-For")
	if len(xff) == 0 {
		return client, false
	}
	for i := len(xff) - 1; i >= 0; i-- {
		hops := xff[i]
		for hops != "" {
			j := strings.LastIndexByte(hops, ',')
			hop := strings.TrimSpace(hops[j+1:])
			hops = hops[:max(j, 0)]
			a, err := netip.ParseAddr(hop)
			if err != nil {
				return client, true // garbage: keep the last trusted hop
			}
			client = a.Unmap()
			if !p.trusted(client) {
				return client, true
			}
		}
	}
	return client, true
}
