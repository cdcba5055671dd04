package clientrate

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

func TestClient(t *testing.T) {
	proxies, err := ParseProxies([]string{"127.0.0.1/32", "::1", "10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range testenv.Lines(t, "testdata/xff.txt") {
		f := strings.Split(line, " | ")
		if len(f) != 3 {
			t.Fatalf("bad line %q", line)
		}
		r := &http.Request{RemoteAddr: f[0], Header: http.Header{}}
		if f[1] != "-" {
			for _, h := range strings.Split(f[1], ";") {
				r.Header.Add("X-Forwarded-For", h)
			}
		}
		got, ok := proxies.Client(r)
		if f[2] == "-" {
			if ok {
				t.Errorf("%s: client %v limited, want a trusted proxy's own request", line, got)
			}
			continue
		}
		if !ok || got != netip.MustParseAddr(f[2]) {
			t.Errorf("%s: client %v (%v), want %s", line, got, ok, f[2])
		}
	}
	if _, ok := proxies.Client(&http.Request{RemoteAddr: "@unix"}); ok {
		t.Error("a non-IP peer gave a client")
	}
	if _, err := ParseProxies([]string{"10.0.0.0/33"}); err == nil {
		t.Error("bad CIDR accepted")
	}
}

func TestLimiter(t *testing.T) {
	l := New(2, 3, 1000)
	now := time.Unix(1000, 0)
	a := netip.MustParseAddr("198.51.100.7")
	for i := range 3 {
		if ok, _ := l.Allow(a, now); !ok {
			t.Fatalf("burst event %d refused", i)
		}
	}
	ok, wait := l.Allow(a, now)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("4th event: ok=%v wait=%v, want refused for 500ms", ok, wait)
	}
	if ok, _ := l.Allow(netip.MustParseAddr("198.51.100.8"), now); !ok {
		t.Fatal("another client was refused")
	}
	if ok, _ := l.Allow(a, now.Add(500*time.Millisecond)); !ok {
		t.Fatal("refused after the refill")
	}
	// IPv6 clients share a bucket per /64.
	v6a, v6b := netip.MustParseAddr("2001:db8:1:2::1"), netip.MustParseAddr("2001:db8:1:2:ffff::9")
	for range 3 {
		l.Allow(v6a, now)
	}
	if ok, _ := l.Allow(v6b, now); ok {
		t.Error("a second address of the same /64 got a fresh bucket")
	}
}

// TestLimiterBounded replays the review's N3: more active clients than the table holds. The
// table stays bounded, and a new client is never refused for the table being full: it takes the
// place of the least recently seen client, and TableFull counts it.
func TestLimiterBounded(t *testing.T) {
	l := New(1, 5, shards) // one client per shard
	now := time.Unix(1000, 0)
	for i := range 10 * shards {
		a := netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})
		if ok, _ := l.Allow(a, now.Add(time.Duration(i)*time.Millisecond)); !ok {
			t.Fatalf("new client %d refused with a full table", i)
		}
	}
	if n := l.Len(); n > shards {
		t.Errorf("%d clients tracked, want at most %d", n, shards)
	}
	if n := l.TableFull(); n < 9*shards {
		t.Errorf("TableFull = %d, want at least %d", n, 9*shards)
	}
	// A limited client stays limited while the table has room for it.
	l = New(1, 1, 1000)
	a := netip.MustParseAddr("203.0.113.1")
	if ok, _ := l.Allow(a, now); !ok {
		t.Fatal("first event refused")
	}
	if ok, _ := l.Allow(a, now); ok {
		t.Error("second event at once allowed with burst 1")
	}
	if l.TableFull() != 0 {
		t.Errorf("TableFull = %d without a full table", l.TableFull())
	}
	// Buckets that have refilled are dropped first, without counting.
	l = New(1, 1, shards)
	for i := range shards * 4 {
		l.Allow(netip.AddrFrom4([4]byte{198, 51, 0, byte(i)}), now)
	}
	before := l.TableFull()
	for i := range shards * 4 {
		l.Allow(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), now.Add(2*time.Second))
	}
	if got := l.TableFull() - before; got >= shards*4 {
		t.Errorf("TableFull grew by %d although the old buckets had refilled", got)
	}
}

func BenchmarkAllow(b *testing.B) {
	l := New(1e9, 1<<30, 100000)
	now := time.Unix(1000, 0)
	addrs := make([]netip.Addr, 1024)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.Allow(addrs[i&1023], now)
			i++
		}
	})
}

// FuzzClient: any X-Forwarded-For gives a valid address or none, never a panic, and a peer that
// is not a trusted proxy is always the client.
func FuzzClient(f *testing.F) {
	f.Add("127.0.0.1:1", "198.51.100.7")
	f.Add("127.0.0.1:1", "1.2.3.4, ,,garbage, 2001:db8::1")
	f.Add("203.0.113.9:5", "10.0.0.1")
	proxies, _ := ParseProxies([]string{"127.0.0.1/32", "10.0.0.0/8"})
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{"X-Forwarded-For": {xff}}}
		a, ok := proxies.Client(r)
		if ok && !a.IsValid() {
			t.Fatalf("ok with an invalid address for %q %q", remote, xff)
		}
		if ap, err := netip.ParseAddrPort(remote); err == nil && !proxies.trusted(ap.Addr()) && a != ap.Addr().Unmap() {
			t.Fatalf("untrusted peer %s, client %s", remote, a)
		}
	})
}
