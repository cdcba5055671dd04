package consulrooms

import (
	"context"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

// TestUnjoinedExpiry: in Consul too, a new binding that is never touched is swept after the
// unjoined TTL, and a touched one lives the full TTL.
func TestUnjoinedExpiry(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	clk := newClock()
	opts := DefaultOptions()
	opts.Now, opts.TTL, opts.Unjoined = clk.Now, 24*time.Hour, 30*time.Minute
	s, err := New(consul.Client(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, room := range []string{"lonely", "meeting"} {
		if _, created, err := s.Bind(ctx, room, "a"); err != nil || !created {
			t.Fatalf("bind %s: %v, %v", room, created, err)
		}
	}
	clk.Advance(time.Minute)
	if err := s.Touch(ctx, "meeting"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(30 * time.Minute)
	perNode, err := s.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if perNode["a"] != 1 {
		t.Errorf("live bindings after the unjoined TTL: %v, want only the touched room", perNode)
	}
	if _, ok, err := s.Get(ctx, "lonely"); ok || err != nil {
		t.Errorf("the untouched room is still bound (%v)", err)
	}
}
