package jvb

import (
	"errors"
	"testing"

	"github.com/ensemble-jitsi/ensemble/internal/lab/jvbemu"
)

func TestClientDrainAndShutdown(t *testing.T) {
	emu, url := startEmulator(t, jvbemu.Options{})
	c := NewClient(url+"/", nil) // a trailing slash must not matter
	emu.StartConference(3)

	for _, on := range []bool{true, false} {
		if err := c.Drain(t.Context(), on); err != nil {
			t.Fatalf("Drain(%v): %v", on, err)
		}
		got, err := c.Draining(t.Context())
		if err != nil || got != on {
			t.Fatalf("Draining() = %v, %v; want %v", got, err, on)
		}
		s, err := c.Stats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := s.Bool("drain"); !ok || v != on {
			t.Errorf("stats drain = %v, %v; want %v", v, ok, on)
		}
	}

	if err := c.GracefulShutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	s, err := c.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Bool("graceful_shutdown"); !v {
		t.Error("graceful_shutdown not set after GracefulShutdown")
	}
	if n, ok := s.LocalEndpoints(); !ok || n != 3 {
		t.Errorf("LocalEndpoints() = %v, %v; want 3 (the conference keeps running)", n, ok)
	}
}

func TestClientDisabledAPIs(t *testing.T) {
	emu, url := startEmulator(t, jvbemu.Options{ShutdownDisabled: true})
	c := NewClient(url, nil)
	if err := c.GracefulShutdown(t.Context()); !errors.Is(err, ErrShutdownDisabled) {
		t.Errorf("GracefulShutdown with the API off: err = %v, want ErrShutdownDisabled", err)
	}
	emu.SetFault(jvbemu.RESTDisabled)
	if _, err := c.Stats(t.Context()); !errors.Is(err, ErrRESTDisabled) {
		t.Errorf("Stats with REST off: err = %v, want ErrRESTDisabled", err)
	}
	if err := c.Drain(t.Context(), true); !errors.Is(err, ErrRESTDisabled) {
		t.Errorf("Drain with REST off: err = %v, want ErrRESTDisabled", err)
	}
	// /about/* stays up when REST is off.
	if err := c.Health(t.Context()); err != nil {
		t.Errorf("Health with REST off: %v", err)
	}
	emu.SetFault(jvbemu.None)
	emu.SetHealth(503, "No health checks performed recently")
	var u *UnhealthyError
	if err := c.Health(t.Context()); !errors.As(err, &u) || u.Health.Code != 503 || u.Health.Message != "No health checks performed recently" {
		t.Errorf("Health() = %v, want UnhealthyError 503", err)
	}
}
