package selector

import (
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/selector/catalog"
	"github.com/ensemble-jitsi/ensemble/selector/load"
	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

// BenchmarkPublishView measures the rebuild after a catalog change or a load poll: joining the catalog
// with the load samples and building the placement snapshot. It reports the heap the view holds.
func BenchmarkPublishView(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s, _ := inProcess(b)
			cat := &catalog.Snapshot{Index: 1}
			samples := map[string]load.Sample{}
			now := time.Now()
			for i := range n {
				id := fmt.Sprintf("node-%05d", i)
				cat.Nodes = append(cat.Nodes, catalog.Node{ID: id, PublicURL: "https://" + id + ".example.org", State: placement.Eligible, Capacity: 8})
				samples[id] = load.Sample{CPU: float64(i%90) / 100, Stress: 0.1, Endpoints: 20, At: now}
			}
			s.loaded.Store(&loadState{samples: samples})
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			s.publish(cat)
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportAllocs()
			for b.Loop() {
				s.publish(cat)
			}
			b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "view-MiB")
		})
	}
}

// BenchmarkRoomHandler measures GET /api/v1/rooms/{room} in process (room shortcut, middleware, binding,
// placement, JSON), cycling through 100,000 room names (the first pass binds them, later ones find them).
//
// "selector" runs with the room rate limit on (a rate no request reaches, so every request is
// served; requests come through a trusted proxy with one of 1,024 client addresses), and
// "limit-off" without it: their ratio is the limiter's cost.
func BenchmarkRoomHandler(b *testing.B) {
	s, _ := inProcessWith(b, func(o *Options) { o.LimitsRoomRate, o.LimitsRoomBurst = 1e9, 1e9 })
	b.Run("selector", func(b *testing.B) { benchHandler(b, s.handler()) })
	off, _ := inProcessWith(b, func(o *Options) { o.LimitsRoomRate = 0 })
	b.Run("limit-off", func(b *testing.B) { benchHandler(b, off.handler()) })
	// The baseline: the same requests answered by a bare handler with a fixed room JSON.
	body := []byte(`{"room":"room-1","node":"a","url":"https://a.example.org/room-1"}` + "\n")
	b.Run("bare", func(b *testing.B) {
		benchHandler(b, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = w.Write(body)
		}))
	})
}

func benchHandler(b *testing.B, h http.Handler) {
	// Requests are built once, small (httptest.NewRequest would keep a 4 KiB reader per request alive and
	// make the benchmark measure the garbage collector): the handlers do not modify them.
	reqs := make([]*http.Request, 100000)
	for i := range reqs {
		path := fmt.Sprintf("/api/v1/rooms/room-%d", i)
		reqs[i] = &http.Request{Method: http.MethodGet, URL: &url.URL{Path: path}, RequestURI: path, Host: "selector",
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, RemoteAddr: "127.0.0.1:40000",
			Header: http.Header{"X-Forwarded-For": {fmt.Sprintf("198.51.%d.%d", i>>8&3, i&255)}}}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		i := 0
		for pb.Next() {
			i = (i + 7919) % len(reqs)
			clear(w.h)
			h.ServeHTTP(w, reqs[i])
			if w.code != 0 && w.code != http.StatusOK {
				b.Fatalf("status %d", w.code)
			}
		}
	})
}

type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }
