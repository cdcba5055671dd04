package rooms

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

func newClock() *testenv.Clock { return testenv.NewClock(time.Date(2026, 3, 23, 9, 0, 0, 0, time.UTC)) }

func newMemory(t *testing.T, ttl time.Duration, c *testenv.Clock) *Memory {
	t.Helper()
	m, err := NewMemory(ttl, 0, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMemory(t *testing.T) {
	ctx := context.Background()
	const ttl = 10 * time.Minute
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, m *Memory, c *testenv.Clock)
	}{
		{"bind is create-only", func(t *testing.T, m *Memory, _ *testenv.Clock) {
			b, created, _ := m.Bind(ctx, "r", "a")
			if !created || b.Node != "a" || b.Version == 0 {
				t.Fatalf("first bind = %+v, %v", b, created)
			}
			b2, created, _ := m.Bind(ctx, "r", "b")
			if created || b2 != b {
				t.Fatalf("second bind = %+v, %v; want the first binding %+v", b2, created, b)
			}
		}},
		{"idle binding expires", func(t *testing.T, m *Memory, c *testenv.Clock) {
			m.Bind(ctx, "r", "a")
			c.Advance(ttl - time.Second)
			if _, ok, _ := m.Get(ctx, "r"); !ok {
				t.Fatal("expired before the TTL")
			}
			c.Advance(time.Second)
			if _, ok, _ := m.Get(ctx, "r"); ok {
				t.Fatal("still bound after the TTL")
			}
			if _, created, _ := m.Bind(ctx, "r", "b"); !created {
				t.Fatal("an expired room could not be bound again")
			}
		}},
		{"touch postpones expiry", func(t *testing.T, m *Memory, c *testenv.Clock) {
			m.Bind(ctx, "r", "a")
			for range 5 {
				c.Advance(ttl / 2)
				if err := m.Touch(ctx, "r"); err != nil {
					t.Fatal(err)
				}
			}
			if b, ok, _ := m.Get(ctx, "r"); !ok || b.Node != "a" || !b.LastUsed.Equal(c.Now()) {
				t.Fatalf("touched binding = %+v, %v", b, ok)
			}
			if err := m.Touch(ctx, "unbound"); err != nil {
				t.Fatal(err)
			}
		}},
		{"rebind is compare-and-swap", func(t *testing.T, m *Memory, _ *testenv.Clock) {
			old, _, _ := m.Bind(ctx, "r", "a")
			moved, ok, _ := m.Rebind(ctx, old, "b")
			if !ok || moved.Node != "b" || moved.Version == old.Version {
				t.Fatalf("rebind = %+v, %v", moved, ok)
			}
			// A second writer still holding the old version loses and learns the winner.
			cur, ok, _ := m.Rebind(ctx, old, "c")
			if ok || cur != moved {
				t.Fatalf("stale rebind = %+v, %v; want %+v", cur, ok, moved)
			}
		}},
		{"rebind of an expired binding binds", func(t *testing.T, m *Memory, c *testenv.Clock) {
			old, _, _ := m.Bind(ctx, "r", "a")
			c.Advance(ttl)
			if b, ok, _ := m.Rebind(ctx, old, "b"); !ok || b.Node != "b" {
				t.Fatalf("rebind = %+v, %v", b, ok)
			}
		}},
		{"delete", func(t *testing.T, m *Memory, _ *testenv.Clock) {
			m.Bind(ctx, "r", "a")
			if err := m.Delete(ctx, "r"); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := m.Get(ctx, "r"); ok {
				t.Fatal("bound after delete")
			}
		}},
		{"expired rooms nobody asks for are swept", func(t *testing.T, m *Memory, c *testenv.Clock) {
			for day := range 10 {
				for i := range 3000 {
					m.Bind(ctx, fmt.Sprintf("d%d-r%d", day, i), "a")
				}
				c.Advance(ttl)
			}
			// One day's rooms are live at a time; the map may hold up to twice that before a sweep.
			if m.Len() > 2*3000+minSweep {
				t.Fatalf("%d bindings held for 3000 live rooms", m.Len())
			}
			if got := m.Counts()["a"]; got != m.Len() {
				t.Fatalf("count %d for %d bindings held", got, m.Len())
			}
			if got, _ := m.Sweep(context.Background()); len(got) != 0 || m.Len() != 0 {
				t.Fatalf("after a sweep past every TTL: counts %v, %d bindings held", got, m.Len())
			}
		}},
		{"counts follow binds, rebinds, expiry and deletes", func(t *testing.T, m *Memory, c *testenv.Clock) {
			want := func(sweep bool, w map[string]int) {
				t.Helper()
				got := m.Counts()
				if sweep {
					got, _ = m.Sweep(context.Background())
				}
				if !maps.Equal(got, w) {
					t.Fatalf("counts = %v, want %v", got, w)
				}
			}
			ra, _, _ := m.Bind(ctx, "r1", "a")
			m.Bind(ctx, "r2", "a")
			m.Bind(ctx, "r3", "b")
			m.Bind(ctx, "r3", "a") // already bound: no change
			want(false, map[string]int{"a": 2, "b": 1})
			m.Rebind(ctx, ra, "b")
			want(false, map[string]int{"a": 1, "b": 2})
			_ = m.Delete(ctx, "r3")
			_ = m.Delete(ctx, "unbound")
			want(false, map[string]int{"a": 1, "b": 1})
			c.Advance(ttl / 2)
			_ = m.Touch(ctx, "r2")
			c.Advance(ttl / 2)
			want(true, map[string]int{"a": 1}) // r1 (on b) expired, r2 was touched
			c.Advance(ttl)
			m.Bind(ctx, "r2", "b") // expired on a, bound again on b
			want(false, map[string]int{"b": 1})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			tc.run(t, newMemory(t, ttl, c), c)
		})
	}
	if _, err := NewMemory(0, 0, time.Now); err == nil {
		t.Fatal("zero TTL accepted")
	}
}
